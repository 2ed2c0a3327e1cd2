"""Running pipelines: `run_pipeline` and, for --dry-run, `plan`.

    result = run_pipeline(ws, "train", params={"train.lr": 0.01})
    for stage in result.stages:
        print(stage.id, stage.status, stage.reasons)

Both take an open `Workspace` or a `PipelineContext.light(...)`. With the light context
nothing heavy is loaded until a stage has to run: a pipeline that is up to date is
checked without the metadata DB. Stages run in topological order, independent ones in
parallel (up to `jobs`); a failed stage blocks the stages after it, not the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from monoloop.pipelines import result
from monoloop.pipelines.context import PipelineContext
from monoloop.pipelines.result import PipelineResult, StageResult
from monoloop.pipelines.session import RESTORE, RUN, SKIP, Session

if TYPE_CHECKING:
    from monoloop.pipelines.result import Progress
    from monoloop.workspace import Workspace


@contextlib.contextmanager
def open_context(target: Workspace | PipelineContext) -> Iterator[PipelineContext]:
    """The pipeline context of `target`; one made here is closed at the end."""
    if isinstance(target, PipelineContext):
        yield target
        return
    ctx = PipelineContext.of(target)
    try:
        yield ctx
    finally:
        ctx.close()


def plan(
    target: Workspace | PipelineContext,
    pipeline: str | None = None,
    *,
    stage: str | None = None,
    force: bool = False,
    params: Mapping[str, Any] | None = None,
) -> PipelineResult:
    """What `run_pipeline` would do and why, changing nothing."""
    with open_context(target) as ctx:
        session = Session(ctx, pipeline, stage=stage, force=force, overrides=params)
        found = PipelineResult(dry_run=True, params=dict(params or {}))
        will_run: set[str] = set()
        for sid in session.selected:
            st = session.stage(sid)
            ups = sorted(session.graph.needs[sid] & will_run)
            decision = session.decide(st, upstream_runs=ups)
            status = {SKIP: result.SKIPPED, RESTORE: result.WOULD_RESTORE}.get(
                decision.action, result.WOULD_RUN
            )
            if decision.action == RUN:
                will_run.add(sid)
            else:
                session.settle(st, session.outs_of(st, decision))
            found.stages.append(StageResult(sid, st.pipeline, st.name, status, decision.reasons))
        session.save()
        return found


def run_pipeline(
    target: Workspace | PipelineContext,
    pipeline: str | None = None,
    *,
    stage: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    params: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    executor: str | None = None,
    forced: Collection[str] = (),
) -> PipelineResult:
    """Bring the pipeline's outputs up to date: skip, restore or run each stage.

    `executor` is 'local' or 'ray' (default: `execution.executor` in monoloop.yaml);
    `forced`: stage ids ("pipeline:stage") that run even when up to date."""
    if dry_run:
        return plan(target, pipeline, stage=stage, force=force, params=params)
    with open_context(target) as ctx:
        from monoloop.pipelines.coordinator import Coordinator
        from monoloop.pipelines.execution import open_backend

        backend = open_backend(ctx, executor)
        try:
            session = Session(
                ctx, pipeline, stage=stage, force=force, overrides=params, forced=forced
            )
            run = Coordinator(session, jobs, progress, dict(params or {}), backend=backend)
            return run.go(pipeline)
        finally:
            backend.close()


def source_stages(pipelines: Mapping[str, Any], pipeline: str) -> list[str]:
    """Ids of the stages of `pipeline` that read no other stage's output: the ones that
    bring data in. `pipelines` as in `Config.model_dump()["pipelines"]`."""
    from monoloop.pipelines import dag

    by_pipeline = dag.stages_from_raw(pipelines)
    graph = dag.build([s for stages in by_pipeline.values() for s in stages])
    return [s.id for s in by_pipeline.get(pipeline, []) if not graph.needs[s.id]]
