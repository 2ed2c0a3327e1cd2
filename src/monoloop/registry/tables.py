"""Registry tables: models, their versions, the aliases on them, alias history, gate checks.

A version's bulky parts (the model bytes, its reference profile, its card, its holdout set,
its ONNX companion) are objects in the store; the rows hold their ids and the small facts
queries need.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from monoloop.store.schema import metadata

NAME_LEN = 100
OBJECT_ID_LEN = 67

models = Table(
    "models",
    metadata,
    Column("name", String(NAME_LEN), primary_key=True),
    Column("created", Double, nullable=False),
    Column("description", Text, nullable=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model", String(NAME_LEN), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created", Double, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("format", String(16), nullable=False),
    Column("flavor", String(100), nullable=True),
    Column("object_id", String(OBJECT_ID_LEN), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("trusted_by", String(320), nullable=True),
    Column("run_id", String(32), nullable=True, index=True),
    Column("git_commit", String(64), nullable=True),
    Column("task", String(16), nullable=True),
    Column("target", String(250), nullable=True),
    # JSON documents: small, read whole, never queried inside.
    Column("signature", Text, nullable=True),
    Column("metrics", Text, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("importance", Text, nullable=True),
    Column("card_fields", Text, nullable=False),
    Column("profile_id", String(OBJECT_ID_LEN), nullable=True),
    Column("holdout_id", String(OBJECT_ID_LEN), nullable=True),
    Column("card_id", String(OBJECT_ID_LEN), nullable=False),
    # The ONNX graph verified against the model at registration (registry/companion.py),
    # and the note of that check (JSON; also why there is none).
    Column("companion_id", String(OBJECT_ID_LEN), nullable=True),
    Column("companion", Text, nullable=True),
    ForeignKeyConstraint(["model"], ["models.name"], ondelete="CASCADE"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model", String(NAME_LEN), primary_key=True),
    Column("alias", String(NAME_LEN), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated", Double, nullable=False),
    ForeignKeyConstraint(["model", "version"], ["model_versions.model", "model_versions.version"]),
)

# Every move of an alias, in order: rollback reads the previous holder from here.
alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME_LEN), nullable=False),
    Column("alias", String(NAME_LEN), nullable=False),
    Column("version", Integer, nullable=True),
    Column("previous", Integer, nullable=True),
    Column("time", Double, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("forced", Boolean, nullable=False),
    Index(None, "model", "alias", "id"),
)

model_checks = Table(
    "model_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("time", Double, nullable=False),
    Column("against", String(NAME_LEN), nullable=True),
    Column("passed", Boolean, nullable=False),
    Column("results", Text, nullable=False),
    Index(None, "model", "version", "id"),
)
