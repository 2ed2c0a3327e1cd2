"""Which output ids this machine has seen in the object store: checks without opening it.

An up-to-date stage is skipped only when its outputs are in the store. Asking the store
means loading it (and, for a remote one, a round trip per object), so once an id has been
found there, or was put there by a run, it is remembered in `.monoloop/pipelines/
stored.json`, per store. Only ids the lock file names are kept. If objects were removed
behind our back, the cost is bounded: a missing output whose object is gone makes its
stage run again instead of being restored (`data gc` never removes what the lock names).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

FILE = "stored.json"


class KnownStored:
    def __init__(self, state_dir: Path, store: str) -> None:
        self._path = state_dir / "pipelines" / FILE
        self._store = store
        self._ids: set[str] = set()
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, TypeError):
            record = json.loads(self._path.read_bytes())
            if record.get("store") == store:
                self._ids = {str(i) for i in record.get("ids", [])}

    def __contains__(self, cid: object) -> bool:
        return cid in self._ids

    def add(self, ids: Iterable[str]) -> None:
        for cid in ids:
            if cid not in self._ids:
                self._ids.add(cid)
                self._dirty = True

    def save(self, referenced: set[str]) -> None:
        """Keep the ids still referenced; best effort, since this is only a cache."""
        keep = self._ids & referenced
        if not self._dirty and keep == self._ids:
            return
        with contextlib.suppress(OSError):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(f".{FILE}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"store": self._store, "ids": sorted(keep)}))
            os.replace(tmp, self._path)
        self._ids, self._dirty = keep, False
