"""The trees a sweep's trials run in: which stages run where, and the files they start with.

A trial's tree is a directory under `.monoloop/sweeps/ID/` holding what its stages read
and nothing they write: params.yaml and monoloop.lock (for cache decisions), the deps no
stage produces (copied from the working tree, or fetched from the store for tracked data
that is not checked out), the `__init__.py` files of `call` stages' packages, and the
outputs of the stages run before the trials, from the store. Its stages run in it with a
pipeline context of its own (stat cache, logs, lock copy) that shares the workspace's
DB, object store and run cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from monoloop.errors import InvalidInput
from monoloop.pipelines import dag
from monoloop.pipelines.context import PipelineContext
from monoloop.pipelines.grid import uses
from monoloop.pipelines.lock import LOCK_FILE
from monoloop.pipelines.params import PARAMS_FILE
from monoloop.pipelines.session import Session
from monoloop.pipelines.tree import place


class Trees:
    """The swept stage and what it needs, split into the stages a grid key reaches
    (`affected`, run in every trial) and the others (`shared`, run once before)."""

    def __init__(self, ctx: PipelineContext, stage: str, keys: Sequence[str]) -> None:
        self.ctx = ctx
        # The same checks as `monoloop run --stage`: the stage exists, params, inputs.
        self.session = Session(ctx, None, stage=stage)
        graph, selected = self.session.graph, self.session.selected
        self.target = selected[-1]  # it needs every other selected stage, so it is last
        self.stage = graph.stages[self.target]
        for key in keys:
            self._check_key(key)
        touched = {s for s in selected if any(uses(graph.stages[s].params, k) for k in keys)}
        reached = touched | (graph.downstream(touched) & set(selected))
        self.affected = [s for s in selected if s in reached]
        self.shared = [s for s in selected if s not in reached]
        self.shared_outs: dict[str, str] = {}  # their outputs, once they are up to date

    def _check_key(self, key: str) -> None:
        params, graph = self.session.params, self.session.graph
        if not params.has(key):
            import difflib

            close = difflib.get_close_matches(key, params.keys(), n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            raise InvalidInput(
                f"--grid {key}: there is no '{key}' in {PARAMS_FILE}{guess}",
                hint=f"a sweep overrides values of {PARAMS_FILE}; add the key there first",
            )
        if not any(uses(graph.stages[s].params, key) for s in self.session.selected):
            names = ", ".join(graph.stages[s].name for s in self.session.selected)
            raise InvalidInput(
                f"--grid {key}: no stage the sweep runs reads it (stages: {names})",
                hint=f"add '{key}' (or its section) to `params:` of the stage that uses it, "
                "or sweep a key one of these stages reads",
            )

    def session_for(
        self, root: Path, sids: Collection[str], overrides: Mapping[str, Any]
    ) -> tuple[Session, Path]:
        """A session running `sids` in a new tree at `root`, the swept stage forced."""
        self._fill(root, sids)
        from monoloop.data.statcache import StatCache
        from monoloop.pipelines.runcache import RunCache
        from monoloop.root import STATE_DIR

        ctx = self.ctx
        tree_ctx = PipelineContext(
            root,
            ctx.pipelines,
            StatCache(root / STATE_DIR),
            ctx.store_url,
            ctx.store_options,
            ctx.env,
            ctx.execution,
            _objects=ctx.objects,
            _ws=ctx.workspace(),
        )
        try:
            session = Session(
                tree_ctx,
                None,
                stage=self.target,
                overrides=overrides,
                forced={self.target} & set(sids),
                only=set(sids),
                run_cache=RunCache(ctx.state_dir),
            )
        except BaseException:
            tree_ctx.close()
            raise
        return session, root

    def _fill(self, root: Path, sids: Collection[str]) -> None:
        from monoloop.root import STATE_DIR

        (root / STATE_DIR).mkdir(parents=True)
        for name in (PARAMS_FILE, LOCK_FILE):
            if (self.ctx.root / name).is_file():
                shutil.copyfile(self.ctx.root / name, root / name)
        graph, wanted = self.session.graph, set(sids)
        reads: set[str] = set()
        for sid in self.session.selected:
            if sid in wanted:
                st = graph.stages[sid]
                reads.update(self.session.dep_paths(st) + self.session.package_files(st))
        for path in sorted(reads):
            if not graph.producer_of(path):
                self._copy_in(path, root)
        for path, cid in sorted(self.shared_outs.items()):
            if any(dag.overlaps(path.rstrip("/"), dep) for dep in reads):
                place(self.ctx.objects, root, path, cid)

    def _copy_in(self, path: str, root: Path) -> None:
        """A dep from the working tree (tracked data not checked out: from the store)."""
        source, dest = self.ctx.root / path, root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, dest, symlinks=True)
        elif os.path.lexists(source):
            shutil.copy2(source, dest, follow_symlinks=False)
        else:
            from monoloop.data import pointer

            found = pointer.read(pointer.pointer_path(source), source=path + pointer.SUFFIX)
            place(self.ctx.objects, root, path + ("/" if found.kind == "dir" else ""), found.id)

    def outs_of(self, session: Session, sids: Sequence[str]) -> dict[str, str]:
        """The recorded outputs (a '/' after directories) of final stages of `session`."""
        found: dict[str, str] = {}
        for sid in sids:
            st = session.stage(sid)
            entry = session.lock.get(st.pipeline, st.name)
            if entry is not None:
                found.update(entry.outs)
        return found
