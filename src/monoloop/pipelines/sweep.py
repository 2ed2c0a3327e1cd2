"""Sweeps: run one stage over a grid of params, each combination a tracked trial.

    found = sweep(ws, "train", {"train.lr": [0.1, 0.01], "train.depth": [3, 5]},
                  metric="acc", maximize=True, max_parallel=2)
    print(found.best.params, found.best.value, found.best.run_id)

A trial is the stage with its params overridden (as `monoloop run -p` does), in a tree of
its own under `.monoloop/sweeps/ID/`: the files the stages read are copied there, the
stages run there, and their outputs go into the object store. The workspace's working
tree and monoloop.lock are never touched, so trials can run side by side, up to
`max_parallel` at once, on the local or the Ray executor.

The stages the trial's stage needs and that no grid param reaches are brought up to date
once, before the trials (in a tree of their own, using the lock and the run cache as
`monoloop run` does); each trial then gets their outputs from the store. The stages a
grid param reaches run in every trial, the swept stage always (each trial is a run of
its own, tagged `sweep=ID`, `sweep.trial=N` and `sweep.params`). Trial results also go
into the run cache, so `monoloop run -p` with the best trial's params restores its
outputs instead of computing them again.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.canonical import canonical_json
from monoloop.errors import InvalidInput, MonoloopError
from monoloop.pipelines import grid as grid_mod
from monoloop.pipelines import result
from monoloop.pipelines.service import open_context
from monoloop.pipelines.trials import Trees

if TYPE_CHECKING:
    from monoloop.pipelines.context import PipelineContext
    from monoloop.pipelines.coordinator import Coordinator
    from monoloop.pipelines.execution import Backend
    from monoloop.pipelines.result import StageResult
    from monoloop.pipelines.session import Session
    from monoloop.workspace import Workspace

SweepProgress = Callable[..., None]
"""Called with keyword arguments trial=, total=, state=, params= (and maybe more)."""


@dataclass
class Trial:
    index: int
    params: dict[str, Any]  # this trial's grid values
    status: str  # the swept stage's: ran, failed, blocked, killed
    run_id: str | None = None
    value: float | None = None  # the metric
    metrics: dict[str, float] = field(default_factory=dict)  # every metric of the stage
    error: str | None = None
    log_id: str | None = None
    log_tail: list[str] = field(default_factory=list)
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SweepResult:
    id: str
    stage: str
    grid: dict[str, list[Any]]
    metric: str | None
    maximize: bool | None
    executor: str
    trials: list[Trial] = field(default_factory=list)
    shared: list[StageResult] = field(default_factory=list)  # run once, before the trials
    best: Trial | None = None

    @property
    def ok(self) -> bool:
        return all(t.status == result.RAN for t in self.trials)

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status != result.RAN]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ok": self.ok,
            "stage": self.stage,
            "grid": self.grid,
            "metric": self.metric,
            "maximize": self.maximize,
            "executor": self.executor,
            "trials": [t.to_dict() for t in self.trials],
            "shared": [s.to_dict() for s in self.shared],
            "best": None if self.best is None else self.best.to_dict(),
        }


def sweep(
    target: Workspace | PipelineContext,
    stage: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    metric: str | None = None,
    maximize: bool | None = None,
    max_parallel: int | None = None,
    executor: str | None = None,
    progress: SweepProgress | None = None,
) -> SweepResult:
    """Run `stage` once per combination of `grid` ({param key: values}); the best trial by
    `metric` (`maximize` or not). Bad input is refused before anything runs."""
    combos = grid_mod.expand(grid)
    if metric is not None and maximize is None:
        raise InvalidInput(
            f"say whether a higher or a lower {metric} is better",
            hint="add --maximize or --minimize",
        )
    if max_parallel is not None and max_parallel < 1:
        raise InvalidInput("max_parallel must be at least 1", hint="e.g. --max-parallel 4")
    with open_context(target) as ctx:
        trees = Trees(ctx, stage, list(grid))
        if metric is not None and not trees.stage.metrics:
            raise InvalidInput(
                f"stage '{trees.target}' writes no metrics files, so it has no metric {metric!r}",
                hint=f"add a metrics file to `metrics:` of stage '{trees.stage.name}', or "
                "leave out --metric",
            )
        from monoloop.pipelines.execution import choose, open_backend

        backend = open_backend(ctx, executor)
        try:
            found = SweepResult(
                uuid.uuid4().hex[:12],
                trees.target,
                {k: list(v) for k, v in grid.items()},
                metric,
                maximize,
                choose(ctx, executor),
            )
            _Sweep(ctx, trees, backend, found, progress).go(combos, max_parallel)
        finally:
            backend.close()
        missing = _rank(found)
        _record(ctx, found)
    if missing is not None:
        raise missing
    return found


class _Sweep:
    def __init__(
        self,
        ctx: PipelineContext,
        trees: Trees,
        backend: Backend,
        found: SweepResult,
        progress: SweepProgress | None,
    ) -> None:
        self.ctx = ctx
        self.trees = trees
        self.backend = backend
        self.found = found
        self.progress = progress
        self.folder = ctx.state_dir / "sweeps" / found.id
        self._active: set[Coordinator] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._total = 0

    def tags(self, trial: str, params: Mapping[str, Any]) -> dict[str, str]:
        return {
            "sweep": self.found.id,
            "sweep.trial": trial,
            "sweep.params": canonical_json(dict(params)).decode(),
        }

    def go(self, combos: list[dict[str, Any]], max_parallel: int | None) -> None:
        self.ctx.workspace()  # opened once here; the trials' threads share it
        try:
            blocked = self._shared()
            self._total = len(combos)
            width = max_parallel or self.backend.capacity()
            width = max(1, min(width, len(combos)))
            jobs = max(1, self.backend.capacity() // width)
            trials: dict[int, Trial] = {}
            with ThreadPoolExecutor(max_workers=width, thread_name_prefix="trial") as pool:
                futures = {
                    pool.submit(self._trial, i, combo, jobs, blocked): i
                    for i, combo in enumerate(combos)
                }
                try:
                    for done in as_completed(futures):
                        trial = done.result()
                        trials[trial.index] = trial
                        self._tell(trial.index, trial.status, trial.params)
                except BaseException:
                    self._stop(futures)
                    raise
            self.found.trials = [trials[i] for i in sorted(trials)]
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _tell(self, index: int, state: str, params: Mapping[str, Any]) -> None:
        if self.progress is not None:
            self.progress(trial=index, total=self._total, state=state, params=dict(params))

    def _stop(self, futures: Mapping[Any, int]) -> None:
        """Interrupted: no new trial starts, the running ones stop (their runs: killed)."""
        with self._lock:
            self._stopping = True
            active = list(self._active)
        for future in futures:
            future.cancel()
        for coordinator in active:
            coordinator.stop()

    def _shared(self) -> str | None:
        """Bring the stages no grid param reaches up to date, once; why trials cannot run
        when one of them failed."""
        if not self.trees.shared:
            return None
        session, root = self.trees.session_for(self.folder / "shared", self.trees.shared, {})
        ran = self._coordinate(session, root, {}, self.tags("shared", {}), jobs=None)
        self.found.shared = ran.stages
        broken = [s.id for s in ran.stages if s.status not in _USABLE]
        if broken:
            return f"not run: {', '.join(broken)} did not finish (before the trials)"
        self.trees.shared_outs = self.trees.outs_of(session, self.trees.shared)
        return None

    def _trial(self, index: int, combo: dict[str, Any], jobs: int, blocked: str | None) -> Trial:
        if blocked is not None:
            return Trial(index, combo, result.BLOCKED, error=blocked)
        with self._lock:
            if self._stopping:
                return Trial(index, combo, result.KILLED, error="the sweep was interrupted")
        self._tell(index, result.RUNNING, combo)
        try:
            session, root = self.trees.session_for(
                self.folder / f"trial-{index:03d}", self.trees.affected, combo
            )
            ran = self._coordinate(session, root, combo, self.tags(str(index), combo), jobs)
        except (MonoloopError, OSError) as exc:
            reason = exc.message if isinstance(exc, MonoloopError) else str(exc)
            return Trial(index, combo, result.FAILED, error=reason)
        except KeyboardInterrupt:
            return Trial(index, combo, result.KILLED, error="the sweep was interrupted")
        res = next(s for s in ran.stages if s.id == self.trees.target)
        metrics: dict[str, float] = {}
        for path in self.trees.stage.metrics:
            for key, value in res.metrics.get(path, {}).items():
                metrics.setdefault(key, value)
        error = res.error or (res.reasons[0] if res.status == result.BLOCKED else None)
        return Trial(
            index,
            combo,
            res.status,
            run_id=res.run_id,
            metrics=metrics,
            error=error,
            log_id=res.log_id,
            log_tail=res.log_tail,
            seconds=res.seconds,
        )

    def _coordinate(
        self,
        session: Session,
        root: Path,
        overrides: dict[str, Any],
        tags: dict[str, str],
        jobs: int | None,
    ) -> result.PipelineResult:
        from monoloop.pipelines.coordinator import Coordinator

        run = Coordinator(session, jobs, None, overrides, backend=self.backend, tags=tags)
        with self._lock:
            if self._stopping:
                raise KeyboardInterrupt
            self._active.add(run)
        try:
            return run.go(None)
        finally:
            with self._lock:
                self._active.discard(run)
            session.ctx.close()


_USABLE = (result.RAN, result.SKIPPED, result.RESTORED)


def _rank(found: SweepResult) -> InvalidInput | None:
    """Pick the best trial by the metric (with none named: the stage's only one); the
    error to raise when no trial that finished wrote it."""
    finished = [t for t in found.trials if t.status == result.RAN]
    names = sorted({k for t in finished for k in t.metrics})
    if found.metric is None and len(names) == 1 and found.maximize is not None:
        found.metric = names[0]
    if found.metric is None:
        return None
    for trial in found.trials:
        trial.value = trial.metrics.get(found.metric)
    scored = [t for t in finished if t.value is not None]
    if finished and not scored:
        import difflib

        close = difflib.get_close_matches(found.metric, names, n=1)
        return InvalidInput(
            f"no trial of sweep {found.id} wrote metric {found.metric!r} (they wrote: "
            f"{', '.join(names) or 'no metrics'})"
            + (f"; did you mean '{close[0]}'?" if close else ""),
            hint=f"the trials are recorded as runs: monoloop runs list --where "
            f"\"tags.sweep = '{found.id}'\"; sweep again with --metric naming one of theirs",
        )
    if scored:
        sign = 1.0 if found.maximize else -1.0
        found.best = max(scored, key=lambda t: (sign * (t.value or 0.0), -t.index))
    return None


def _record(ctx: PipelineContext, found: SweepResult) -> None:
    """One audit event for the sweep: its grid, each trial's run and status, the best."""
    ws = ctx.workspace()
    payload = {
        "id": found.id,
        "grid": found.grid,
        "metric": found.metric,
        "maximize": found.maximize,
        "executor": found.executor,
        "trials": [
            {"params": t.params, "status": t.status, "run": t.run_id, "value": t.value}
            for t in found.trials
        ],
        "best": None if found.best is None else found.best.run_id,
    }
    with ws.db.write() as conn:
        ws.record(conn, "pipeline.sweep", found.stage, payload)
