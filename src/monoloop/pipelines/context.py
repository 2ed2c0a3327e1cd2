"""What a pipeline run needs before it knows whether anything must run: no DB, no pydantic.

A no-op `monoloop run` must answer as fast as `data status`, so it starts from the
config stamp (`.monoloop/config.valid.json`, written by every full validation) and
the stat cache. The full `Workspace` (metadata DB, ledger) is opened only when a stage
really runs, by `workspace()`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.data.statcache import StatCache
from monoloop.errors import ConfigError
from monoloop.root import CONFIG_FILE, STATE_DIR, find_root

if TYPE_CHECKING:
    from monoloop.store.objects import ObjectStore
    from monoloop.workspace import Workspace

STAMP = "config.valid.json"


@dataclass
class PipelineContext:
    root: Path
    pipelines: dict[str, Any]  # Config.model_dump()["pipelines"]
    cache: StatCache
    store_url: str | None = None
    store_options: dict[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _objects: ObjectStore | None = None
    _ws: Workspace | None = None
    _owns_ws: bool = False

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def objects(self) -> ObjectStore:
        """The object store, opened on first use: an up-to-date run may never need it."""
        if self._objects is None:
            from monoloop.store.objects import open_store

            self._objects = open_store(
                self.store_url,
                default_root=self.state_dir / "objects",
                options=self.store_options,
            )
        return self._objects

    @property
    def store_id(self) -> str:
        """Which store this is, without opening it (to key what was verified in it)."""
        if self._objects is not None:
            return self._objects.url
        return self.store_url or str(self.state_dir / "objects")

    @classmethod
    def of(cls, ws: Workspace) -> PipelineContext:
        pipelines = {name: p.model_dump() for name, p in ws.config.pipelines.items()}
        ctx = cls(ws.root, pipelines, StatCache(ws.state_dir), _objects=ws.objects, _ws=ws)
        ctx.env = dict(os.environ)
        return ctx

    @classmethod
    def light(cls, start: Path, *, env: Mapping[str, str] | None = None) -> PipelineContext:
        env = dict(os.environ if env is None else env)
        root = find_root(start)
        raw = validated_config(root, env)
        store = raw.get("store") or {}
        return cls(
            root,
            dict(raw.get("pipelines") or {}),
            StatCache(root / STATE_DIR),
            env.get("MONOLOOP_STORE_URL") or store.get("url"),
            dict(store.get("options") or {}),
            env,
        )

    @property
    def has_workspace(self) -> bool:
        return self._ws is not None

    def workspace(self) -> Workspace:
        """The full workspace, opened on first use (validates monoloop.yaml, opens the DB)."""
        if self._ws is None:
            from monoloop.workspace import open_workspace

            self._ws = open_workspace(self.root, env=self.env)
            self._owns_ws = True
        return self._ws

    def close(self) -> None:
        self.cache.close()
        if self._ws is not None and self._owns_ws:
            self._ws.close()
            self._ws = None


def validated_config(root: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """monoloop.yaml's values from the validity stamp, validating (and stamping) first when
    the file changed since. The same rule as `DataContext.light`."""
    from monoloop.hashing import hash_bytes

    digest = hash_bytes((root / CONFIG_FILE).read_bytes())
    for attempt in range(2):
        try:
            record = json.loads((root / STATE_DIR / STAMP).read_bytes())
            if record.get("hash") == digest and isinstance(record.get("config"), dict):
                return dict(record["config"])
        except (OSError, ValueError):
            pass
        if attempt == 0:
            from monoloop.workspace import load_settings

            load_settings(root, env=env)
    raise ConfigError(
        f"cannot record the validated configuration in {root / STATE_DIR}",
        hint="run `monoloop init` to create the workspace's state directory",
    )
