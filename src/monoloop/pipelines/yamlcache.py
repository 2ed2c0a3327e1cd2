"""YAML files read through a JSON copy keyed by their hash: no YAML parser on the fast path.

A no-op `monoloop run` reads params.yaml and monoloop.lock; importing and running a YAML
parser would cost more than everything else it does. The parsed document is kept in
`.monoloop/pipelines/<name>.json` with the BLAKE3 hash of the file's bytes; while the
bytes are the same, the JSON is used. The copy is only a cache: a torn or stale one is
ignored and rewritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

from monoloop.hashing import hash_bytes

CACHE_DIR = "pipelines"


def normalise(value: Any) -> Any:
    """Plain JSON values: dates become ISO strings, NaN and infinities strings, keys strings."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def load(path: Path, state_dir: Path, name: str) -> tuple[Any, str | None]:
    """(document, hash of the file) for an existing YAML file, (None, None) without one.

    Raises yaml.YAMLError (from the slow path) for a file that does not parse."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    digest = hash_bytes(data)
    cache = state_dir / CACHE_DIR / f"{name}.json"
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(cache.read_bytes())
        if isinstance(record, dict) and record.get("hash") == digest:
            return record.get("doc"), digest
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = normalise(yaml.load(data, Loader=loader))  # noqa: S506 - a safe loader
    remember(state_dir, name, digest, doc)
    return doc, digest


def remember(state_dir: Path, name: str, digest: str, doc: Any) -> None:
    """Write the JSON copy; best effort, since it is only a cache."""
    folder = state_dir / CACHE_DIR
    if not state_dir.is_dir():
        return
    with contextlib.suppress(OSError, ValueError, TypeError):
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"hash": digest, "doc": doc}))
        os.replace(tmp, folder / f"{name}.json")
