"""What the data commands need from a workspace, loadable without the metadata DB.

`data status` must answer in a fraction of a second, so it cannot afford to import
pydantic and SQLAlchemy. `DataContext.light()` reads monoloop.yaml with a plain
YAML parser when the file is byte-identical to one that already passed full
validation (`workspace.stamp_valid_config`); otherwise it validates fully first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.data.statcache import StatCache
from monoloop.errors import ConfigError
from monoloop.root import CONFIG_FILE, STATE_DIR, find_root
from monoloop.store.objects import ObjectStore, open_store

if TYPE_CHECKING:
    from monoloop.workspace import Workspace


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataContext:
    root: Path
    objects: ObjectStore
    remotes: dict[str, Remote]
    default_remote: str | None
    cache: StatCache

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @classmethod
    def of(cls, ws: Workspace) -> DataContext:
        config = ws.config
        remotes = {
            name: Remote(name, config.remote(name).url, dict(config.remote(name).options))
            for name in config.remotes
        }
        return cls(ws.root, ws.objects, remotes, config.default_remote, StatCache(ws.state_dir))

    @classmethod
    def light(cls, start: Path, *, env: Mapping[str, str] | None = None) -> DataContext:
        env = os.environ if env is None else env
        root = find_root(start)
        raw = validated_config_values(root, env)
        store = raw.get("store") or {}
        store_url = env.get("MONOLOOP_STORE_URL") or store.get("url")
        objects = open_store(
            store_url, default_root=root / STATE_DIR / "objects", options=store.get("options")
        )
        remotes = {}
        for name, spec in (raw.get("remotes") or {}).items():
            if isinstance(spec, str):
                remotes[name] = Remote(name, spec)
            else:
                remotes[name] = Remote(name, spec["url"], dict(spec.get("options") or {}))
        return cls(root, objects, remotes, raw.get("default_remote"), StatCache(root / STATE_DIR))

    def remote(self, name: str | None) -> Remote:
        chosen = name or self.default_remote
        if chosen is None:
            if len(self.remotes) == 1:
                return next(iter(self.remotes.values()))
            raise ConfigError(
                "no remote named and no default_remote in monoloop.yaml"
                if self.remotes
                else "no data remotes are configured",
                hint="add `remotes: {origin: URL}` (and `default_remote: origin`) to "
                "monoloop.yaml, or pass --remote NAME",
            )
        if chosen not in self.remotes:
            known = ", ".join(sorted(self.remotes)) or "none"
            raise ConfigError(
                f"unknown remote {chosen!r} (configured: {known})",
                hint="add it under `remotes:` in monoloop.yaml or pick a configured one",
            )
        return self.remotes[chosen]

    def close(self) -> None:
        self.cache.close()


def validated_config_values(root: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The config's values, from the validity stamp when monoloop.yaml is unchanged."""
    import json

    from monoloop.hashing import hash_bytes

    digest = hash_bytes((root / CONFIG_FILE).read_bytes())
    for attempt in range(2):
        try:
            record = json.loads((root / STATE_DIR / "config.valid.json").read_text())
            if record.get("hash") == digest and isinstance(record.get("config"), dict):
                return dict(record["config"])
        except (OSError, ValueError):
            pass
        if attempt == 0:
            from monoloop.workspace import load_settings

            load_settings(root, env=env)  # validates (ConfigError naming the problem), stamps
    raise ConfigError(
        f"cannot record the validated configuration in {root / STATE_DIR}",
        hint="run `monoloop init` to create the workspace's state directory",
    )
