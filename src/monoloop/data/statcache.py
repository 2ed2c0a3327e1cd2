"""The stat cache: (size, mtime, ctime, inode) -> content id; unchanged files are never re-read.

It lives in `.monoloop/statcache.db` (stdlib sqlite3: quick to import, transactional,
safe with concurrent commands). It is local by nature: inode numbers and mtimes mean
nothing on another machine, so it never goes into the shared metadata DB.

Racy files: a file modified in the same clock tick as it was hashed could keep the
same stat. So the cache reads a clock from the file system before hashing, and only
remembers files whose mtime is safely older than that clock; younger files are
re-hashed next time and remembered then.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from monoloop.data import localdb

# Larger than any file system's timestamp tick (ext4 and xfs tick at 1-10 ms).
RACY_MARGIN_NS = 50_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dirs (
    path TEXT PRIMARY KEY,
    listing TEXT NOT NULL,
    id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stat (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    id TEXT NOT NULL
) WITHOUT ROWID
"""


class Stat(NamedTuple):
    """What a stat says about a file's content; a tuple, as tens of thousands are made."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class DirEntry:
    """A directory's listing digest (paths and stats of all files) and its manifest id."""

    path: str
    listing: str
    id: str
    newest_mtime_ns: int


class StatCache:
    """Keys are workspace-relative POSIX paths."""

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = localdb.connect(self._dir, _SCHEMA)
        return self._conn

    def clock(self) -> int:
        """The file system's notion of 'now', from the same clock that stamps mtimes."""
        marker = self._dir / "statcache.clock"
        self._dir.mkdir(exist_ok=True)
        with marker.open("w") as f:
            f.write(".")
        return marker.stat().st_mtime_ns

    def under(self, prefix: str) -> dict[str, tuple[Stat, str]]:
        """Every entry for `prefix` itself or below it (`prefix/...`)."""
        rows = self._db().execute(
            "SELECT path, size, mtime_ns, ctime_ns, inode, id FROM stat"
            " WHERE path = ? OR (path >= ? AND path < ?)",
            (prefix, prefix + "/", prefix + "0"),  # '0' sorts right after '/'
        )
        return {row[0]: (Stat._make(row[1:5]), row[5]) for row in rows}

    def get(self, path: str) -> tuple[Stat, str] | None:
        row = (
            self._db()
            .execute("SELECT size, mtime_ns, ctime_ns, inode, id FROM stat WHERE path = ?", (path,))
            .fetchone()
        )
        return (Stat(row[0], row[1], row[2], row[3]), row[4]) if row else None

    def put(self, entries: Iterable[tuple[str, Stat, str]], *, clock_ns: int) -> int:
        """Remember entries whose mtime is safely before `clock_ns`; returns how many."""
        safe = [
            (path, st.size, st.mtime_ns, st.ctime_ns, st.inode, cid)
            for path, st, cid in entries
            if st.mtime_ns < clock_ns - RACY_MARGIN_NS
        ]
        if safe:
            db = self._db()
            with localdb.transaction(db):
                db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?)", safe)
        return len(safe)

    def directory(self, path: str) -> DirEntry | None:
        row = self._db().execute("SELECT listing, id FROM dirs WHERE path = ?", (path,)).fetchone()
        return DirEntry(path, row[0], row[1], 0) if row else None

    def put_directory(self, entry: DirEntry, *, clock_ns: int) -> bool:
        """Remember a listing only when every file in it is safely older than `clock_ns`."""
        if entry.newest_mtime_ns >= clock_ns - RACY_MARGIN_NS:
            return False
        db = self._db()
        with localdb.transaction(db):
            db.execute(
                "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?)",
                (entry.path, entry.listing, entry.id),
            )
        return True

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
