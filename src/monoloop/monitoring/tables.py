"""Monitoring's tables: ground-truth labels of logged predictions, and every monitor result.

A result row is kept for every check of every run (ok, fired, skipped or error), so the
history of a deployment can be charted and a retraining decision can name the result
that triggered it.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, Index, Integer, String, Table, Text, UniqueConstraint

from monoloop.store.schema import metadata

DEPLOYMENT_LEN = 100
REQUEST_ID_LEN = 200

prediction_labels = Table(
    "prediction_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(DEPLOYMENT_LEN), nullable=False),
    Column("request_id", String(REQUEST_ID_LEN), nullable=False),
    # The true value as JSON (a class label or a number): labels come as text, integers or
    # floats, and the join with predictions needs the type back.
    Column("label", Text, nullable=False),
    Column("time", Double, nullable=False),  # when it was attached (the last time, if replaced)
    UniqueConstraint("deployment", "request_id"),
)

monitor_results = Table(
    "monitor_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(DEPLOYMENT_LEN), nullable=False),
    Column("monitor", String(32), nullable=False),  # drift | decay | importance
    Column("role", String(16), nullable=False),  # the rows judged: primary or canary
    Column("time", Double, nullable=False),
    Column("window_info", Text, nullable=False),  # JSON: what was asked and what was read
    Column("rows", Integer, nullable=False),
    Column("model", String(100), nullable=True),
    Column("version", Integer, nullable=True),
    Column("statistics", Text, nullable=False),  # JSON
    Column("verdict", String(16), nullable=False),  # ok | fired | skipped | error
    Column("summary", Text, nullable=False),
    Column("alert", String(16), nullable=True),  # null | sent | failed | logged
    Index(None, "deployment", "monitor", "id"),
)
