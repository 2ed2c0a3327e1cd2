"""The run cache: what each cache key produced, from any earlier run on this machine.

The lock file holds one result per stage; the run cache holds every result, so going
back to inputs seen before (a param set back, a dep reverted) restores that run's
outputs from the object store instead of computing them again. One small JSON file
per key under `.monoloop/pipelines/runs/`; it is only a cache, so it is written
without fsync and a damaged file is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from monoloop.errors import ConfigError
from monoloop.pipelines.lock import Entry


class RunCache:
    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir / "pipelines" / "runs"

    def _path(self, key: str) -> Path:
        return self._dir / f"{key.removeprefix('b3:')}.json"

    def get(self, key: str) -> Entry | None:
        try:
            raw: Any = json.loads(self._path(key).read_bytes())
            entry = Entry.from_dict(raw, "run cache")
        except (OSError, ValueError, ConfigError):
            return None
        return entry if entry.key == key else None

    def put(self, entry: Entry) -> None:
        with contextlib.suppress(OSError):
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._path(entry.key)
            # A sweep's trials write from several threads of one process.
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(entry.to_dict(), sort_keys=True))
            os.replace(tmp, path)
