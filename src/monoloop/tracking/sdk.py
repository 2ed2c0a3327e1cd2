"""Tracking from a training script: explicit run handles over a buffered background writer.

    import monoloop
    with monoloop.start_run(name="baseline", tags={"team": "vision"}) as run:
        run.log_params({"lr": 0.1})
        for step in range(1000):
            run.log_metric("loss", loss, step=step)

Calls validate their arguments at once, then append to an in-memory buffer; one writer
thread per workspace commits the buffer in one transaction every `flush_interval` seconds
(or as soon as it holds `max_points` points), so a call costs about a microsecond and a
tiny run no transaction of its own. Leaving the `with` block queues the run's end without
waiting: the run's rows appear at the next flush. `run.flush()` (or `flush()` here) waits
until everything is durable. Nothing is lost at interpreter exit (an atexit hook flushes
and ends runs left open), on an exception in the block (the run is marked failed and
flushed before the exception goes on) or on SIGTERM (flush, mark killed, then die as the
default handler would). A SIGKILL loses at most the last flush interval.

Inside a pipeline stage the executor sets MONOLOOP_RUN_ID (and MONOLOOP_WORKSPACE):
`start_run()` then attaches to that run and leaves ending it to the executor. With
MONOLOOP_SERVER_URL (and MONOLOOP_TOKEN) set and no workspace named, runs go to that
monoloop server instead of a local workspace: the same calls, one request per flush.

The "current run" (`log_metric(...)` and friends at module level) is a context variable,
so threads and asyncio tasks each see their own.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from monoloop.errors import Conflict, InvalidInput
from monoloop.tracking import writer as _w
from monoloop.tracking.model import check_key, check_metric, check_step
from monoloop.tracking.service import check_params, check_tags, make_finish, new_run
from monoloop.workspace import Workspace

if TYPE_CHECKING:
    from monoloop.backend.base import Backend

ENV_RUN_ID = "MONOLOOP_RUN_ID"
ENV_WORKSPACE = "MONOLOOP_WORKSPACE"

__all__ = [
    "ENV_RUN_ID",
    "ENV_WORKSPACE",
    "RunHandle",
    "active_run",
    "flush",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tags",
    "start_run",
]

_current: contextvars.ContextVar[RunHandle | None] = contextvars.ContextVar(
    "monoloop_run", default=None
)


class RunHandle:
    """One run being tracked. Use it as a context manager, or call `end()` yourself."""

    def __init__(self, writer: _w.Writer, run_id: str, *, owned: bool) -> None:
        self.id = run_id
        self.owned = owned
        self._writer = writer
        self._ops = writer.ops
        self._keys: set[str] = set()
        self._ended = False
        self._previous: RunHandle | None = None

    def __repr__(self) -> str:
        return f"RunHandle(id={self.id!r}, owned={self.owned})"

    @property
    def workspace(self) -> Workspace:
        """The local workspace (InvalidInput when the run goes to a server)."""
        return self._writer.ws

    @property
    def backend(self) -> Backend:
        """Where the run is written: a local workspace or a monoloop server."""
        return self._writer.backend

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        # The hot path of a training loop: checks are skipped for keys and types seen before.
        if key not in self._keys:
            check_key(key, "metric key")
            self._keys.add(key)
        if type(value) is not float:
            value = check_metric(key, value)
        if step is not None and (type(step) is not int or step < 0):
            check_step(step)
        self._ops.append((self.id, key, step, value, _w.clock()))
        if len(self._ops) >= self._writer.max_points:
            self._writer.pressure()

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self._writer.put(_w.ParamsOp(self.id, check_params(params)))

    def set_tags(self, tags: dict[str, str]) -> None:
        self._writer.put(_w.TagsOp(self.id, check_tags(tags)))

    def set_tag(self, key: str, value: str) -> None:
        self.set_tags({key: value})

    def log_artifact(self, path: str | Path, *, name: str | None = None) -> str:
        """Store the file or directory now (it may change later); returns its content id."""
        artifact = self._writer.backend.store_artifact(Path(path), name=name)
        self._writer.put(_w.ArtifactOp(self.id, artifact))
        return artifact.id

    def flush(self) -> None:
        """Wait until everything logged so far is committed."""
        self._writer.flush()

    def end(self, status: str = "finished", *, error: str | None = None) -> None:
        """End the run; an attached run is left for its executor to end."""
        if self._ended:
            return
        self._ended = True
        if _current.get() is self:
            _current.set(self._previous)
        if self.owned:
            self._writer.put(_w.FinishOp(self.id, make_finish(status, error=error)))
            self._writer.forget(self)

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end("finished")
            return
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            self.end("finished")
            return
        status = "killed" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.end(status, error=f"{exc_type.__name__}: {exc}"[:2000])
        # The exception may end the process: make the failure durable before it goes on.
        self._writer.flush()


def start_run(
    name: str | None = None,
    *,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    workspace: str | Path | Workspace | None = None,
    flush_interval: float | None = None,
    max_points: int | None = None,
) -> RunHandle:
    """Start a run, or attach to the pipeline stage's run when MONOLOOP_RUN_ID is set."""
    where = workspace if workspace is not None else os.environ.get(ENV_WORKSPACE)
    writer = _w.writer_for(where, flush_interval=flush_interval, max_points=max_points)
    attached = os.environ.get(ENV_RUN_ID)
    if attached:
        handle = _attach(writer, attached)
        if params:
            handle.log_params(params)
        if tags:
            handle.set_tags(tags)
    else:
        new = new_run(writer.backend.actor, name=name, tags=tags, params=params)
        handle = RunHandle(writer, new.id, owned=True)
        writer.put(new)
        writer.remember(handle)
    handle._previous = _current.get()
    _current.set(handle)
    return handle


def _attach(writer: _w.Writer, run_id: str) -> RunHandle:
    run = writer.backend.get_run(run_id)
    if run.status != "running":
        raise Conflict(
            f"{ENV_RUN_ID}={run_id} names a run that is already {run.status}",
            hint=f"unset {ENV_RUN_ID} to start a new run",
        )
    return RunHandle(writer, run.id, owned=False)


def active_run() -> RunHandle | None:
    return _current.get()


def _active() -> RunHandle:
    handle = _current.get()
    if handle is None:
        raise InvalidInput(
            "no active run", hint="start one with `with monoloop.start_run() as run:`"
        )
    return handle


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _active().log_metric(key, value, step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    _active().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    _active().log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    _active().log_params(params)


def set_tags(tags: dict[str, str]) -> None:
    _active().set_tags(tags)


def flush() -> None:
    """Wait until everything every run in this process logged is committed."""
    _w.flush_all()
