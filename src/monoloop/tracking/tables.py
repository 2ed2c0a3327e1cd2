"""Tracking tables: runs, their params, tags, stepped metrics, latest metrics, artifacts, I/O.

Indexes follow the queries: the filter language probes `(key, value, run_id)` on params,
tags and latest metrics, so a filter or an ordering on one key reads one index range.
On SQLite the tables keyed by run are clustered on their primary key (WITHOUT ROWID), so a
lookup by run reads one B-tree instead of an index and then the table; run ids start with
the clock (see `model.new_run_id`), so the runs of one flush land side by side in each.
`runs` itself keeps its rowid, so its secondary indexes stay small and append-mostly.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
)

from monoloop.store.schema import metadata

ID_LEN = 32
KEY_LEN = 250
VALUE_LEN = 500
OBJECT_ID_LEN = 67


def _run_fk() -> Column[str]:
    return Column(
        "run_id",
        String(ID_LEN),
        ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
    )


runs = Table(
    "runs",
    metadata,
    Column("id", String(ID_LEN), primary_key=True, autoincrement=False),
    Column("name", String(KEY_LEN), nullable=True, index=True),
    Column("pipeline", String(KEY_LEN), nullable=True),
    Column("stage", String(KEY_LEN), nullable=True),
    Column("status", String(16), nullable=False, index=True),
    Column("start_time", Double, nullable=False, index=True),
    Column("end_time", Double, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("python", String(64), nullable=True),
    Column("packages_hash", String(OBJECT_ID_LEN), nullable=True),
    Column("actor", String(320), nullable=True),
    Column("log_id", String(OBJECT_ID_LEN), nullable=True),
    Column("error", Text, nullable=True),
    Index(None, "pipeline", "stage"),
)

# Each param is kept as text and, when it is a number, as a number too. One index serves
# both: `params.lr = 0.1` reads (key, num) and `params.model = "rf"` reads (key, num IS
# NULL, text). `kind` restores the type: s = string, n = number, j = any other JSON value.
run_params = Table(
    "run_params",
    metadata,
    _run_fk(),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("kind", String(1), nullable=False),
    Column("text", String(VALUE_LEN), nullable=False),
    Column("num", Double, nullable=True),
    Index(None, "key", "num", "text", "run_id"),
    sqlite_with_rowid=False,
)

run_tags = Table(
    "run_tags",
    metadata,
    _run_fk(),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", String(VALUE_LEN), nullable=False),
    Index(None, "key", "value", "run_id"),
    sqlite_with_rowid=False,
)

# Every logged point; one value per (run, key, step), the last write wins: a history is one
# contiguous range of the primary key. NaN is stored as NULL (SQLite has no NaN).
metric_history = Table(
    "metric_history",
    metadata,
    _run_fk(),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Double, nullable=True),
    Column("timestamp", Double, nullable=False),
    sqlite_with_rowid=False,
)

# The point at the highest step of each (run, key): what filters and orderings compare.
metric_latest = Table(
    "metric_latest",
    metadata,
    _run_fk(),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    Column("timestamp", Double, nullable=False),
    Index(None, "key", "value", "run_id"),
    sqlite_with_rowid=False,
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    _run_fk(),
    Column("name", String(VALUE_LEN), primary_key=True),
    Column("object_id", String(OBJECT_ID_LEN), nullable=False, index=True),
    Column("kind", String(4), nullable=False),
    sqlite_with_rowid=False,
)

# Inputs and outputs by content id, indexed by id: "which runs read or wrote this data?".
run_io = Table(
    "run_io",
    metadata,
    _run_fk(),
    Column("direction", String(3), primary_key=True),
    Column("path", String(VALUE_LEN), primary_key=True),
    Column("object_id", String(OBJECT_ID_LEN), nullable=False, index=True),
    sqlite_with_rowid=False,
)
