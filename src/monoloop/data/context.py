"""What the data commands need from a workspace, loadable without pydantic or SQLAlchemy.

`data status` must answer in a fraction of a second and `data add` of 10,000 files in
one, so neither can afford the 0.4 s of importing pydantic (the config models) and
SQLAlchemy. `DataContext.light()` takes the configuration's values from the record
written when monoloop.yaml last passed full validation, as long as the file is
byte-identical (`config.stamp_valid_config`); otherwise it validates fully first.
Audit events go through `record`: with the stdlib sqlite3 driver when the metadata DB
is a local SQLite file at the current schema (`audit.light`), else through a Workspace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.audit import light as light_ledger
from monoloop.data.statcache import StatCache
from monoloop.errors import ConfigError
from monoloop.identity import default_actor
from monoloop.root import CONFIG_FILE, STATE_DIR, find_root
from monoloop.store.objects import ObjectStore, open_store

if TYPE_CHECKING:
    from monoloop.workspace import Workspace


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


Event = tuple[str, str, dict[str, Any]]  # kind, subject, payload


@dataclass
class DataContext:
    root: Path
    objects: ObjectStore
    remotes: dict[str, Remote]
    default_remote: str | None
    cache: StatCache
    db_url: str = ""
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    workspace: Workspace | None = None  # when opened from one: its DB and actor record events

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
        return cls(
            ws.root,
            ws.objects,
            remotes,
            config.default_remote,
            StatCache(ws.state_dir),
            ws.settings.db_url,
            workspace=ws,
        )

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
        db_url = light_ledger.url_for(root, (raw.get("db") or {}).get("url"), env)
        return cls(
            root,
            objects,
            remotes,
            raw.get("default_remote"),
            StatCache(root / STATE_DIR),
            db_url,
            env,
        )

    def record(self, events: Sequence[Event]) -> None:
        """Append audit events (kind, subject, payload) in one transaction."""
        if not events:
            return
        if self.workspace is None:
            actor = self.env.get("MONOLOOP_ACTOR") or default_actor(self.root)
            if light_ledger.append(self.db_url, actor=actor, items=events):
                return
            from monoloop.workspace import open_workspace

            with open_workspace(self.root, env=self.env) as ws:
                _record(ws, events)
            return
        _record(self.workspace, events)

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


def _record(ws: Workspace, events: Sequence[Event]) -> None:
    with ws.db.write() as conn:
        for kind, subject, payload in events:
            ws.record(conn, kind, subject, payload)


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
            # Validates (a ConfigError names the problem) and stamps; pydantic, no SQLAlchemy.
            from monoloop.config import Overrides, load_config, stamp_valid_config

            Overrides.from_env(env)
            stamp_valid_config(root, load_config(root / CONFIG_FILE))
    raise ConfigError(
        f"cannot record the validated configuration in {root / STATE_DIR}",
        hint="run `monoloop init` to create the workspace's state directory",
    )
