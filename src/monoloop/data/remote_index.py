"""What this machine knows a remote holds: ids recorded by push and pull.

It answers `data status`'s "not pushed" without contacting the remote. It is recorded
after each transfer, so it is behind when someone else pushed, and ahead only when the
remote lost objects (wiped, or recreated at the same URL): `data push` checks that the
remote still holds the newest object of each path it pushes (a directory's manifest, which
is uploaded after its data) and forgets the remote's record when one is gone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from monoloop.data import localdb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS remote_has (
    remote TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (remote, id)
) WITHOUT ROWID;
"""


class RemoteIndex:
    def __init__(self, state_dir: Path, remote_url: str) -> None:
        self._state_dir = state_dir
        self._remote = remote_url
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = localdb.connect(self._state_dir, _SCHEMA)
        return self._conn

    def has(self, content_id: str) -> bool:
        row = (
            self._db()
            .execute(
                "SELECT 1 FROM remote_has WHERE remote = ? AND id = ?", (self._remote, content_id)
            )
            .fetchone()
        )
        return row is not None

    def known(self, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        found: set[str] = set()
        db = self._db()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT id FROM remote_has WHERE remote = ? AND id IN ({marks})",
                (self._remote, *chunk),
            )
            found.update(row[0] for row in rows)
        return found

    def record(self, ids: Iterable[str]) -> None:
        db = self._db()
        with localdb.transaction(db):
            db.executemany(
                "INSERT OR IGNORE INTO remote_has VALUES (?, ?)", ((self._remote, i) for i in ids)
            )

    def forget(self) -> None:
        """Drop everything recorded for this remote (it was found to have lost objects)."""
        db = self._db()
        with localdb.transaction(db):
            db.execute("DELETE FROM remote_has WHERE remote = ?", (self._remote,))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
