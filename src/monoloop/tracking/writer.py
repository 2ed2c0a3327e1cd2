"""The SDK's background writer: one per workspace (or server) per process, flushing a
buffer in batches.

Callers append to `Writer.ops` (a deque: appends and pops are atomic, so the hot path takes
no lock). A daemon thread drains it every `flush_interval` seconds, or sooner when woken,
into one `writes.Batch` that the backend commits in one transaction: the workspace's DB, or
a monoloop server (one request per flush). A flush that fails for a passing reason (the
database is busy, it or the server is unreachable) puts its operations back to be retried.

Process-level hooks, installed once: atexit (end runs left open, flush), SIGTERM (flush,
mark runs killed, then die as the default handler would), the uncaught-exception hook (so
the atexit hook marks open runs failed rather than finished), and fork (a child gets a
fresh writer thread and owns none of its parent's runs).
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from monoloop.errors import ConnectionFailed, InvalidInput, MonoloopError
from monoloop.tracking.environment import Environment, capture
from monoloop.tracking.model import Artifact, Param
from monoloop.tracking.writes import Batch, Finish, NewRun
from monoloop.workspace import Workspace

if TYPE_CHECKING:
    from monoloop.backend import Remote
    from monoloop.backend.base import Backend
    from monoloop.tracking.sdk import RunHandle

clock = time.time
DEFAULT_FLUSH_INTERVAL = 1.0
DEFAULT_MAX_POINTS = 50_000
# Past this many buffered operations a caller flushes itself: memory stays bounded when
# the database cannot keep up.
BACKLOG_FACTOR = 20
ENV_REFRESH_S = 10.0


@dataclass(frozen=True, slots=True)
class ParamsOp:
    run_id: str
    params: dict[str, Param]


@dataclass(frozen=True, slots=True)
class TagsOp:
    run_id: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class ArtifactOp:
    run_id: str
    artifact: Artifact


@dataclass(frozen=True, slots=True)
class FinishOp:
    run_id: str
    finish: Finish


class Writer:
    def __init__(
        self,
        backend: Backend,
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_points: int = DEFAULT_MAX_POINTS,
    ) -> None:
        self.backend = backend
        self.flush_interval = flush_interval
        self.max_points = max_points
        self.ops: collections.deque[Any] = collections.deque()
        self.open: dict[str, RunHandle] = {}
        self.closed = False
        self.holder: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._env: tuple[float, Environment] | None = None
        self._last_error: str | None = None
        self._retime = False
        self._start_thread()

    @property
    def ws(self) -> Workspace:
        """The local workspace written to; a remote writer has none."""
        from monoloop.backend.local import LocalBackend

        if not isinstance(self.backend, LocalBackend):
            raise InvalidInput(
                f"runs go to the server {self.backend!r}: there is no local workspace",
                hint="use run.backend, or unset MONOLOOP_SERVER_URL to track locally",
            )
        return self.backend.ws

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="monoloop-tracking", daemon=True)
        self._thread.start()

    def put(self, op: Any) -> None:
        self.ops.append(op)

    def wake(self) -> None:
        self._wake.set()

    def pressure(self) -> None:
        if len(self.ops) >= self.max_points * BACKLOG_FACTOR:
            self.flush()
        else:
            self._wake.set()

    def remember(self, handle: RunHandle) -> None:
        self.open[handle.id] = handle

    def forget(self, handle: RunHandle) -> None:
        self.open.pop(handle.id, None)

    def end_open(self, status: str, error: str | None = None) -> None:
        for handle in list(self.open.values()):
            handle.end(status, error=error)

    def set_interval(self, seconds: float) -> None:
        self.flush_interval = seconds
        self._retime = True
        self._wake.set()

    def _loop(self) -> None:
        last = time.monotonic()
        while not self.closed:
            # Deadlines, not sleeps: a slow flush does not push the next one further out.
            self._wake.wait(max(0.0, last + self.flush_interval - time.monotonic()))
            self._wake.clear()
            if self.closed:
                return
            if self._retime:
                self._retime = False
                if time.monotonic() < last + self.flush_interval:
                    continue
            last = time.monotonic()
            try:
                self.flush()
            except Exception as error:  # reported, and retried or dropped by flush()
                self._report(error)

    def _report(self, error: BaseException) -> None:
        text = f"{type(error).__name__}: {error}"
        if text != self._last_error:
            self._last_error = text
            sys.stderr.write(f"monoloop: writing tracking data failed: {text}\n")

    def flush(self) -> None:
        """Commit everything buffered so far; raises what the commit raised."""
        with self._lock:
            self.holder = threading.get_ident()
            try:
                self._flush_locked()
            finally:
                self.holder = None
        if (
            _hooks.pending_term is not None
            and threading.current_thread() is threading.main_thread()
        ):
            _terminate(*_hooks.pending_term)

    def _flush_locked(self) -> None:
        count = len(self.ops)
        if not count:
            return
        pop = self.ops.popleft
        ops = [pop() for _ in range(count)]
        try:
            self.backend.write(self._batch(ops))
        except ConnectionFailed:
            self.ops.extendleft(reversed(ops))
            raise
        except MonoloopError as error:
            # Not going to succeed on a retry (a run deleted under us): drop it, say so.
            sys.stderr.write(f"monoloop: dropped {count} buffered tracking writes: {error}\n")
            raise
        except BaseException:
            self.ops.extendleft(reversed(ops))
            raise

    def _batch(self, ops: list[Any]) -> Batch:
        batch = Batch()
        points = batch.points
        env: Environment | None = None
        for op in ops:
            if type(op) is tuple:
                points.append(op)
            elif isinstance(op, NewRun):
                env = env or self.environment()
                op.env = env
                batch.add_run(op)
            elif isinstance(op, ParamsOp):
                batch.add_params(op.run_id, op.params)
            elif isinstance(op, TagsOp):
                batch.add_tags(op.run_id, op.tags)
            elif isinstance(op, ArtifactOp):
                batch.add_artifact(op.run_id, op.artifact)
            else:
                batch.add_finish(op.run_id, op.finish)
        return batch

    def environment(self) -> Environment:
        """Git state and packages, refreshed every few seconds rather than per run."""
        now = time.monotonic()
        if self._env is None or now - self._env[0] > ENV_REFRESH_S:
            self._env = (now, capture(self.backend.root))
        return self._env[1]

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._thread.join(timeout=5 * self.flush_interval + 5)
        try:
            self.flush()
        finally:
            self.backend.close()

    def after_fork(self) -> None:
        """In a forked child: the parent's buffer and runs are the parent's to finish."""
        self.ops.clear()
        self.open.clear()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.holder = None
        self.backend.after_fork()
        self._start_thread()


_writers: dict[Path | str, Writer] = {}
_by_place: dict[str | Path, Writer] = {}
_registry = threading.Lock()


def writer_for(
    where: str | Path | Workspace | None,
    *,
    flush_interval: float | None = None,
    max_points: int | None = None,
) -> Writer:
    from monoloop.backend import Remote

    given = where if isinstance(where, Workspace) else None
    # No workspace named: MONOLOOP_SERVER_URL sends the runs to a server.
    remote = Remote.from_env() if where is None else None
    place = given.root if given else str(where) if where else remote.url if remote else os.getcwd()
    # Finding the root walks the file system: a run in a loop looks its place up here instead.
    writer = _by_place.get(place)
    if writer is None or writer.closed:
        writer = _open_writer(given, place, remote)
        _by_place[place] = writer
    if flush_interval is not None:
        writer.set_interval(flush_interval)
    if max_points is not None:
        writer.max_points = max_points
    return writer


def _open_writer(given: Workspace | None, place: str | Path, remote: Remote | None) -> Writer:
    from monoloop.backend import remote_backend
    from monoloop.backend.local import LocalBackend
    from monoloop.root import find_root
    from monoloop.workspace import open_workspace

    key: Path | str = (
        remote.url if remote else given.root if given else find_root(Path(place).resolve())
    )
    with _registry:
        writer = _writers.get(key)
        if writer is None or writer.closed:
            if remote is not None:
                backend = remote_backend(remote, Path.cwd())
            elif given is not None:
                backend = LocalBackend(given, owns=False)
            else:
                assert isinstance(key, Path)
                backend = LocalBackend(open_workspace(key))
            writer = Writer(backend)
            _writers[key] = writer
            _install_hooks()
    return writer


def flush_all() -> None:
    for writer in list(_writers.values()):
        writer.flush()


def close_all() -> None:
    """Flush and stop every writer (each is reopened on the next `start_run`)."""
    with _registry:
        writers = list(_writers.values())
        _writers.clear()
        _by_place.clear()
    for writer in writers:
        writer.end_open("finished")
        writer.close()


@dataclass
class _Hooks:
    installed: bool = False
    previous_term: Any = None
    crashed: str | None = None
    pending_term: tuple[int, FrameType | None] | None = None


_hooks = _Hooks()


def _install_hooks() -> None:
    if _hooks.installed:
        return
    _hooks.installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        _hooks.crashed = f"{kind.__name__}: {value}"[:2000]
        previous_hook(kind, value, tb)

    sys.excepthook = excepthook
    os.register_at_fork(after_in_child=_after_fork)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        # A process told to ignore SIGTERM keeps ignoring it.
        if previous is not signal.SIG_IGN:
            _hooks.previous_term = previous
            signal.signal(signal.SIGTERM, _on_sigterm)


def _at_exit() -> None:
    for writer in list(_writers.values()):
        if _hooks.crashed:
            writer.end_open("failed", error=_hooks.crashed)
        else:
            writer.end_open("finished")
        try:
            writer.close()
        except Exception as error:
            sys.stderr.write(f"monoloop: could not save tracking data at exit: {error}\n")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    me = threading.get_ident()
    if any(w.holder == me for w in _writers.values()):
        # Interrupted inside our own flush: finish it first; flush() calls _terminate after.
        _hooks.pending_term = (signum, frame)
        return
    _terminate(signum, frame)


def _terminate(signum: int, frame: FrameType | None) -> None:
    _hooks.pending_term = None
    for writer in list(_writers.values()):
        writer.end_open("killed", error="terminated by SIGTERM")
        try:
            writer.flush()
        except Exception as error:
            sys.stderr.write(f"monoloop: could not save tracking data on SIGTERM: {error}\n")
    previous = _hooks.previous_term
    if callable(previous):
        signal.signal(signal.SIGTERM, previous)
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _after_fork() -> None:
    for writer in _writers.values():
        writer.after_fork()
