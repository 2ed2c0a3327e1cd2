"""The prediction log's index: one row per Parquet object of logged predictions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Double, Index, Integer, String, Table

from monoloop.store.schema import metadata

prediction_files = Table(
    "prediction_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(100), nullable=False),
    # The UTC hour its predictions were made in, "2026-11-30T14": the partition key.
    Column("hour", String(13), nullable=False),
    Column("object_id", String(67), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("first_time", Double, nullable=False),
    Column("last_time", Double, nullable=False),
    Column("created", Double, nullable=False),
    Index(None, "deployment", "hour", "id"),
    Index(None, "deployment", "last_time"),
)
