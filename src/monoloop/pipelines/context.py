"""What a pipeline run needs before it knows whether anything must run: no DB, no pydantic.

A no-op `monoloop run` must answer as fast as `data status`, so it starts from the
config stamp (`.monoloop/config.valid.json`, written by every full validation) and
the stat cache. The full `Workspace` (metadata DB, ledger) is opened only when a stage
really runs, by `workspace()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.data.statcache import StatCache
from monoloop.root import STATE_DIR, find_root

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
    execution: dict[str, Any] = field(default_factory=dict)  # Config.execution, dumped
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
        return cls(
            ws.root,
            pipelines,
            StatCache(ws.state_dir),
            ws.settings.store_url,
            dict(ws.config.store.options),
            dict(os.environ),
            ws.config.execution.model_dump(),
            _objects=ws.objects,
            _ws=ws,
        )

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
            dict(raw.get("execution") or {}),
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
    """monoloop.yaml's values from the validity stamp (the rule `DataContext.light` uses)."""
    from monoloop.data.context import validated_config_values

    return validated_config_values(root, env)
