"""Bring a metadata DB to the current schema, once, under a lock.

Opening an up-to-date DB costs one query and never imports Alembic; only a DB
that is behind takes the migration lock and runs the migrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, exc, text

from monoloop.errors import ConfigError
from monoloop.store.revisions import MIGRATIONS_DIR, SCHEMA_HEAD

__all__ = ["MIGRATIONS_DIR", "SCHEMA_HEAD", "alembic_config", "current_revision", "ensure_migrated"]

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from monoloop.store.db import Database


def current_revision(conn: Connection) -> str | None:
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except exc.DBAPIError:
        conn.rollback()
        return None


def alembic_config(conn: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def ensure_migrated(db: Database) -> None:
    with db.engine.connect() as conn:
        if current_revision(conn) == SCHEMA_HEAD:
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    from monoloop.store.db import migration_lock

    with migration_lock(db) as conn:
        cfg = alembic_config(conn)
        found = current_revision(conn)
        known = {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}
        if found is not None and found not in known:
            raise ConfigError(
                f"the database {db.url} is at schema revision {found!r}, "
                "which this version of monoloop does not know",
                hint="upgrade monoloop (pip install -U monoloop) to the version that wrote it",
            )
        if found != SCHEMA_HEAD:
            command.upgrade(cfg, "head")
            conn.commit()
