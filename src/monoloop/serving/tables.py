"""What serving processes report about themselves: one row per process and deployment
(`serving_instances`), and its request counters (`serving_counts`) per UTC minute and,
rolled up from those, per UTC hour.

Each process writes only its own rows, so replicas never contend for a row: a
deployment's traffic is the sum over its instances. See serving/minutes.py (writing) and
serving/traffic.py (reading).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from monoloop.store.schema import metadata

MINUTE = 60
HOUR = 3600

# A serving process (host, pid, start time) serving one deployment.
serving_instances = Table(
    "serving_instances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(100), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", Double, nullable=False),
    Column("last_seen", Double, nullable=False),  # its latest write (counters or heartbeat)
    Column("stopped", Double, nullable=True),  # set by a graceful shutdown
    Index(None, "last_seen"),
)

# One instance's predict requests in one minute or hour, per role and version.
serving_counts = Table(
    "serving_counts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "instance",
        Integer,
        ForeignKey("serving_instances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("deployment", String(100), nullable=False),  # the instance's, for the window query
    Column("span", Integer, nullable=False),  # MINUTE, or HOUR: the sum of its minutes
    Column("start", BigInteger, nullable=False),  # epoch seconds, a multiple of span (UTC)
    # primary or canary; "" for requests refused before a role was chosen (415, 413, 400)
    Column("role", String(16), nullable=False),
    Column("model", String(100), nullable=False),  # "" with role ""
    Column("version", Integer, nullable=False),  # the version that answered; 0 if none had
    Column("requests", Integer, nullable=False),
    Column("errors_4xx", Integer, nullable=False),
    Column("errors_5xx", Integer, nullable=False),
    Column("latency_sum_ms", Double, nullable=False),  # of the answered (200) requests
    Column("latency", Text, nullable=False),  # JSON histogram of those (serving/histogram.py)
    UniqueConstraint("instance", "span", "start", "role", "model", "version"),
    Index(None, "deployment", "span", "start"),
)
