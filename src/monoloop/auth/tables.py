"""The auth table: API tokens, stored as a hash of the token, never the token itself."""

from __future__ import annotations

from sqlalchemy import Column, Double, String, Table

from monoloop.store.schema import metadata

TOKEN_ID_LEN = 16
NAME_LEN = 100

api_tokens = Table(
    "api_tokens",
    metadata,
    # The public part of a token (`mlt_<id>_<secret>`): finds the row without the secret.
    Column("id", String(TOKEN_ID_LEN), primary_key=True, autoincrement=False),
    # The ledger actor for everything done with the token; unique among active tokens.
    Column("name", String(NAME_LEN), nullable=False, index=True),
    Column("scope", String(16), nullable=False),
    Column("project", String(NAME_LEN), nullable=True),
    # SHA-256 of the whole token, hex: enough for 256 random bits (no guessing to slow down).
    Column("hash", String(64), nullable=False),
    Column("created", Double, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("expires", Double, nullable=True),
    Column("last_used", Double, nullable=True),
    Column("revoked", Double, nullable=True),
    Column("revoked_by", String(320), nullable=True),
)
