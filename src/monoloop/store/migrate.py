"""Bring a metadata DB to the current schema, once, under a lock.

Opening an up-to-date DB costs one query and never imports Alembic; only a DB
that is behind takes the migration lock and runs the migrations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, exc, text

from monoloop.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from monoloop.store.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _newest_revision() -> str:
    """Revisions are numbered files (`0002_tracking_runs.py` is revision "0002"), so the
    newest is known without importing Alembic; a test checks Alembic agrees."""
    numbers = [
        name.split("_", 1)[0]
        for name in os.listdir(MIGRATIONS_DIR / "versions")
        if name.endswith(".py") and name[:4].isdigit()
    ]
    return max(numbers)


SCHEMA_HEAD = _newest_revision()


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
