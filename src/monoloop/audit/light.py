"""Appending audit events to a SQLite metadata DB with the stdlib driver, without SQLAlchemy.

The data commands take a fraction of a second, and importing SQLAlchemy alone takes 0.2 s.
So when the metadata DB is a plain local SQLite file already at the current schema, their
events are appended here, by the rules of `audit.service.append_events`: one transaction
that holds the write lock from its start (BEGIN IMMEDIATE), the head row read inside it,
each event chained by `ledger.chain`, the head moved, and a commit that syncs the WAL
(synchronous=FULL) so a committed event survives power loss. The connection is set up as
`store.db` sets up its own.

`append` returns False, having changed nothing, for anything else (PostgreSQL, a URL with
options, a missing DB, an older schema, an event the full path would refuse): the caller
then goes through the Workspace, which migrates, validates and explains.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monoloop.root import default_db_url
from monoloop.store.revisions import SCHEMA_HEAD

# The limits audit.service enforces (a test keeps them equal); beyond them, the full path
# raises its error.
MAX_KIND = 100
MAX_SUBJECT = 500
BUSY_TIMEOUT_S = 30.0
PREFIX = "sqlite:///"

Item = tuple[str, str, dict[str, Any]]  # kind, subject, payload


def sqlite_file(url: str) -> Path | None:
    """The file a plain `sqlite:///PATH` URL names; None for every other URL."""
    if not url.startswith(PREFIX) or any(c in url for c in "?%#"):
        return None
    path = url[len(PREFIX) :]
    if path in ("", ":memory:"):
        return None
    return Path(path)


def append(url: str, *, actor: str, items: Sequence[Item]) -> bool:
    """Append `items` in one transaction; False (nothing written) when this path cannot."""
    path = sqlite_file(url)
    if path is None or not items:
        return False
    if any(
        not kind or len(kind) > MAX_KIND or len(subject) > MAX_SUBJECT for kind, subject, _ in items
    ):
        return False
    try:
        # mode=rw: never create a DB here (the full path creates and migrates it).
        conn = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
        )
    except sqlite3.OperationalError:
        return False
    try:
        _configure(conn)
        try:
            version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return False
        if version is None or version[0] != SCHEMA_HEAD:
            return False
        conn.execute("BEGIN IMMEDIATE")
        try:
            _append_locked(conn, actor, items)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    return True


def _configure(conn: sqlite3.Connection) -> None:
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:  # as store.db: changing the journal mode does not wait on the busy timeout
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")


def _append_locked(conn: sqlite3.Connection, actor: str, items: Sequence[Item]) -> None:
    # Imported here: `data status` imports this module but records nothing, and the
    # ledger (dataclasses, datetime) is a few ms of its start-up.
    from monoloop.ledger import chain, now

    seq, prev = conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1").fetchone()
    rows = chain(seq, prev, time=now(), actor=actor, items=items)
    conn.executemany(
        "INSERT INTO events (seq, time, actor, kind, subject, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    last = rows[-1]
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (last[0], last[7]))


def url_for(root: Path, configured: str | None, env: Mapping[str, str]) -> str:
    """The metadata DB URL as the Workspace resolves it: MONOLOOP_DB_URL, monoloop.yaml, default."""
    return env.get("MONOLOOP_DB_URL") or configured or default_db_url(root)
