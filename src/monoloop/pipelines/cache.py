"""Cache keys and the reasons a stage must run again.

A stage's cache key is the BLAKE3 hash of canonical JSON of what decides its result:
its definition (command or call, the paths it reads and writes), the content ids of
its deps and the values of its params. Equal keys mean the recorded outputs are the
outputs it would produce again. When keys differ, `reasons` says why in words a person
can act on, by comparing with what the lock file recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monoloop.canonical import canonical_json
from monoloop.hashing import hash_bytes
from monoloop.pipelines.dag import Stage
from monoloop.pipelines.lock import Entry

KEY_FORMAT = 1


def stage_key(stage: Stage, deps: Mapping[str, str], params: Mapping[str, Any]) -> str:
    return hash_bytes(
        canonical_json(
            {
                "format": KEY_FORMAT,
                "stage": stage.definition(),
                "deps": dict(deps),
                "params": dict(params),
            }
        )
    )


def _show(value: Any) -> str:
    text = canonical_json(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."


def reasons(
    stage: Stage,
    entry: Entry | None,
    deps: Mapping[str, str | None],
    params: Mapping[str, Any],
) -> list[str]:
    """Why `stage` differs from its lock entry; empty when nothing visible changed."""
    if entry is None:
        return ["never run"]
    found: list[str] = []
    if stage.cmd is not None and entry.cmd != stage.cmd:
        found.append("command changed")
    if stage.call is not None and entry.call != stage.call:
        found.append("function changed")
    for path in sorted(set(deps) | set(entry.deps)):
        if path not in entry.deps:
            found.append(f"dep {path} added")
        elif path not in deps:
            found.append(f"dep {path} removed")
        elif deps[path] is None:
            found.append(f"dep {path} missing")
        elif deps[path] != entry.deps[path]:
            found.append(f"dep {path} changed")
    for key in sorted(set(params) | set(entry.params)):
        if key not in entry.params:
            found.append(f"param {key} added")
        elif key not in params:
            found.append(f"param {key} removed")
        elif canonical_json(params[key]) != canonical_json(entry.params[key]):
            found.append(f"param {key} changed: {_show(entry.params[key])} -> {_show(params[key])}")
    written = set(stage.written)
    if written != set(entry.out_ids()):
        found.append("outputs changed in the stage definition")
    return found
