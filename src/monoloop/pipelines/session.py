"""One pipeline invocation's view of the world, and the decision for each stage.

A `Session` loads the stage graph, params.yaml (with overrides) and monoloop.lock, checks
what needs the working tree (params exist, inputs exist), and decides per stage, once
everything it needs is final: skip it (its cache key and outputs match the lock), restore
missing outputs from the store, or run it, and why.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from monoloop.errors import NotFound
from monoloop.pipelines import cache, dag, lock
from monoloop.pipelines import params as params_mod
from monoloop.pipelines.context import PipelineContext
from monoloop.pipelines.runcache import RunCache
from monoloop.pipelines.stored import KnownStored
from monoloop.pipelines.tree import Tree

SKIP, RESTORE, RUN = "skip", "restore", "run"


@dataclass
class Decision:
    action: str
    reasons: list[str]
    deps: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    restore: list[tuple[str, str, bool]] = field(default_factory=list)  # (path, id, is_dir)
    store: list[str] = field(default_factory=list)  # outputs in place but not in the store
    entry: lock.Entry | None = None  # from the run cache: the lock entry to record


class Session:
    def __init__(
        self,
        ctx: PipelineContext,
        pipeline: str | None = None,
        *,
        stage: str | None = None,
        force: bool = False,
        overrides: Mapping[str, Any] | None = None,
        forced: Collection[str] = (),
        only: Collection[str] | None = None,
        run_cache: RunCache | None = None,
    ) -> None:
        """`forced`: stage ids that run even if up to date; `only`: run just these of the
        selected stages; `run_cache`: another workspace's (a sweep trial uses its own's)."""
        self.ctx = ctx
        self.force = force
        self.forced = frozenset(forced)
        by_pipeline = dag.stages_from_raw(ctx.pipelines)
        if not by_pipeline:
            raise dag.PipelineError(
                "monoloop.yaml defines no pipelines",
                hint="add one under `pipelines:` (see docs/pipelines.md)",
            )
        if pipeline is not None and pipeline not in by_pipeline:
            raise NotFound(
                f"no pipeline '{pipeline}' in monoloop.yaml "
                f"(pipelines: {', '.join(sorted(by_pipeline))})",
                hint="name one of the pipelines, or leave it out to run them all",
            )
        self.graph = dag.build([s for stages in by_pipeline.values() for s in stages])
        self.selected = dag.select(self.graph, pipeline, stage)
        if only is not None:
            self.selected = [sid for sid in self.selected if sid in only]
        self.defined = {(s.pipeline, s.name) for s in self.graph.stages.values()}
        loaded = params_mod.load(ctx.root, ctx.state_dir)
        self.params = params_mod.apply_overrides(loaded, dict(overrides or {}))
        keys: list[str] | None = None
        for sid in self.selected:
            found = self.graph.stages[sid]
            if not found.params:
                continue
            if not self.params.exists:
                raise dag.PipelineError(
                    f"stage '{sid}' uses params ({', '.join(found.params)}) but there is no "
                    f"{params_mod.PARAMS_FILE} at the workspace root",
                    hint=f"create {params_mod.PARAMS_FILE} with those keys",
                )
            keys = self.params.keys() if keys is None else keys
            dag.check_params(found, self.params.has, keys)
        self.tree = Tree(ctx)
        self._check_paths()
        dag.check_inputs(self.graph, self.selected, self.tree.exists)
        self.lock = lock.read(ctx.root, ctx.state_dir)
        self.produced: dict[str, str] = {}  # output path -> id, once its stage is final
        self.known = KnownStored(ctx.state_dir, ctx.store_id)
        self.runs = run_cache if run_cache is not None else RunCache(ctx.state_dir)

    def _check_paths(self) -> None:
        """No dep or output may reach outside the workspace through a symbolic link."""
        root = os.path.realpath(self.ctx.root)
        inside: dict[str, bool] = {"": True}
        for sid in self.selected:
            found = self.graph.stages[sid]
            for path in (*found.deps, *found.written):
                parent = path.rpartition("/")[0]
                if parent not in inside:
                    real = os.path.realpath(os.path.join(root, parent))
                    inside[parent] = real == root or real.startswith(root + os.sep)
                if not inside[parent]:
                    raise dag.PipelineError(
                        f"stage '{sid}': {path} leads outside the workspace through a "
                        "symbolic link",
                        hint="keep deps and outputs in real directories inside the workspace",
                    )

    def stage(self, sid: str) -> dag.Stage:
        return self.graph.stages[sid]

    def dep_paths(self, stage: dag.Stage) -> list[str]:
        """Declared deps, plus the module file of a `call` stage when it is in the workspace:
        the function's code is what runs, so a change to it must run the stage again."""
        paths = list(stage.deps)
        if stage.call is not None:
            module = stage.call.partition(":")[0].replace(".", "/")
            for candidate in (f"{module}.py", f"{module}/__init__.py"):
                if os.path.isfile(self.ctx.root / candidate):
                    if candidate not in paths:
                        paths.append(candidate)
                    break
        return paths

    def package_files(self, stage: dag.Stage) -> list[str]:
        """The `__init__.py` files of a `call` stage's packages that are in the workspace:
        what importing its module needs besides the module file (not part of its key)."""
        if stage.call is None:
            return []
        parts = stage.call.partition(":")[0].split(".")[:-1]
        found = ["/".join([*parts[: i + 1], "__init__.py"]) for i in range(len(parts))]
        return [p for p in found if os.path.isfile(self.ctx.root / p)]

    def dep_id(self, path: str) -> str | None:
        known = self.produced.get(path)
        return known if known is not None else self.tree.id_of(path)

    def decide(self, stage: dag.Stage, *, upstream_runs: list[str] | None = None) -> Decision:
        values = self.params.values(stage.params)
        if upstream_runs:
            shown = ", ".join(f"'{u}'" for u in upstream_runs)
            return Decision(RUN, [f"upstream {shown} runs"], params=values)
        deps = {path: self.dep_id(path) for path in self.dep_paths(stage)}
        known = {path: cid for path, cid in deps.items() if cid is not None}
        key = cache.stage_key(stage, {p: c or "missing" for p, c in deps.items()}, values)
        entry = self.lock.get(stage.pipeline, stage.name)
        decision = Decision(RUN, [], known, values, key)
        if self.force or stage.id in self.forced:
            decision.reasons = ["forced"]
            return decision
        if entry is None or entry.key != key:
            decision.reasons = cache.reasons(stage, entry, deps, values)
            decision.reasons = decision.reasons or ["stage definition changed"]
            earlier = self.runs.get(key) if None not in deps.values() else None
            if earlier is not None and self._outputs(earlier, decision) is None:
                # The same inputs ran before: its outputs are in the store, take them.
                decision.action, decision.entry = RESTORE, earlier
                decision.reasons.append("an earlier run had the same inputs")
            return decision
        problem = self._outputs(entry, decision)
        if problem is not None:
            decision.reasons = [problem]
        elif decision.restore:
            decision.action = RESTORE
            missing = [p for p, _, _ in decision.restore if not os.path.lexists(self.ctx.root / p)]
            differ = [p for p, _, _ in decision.restore if p not in missing]
            decision.reasons = [f"outputs missing: {', '.join(missing)}"] if missing else []
            if differ:
                decision.reasons.append(
                    f"outputs differ from the recorded ones: {', '.join(differ)}"
                )
        else:
            decision.action = SKIP
        return decision

    def _outputs(self, entry: lock.Entry, decision: Decision) -> str | None:
        """Plan `entry`'s outputs into `decision` (what to restore, what to store); a reason
        to run instead when one of them is neither in place nor in the store."""
        decision.restore, decision.store = [], []
        for path, (cid, is_dir) in sorted(entry.out_ids().items()):
            current = self.tree.id_of(path) if os.path.lexists(self.ctx.root / path) else None
            if current == cid:
                if not self.in_store(cid):
                    decision.store.append(path)
            elif self.tree.stored(cid, is_dir=is_dir):
                decision.restore.append((path, cid, is_dir))
            elif current is None:
                return f"output {path} is missing and not in the object store"
            else:
                return f"output {path} changed and the recorded one is not in the object store"
        return None

    def in_store(self, cid: str) -> bool:
        if cid in self.known:
            return True
        if self.ctx.objects.exists(cid):
            self.known.add([cid])
            return True
        return False

    def save(self) -> None:
        """Remember what was learnt: stat-cache entries, ids seen in the store."""
        self.tree.save()
        referenced = {c for e in self.lock.entries.values() for c in e.outs.values()}
        self.known.save(referenced)

    def outs_of(self, stage: dag.Stage, decision: Decision) -> dict[str, str]:
        """The outputs a skipped or restored stage leaves in place."""
        entry = decision.entry or self.lock.get(stage.pipeline, stage.name)
        return dict(entry.outs) if entry is not None else {}

    def settle(self, stage: dag.Stage, outs: Mapping[str, str]) -> None:
        """Record a final stage's outputs so the stages after it see their ids."""
        for path, cid in outs.items():
            self.produced[path.rstrip("/")] = cid

    def lock_doc(self) -> dict[str, Any]:
        return self.lock.to_doc(keep=self.defined)
