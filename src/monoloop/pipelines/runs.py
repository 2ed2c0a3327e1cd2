"""The bridge to experiment tracking: every stage execution is a tracked run.

The only module of the pipelines package that talks to `monoloop.tracking`. The stage's
process finds its run through MONOLOOP_RUN_ID and MONOLOOP_WORKSPACE, so the tracking
SDK inside it logs to the same run.

Writes are batched with the tracking service's own `Batch`: a finished stage's metrics
and end are written in the same transaction as the start of the next stage's run (a
run must exist before its process starts, since the SDK inside it writes to it), and
the pipeline's audit event goes with the last batch. The environment (Git commit and
state, Python, packages) is captured once per pipeline execution, not once per stage.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monoloop.pipelines.context import PipelineContext
    from monoloop.pipelines.dag import Stage
    from monoloop.pipelines.process import Finished
    from monoloop.tracking.environment import Environment
    from monoloop.tracking.writes import Batch

ENV_RUN_ID = "MONOLOOP_RUN_ID"
ENV_WORKSPACE = "MONOLOOP_WORKSPACE"


class Recorder:
    """Creates and finishes the runs of one pipeline execution, and its audit event."""

    def __init__(self, ctx: PipelineContext, *, tags: Mapping[str, str] | None = None) -> None:
        from monoloop.tracking.writes import Batch

        self.ctx = ctx
        self.tags = dict(tags or {})  # on every run it creates (a sweep's id and trial)
        self._batch: Batch = Batch()
        self._env: Environment | None = None

    def start(self, stage: Stage, params: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
        """Create the stage's run (with any finishes waiting) and return its id."""
        from monoloop.tracking.environment import capture
        from monoloop.tracking.service import new_run

        ws = self.ctx.workspace()
        if self._env is None:
            self._env = capture(ws.root)
        run = new_run(
            ws.actor,
            name=stage.id,
            pipeline=stage.pipeline,
            stage=stage.name,
            params=dict(params),
            inputs=dict(inputs),
            env=self._env,
            tags=self.tags,
        )
        self._batch.add_run(run)
        self.flush()
        return run.id

    def finish(self, run_id: str, finished: Finished, *, killed: bool = False) -> None:
        """End a run with its metrics, output ids and log; written with the next batch."""
        from monoloop.tracking.model import check_metric
        from monoloop.tracking.service import make_finish

        now = time.time()
        for values in finished.metrics.values():
            for key, value in values.items():
                self._batch.points.append((run_id, key, None, check_metric(key, value), now))
        status = "killed" if killed else ("finished" if finished.ok else "failed")
        outputs = {path.rstrip("/"): cid for path, cid in finished.outs.items()}
        self._batch.add_finish(
            run_id, make_finish(status, outputs, finished.log_id, finished.error, now)
        )

    def flush(self, event: tuple[str, dict[str, Any]] | None = None) -> None:
        """Write what is waiting, and the pipeline's audit event if given, in one transaction."""
        from monoloop.tracking.writes import Batch, apply

        if not self._batch and event is None:
            return
        ws = self.ctx.workspace()
        with ws.db.write() as conn:
            if self._batch:
                apply(ws, conn, self._batch)
            if event is not None:
                ws.record(conn, "pipeline.run", event[0], event[1])
        self._batch = Batch()
