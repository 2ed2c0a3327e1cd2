"""The machine-local index (`.monoloop/statcache.db`): stdlib sqlite3, quick to import.

It holds facts about this machine only (file stats, what a remote was seen to hold), so
it never goes into the shared metadata DB; losing it costs a re-hash or a re-check.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

FILE = "statcache.db"


def connect(state_dir: Path, schema: str) -> sqlite3.Connection:
    state_dir.mkdir(exist_ok=True)
    conn = sqlite3.connect(state_dir / FILE, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # A lost update only costs a re-hash or a re-check: no need to sync every write.
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(schema)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
