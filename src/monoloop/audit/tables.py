"""The audit ledger's tables: the append-only event chain and its head."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from monoloop.store.schema import metadata

# No index on hash or prev_hash: the chain is read in seq order, and the primary key on seq
# (with the head row's lock) is what keeps two events from linking to one head.
events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", String(32), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("kind", String(100), nullable=False, index=True),
    Column("subject", String(500), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id = 1): the latest seq and hash. Appenders lock it, so the chain never forks.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
