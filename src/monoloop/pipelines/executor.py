"""Local execution: each stage in its own process, up to `jobs` at once.

A worker thread starts the process (stdout and stderr into one log file), waits for
it and hashes what it wrote; a storing thread then puts the outputs and the log itself
into the object store (so a failure can be read later by its id). Everything that
touches the DB, the lock file or the stat cache stays with the coordinating thread,
which receives `Finished` reports in completion order.

A `call` stage runs `python -c BOOTSTRAP` with this interpreter: the workspace root goes
first on sys.path, the module is imported and the function called, with the stage's
params if it has a `params` parameter.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monoloop.errors import MonoloopError
from monoloop.pipelines.dag import Stage
from monoloop.pipelines.tree import Outputs, Remembered, hash_outputs, store_outputs
from monoloop.store.objects import ObjectStore

TAIL_LINES = 20
TERMINATE_GRACE_S = 5.0

BOOTSTRAP = """\
import importlib, json, os, sys
root, target = sys.argv[1], sys.argv[2]
sys.argv = [target]
sys.path.insert(0, root)
module, _, name = target.partition(":")
fn = getattr(importlib.import_module(module), name)
code = getattr(fn, "__code__", None)
names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] if code else ()
if "params" in names:
    fn(params=json.loads(os.environ.get("MONOLOOP_PARAMS") or "{}"))
else:
    fn()
"""


@dataclass(frozen=True)
class Job:
    stage: Stage
    env: Mapping[str, str]
    log: Path


@dataclass
class Finished:
    """A stage's process ended (`stored` False), then its outputs and log were stored
    (`stored` True). Each job reports twice, in that order: the stages after it may start
    on the first report, while the bytes are still being made durable."""

    stage: Stage
    exit_code: int | None  # None: the process could not start
    seconds: float
    log: Path
    stored: bool = False
    log_id: str | None = None
    outs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    remembered: Remembered | None = None
    error: str | None = None
    tail: list[str] = field(default_factory=list)
    outputs: Outputs | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


def command(stage: Stage, root: Path) -> tuple[list[str] | str, bool]:
    """(what to start, whether through the shell)."""
    if stage.cmd is not None:
        return stage.cmd, True
    assert stage.call is not None
    return [sys.executable, "-c", BOOTSTRAP, str(root), stage.call], False


class LocalExecutor:
    def __init__(
        self, root: Path, objects: ObjectStore, *, jobs: int, clock: Callable[[], int] | None = None
    ) -> None:
        self.root = root
        self.objects = objects
        self.jobs = max(1, jobs)
        self._clock = clock  # the stat cache's clock, read before outputs are hashed
        self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="stage")
        # One writer: the store batches each stage's files under one durability barrier, and
        # a single thread keeps those barriers from competing with each other.
        self._storer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._done: queue.Queue[Finished] = queue.Queue()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._cancelled = False
        self.running = 0  # processes started and not yet ended
        self.outstanding = 0  # jobs not yet stored

    def submit(self, job: Job) -> None:
        self.running += 1
        self.outstanding += 1
        self._pool.submit(self._run, job)

    def wait(self) -> Finished:
        """The next report (see `Finished`)."""
        finished = self._done.get()
        if finished.stored:
            self.outstanding -= 1
        else:
            self.running -= 1
        return finished

    def _run(self, job: Job) -> None:
        start = time.perf_counter()
        try:
            finished = self._execute(job, start)
        except BaseException as exc:  # a worker must always report back
            finished = Finished(
                job.stage, None, time.perf_counter() - start, job.log, error=f"{exc!r}"
            )
        self._done.put(finished)
        self._storer.submit(self._store, finished)

    def _execute(self, job: Job, start: float) -> Finished:
        stage = job.stage
        job.log.parent.mkdir(parents=True, exist_ok=True)
        what, shell = command(stage, self.root)
        with open(job.log, "wb") as log:
            try:
                with self._lock:
                    if self._cancelled:
                        raise InterruptedError("cancelled before it started")
                    proc = subprocess.Popen(
                        what,
                        shell=shell,  # running the user's command is the point
                        cwd=self.root,
                        env=dict(job.env),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group, stopped as a whole
                    )
                    self._procs[stage.id] = proc
            except OSError as exc:
                log.write(f"cannot start the stage: {exc}\n".encode())
                return self._failed(job, None, start, f"cannot start: {exc.strerror or exc}")
            try:
                code = proc.wait()
            finally:
                with self._lock:
                    self._procs.pop(stage.id, None)
        seconds = time.perf_counter() - start
        if code != 0:
            reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            return self._failed(job, code, start, reason)
        clock = self._clock() if self._clock is not None else 0
        try:
            outputs = hash_outputs(self.root, stage.written, clock)
            metrics = {rel: read_metrics(self.root / rel) for rel in stage.metrics}
        except MonoloopError as exc:
            return self._failed(job, code, start, exc.message)
        return Finished(
            stage,
            code,
            seconds,
            job.log,
            outs=outputs.ids,
            metrics=metrics,
            remembered=outputs.remembered,
            outputs=outputs,
        )

    def _failed(self, job: Job, code: int | None, start: float, reason: str) -> Finished:
        if code is not None and code >= 0 and not reason.startswith("exit code"):
            with open(job.log, "ab") as log:  # say in the log why an exit 0 failed
                log.write(f"\nmonoloop: {reason}\n".encode())
        elapsed = time.perf_counter() - start
        return Finished(job.stage, code, elapsed, job.log, error=reason, tail=tail(job.log))

    def _store(self, finished: Finished) -> None:
        """Store the outputs and the log, then report again."""
        done = replace(finished, stored=True)
        try:
            extra = [finished.log] if finished.log.exists() else []
            if finished.outputs is not None:
                ids = store_outputs(self.objects, finished.outputs, extra)
            else:
                ids = self.objects.put_files(extra) if extra else []
            done.log_id = ids[0] if ids else None
        except MonoloopError as exc:
            if done.ok:
                done.error = f"its outputs could not be stored: {exc.message}"
        except OSError as exc:
            if done.ok:
                done.error = f"its outputs could not be stored: {exc}"
        self._done.put(done)

    def cancel(self) -> None:
        """Stop every running stage: SIGTERM to its process group, SIGKILL after a grace."""
        with self._lock:
            self._cancelled = True
            procs = list(self._procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE_S
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._storer.shutdown(wait=True)


def tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a log, read from its end."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def read_metrics(path: Path) -> dict[str, float]:
    """Numbers in a JSON or YAML file, nested keys joined with '.'; other values ignored."""
    from monoloop.errors import InvalidInput

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"metrics file {path.name} cannot be read: {exc}") from None
    except Exception as exc:  # yaml.YAMLError, imported lazily
        raise InvalidInput(f"metrics file {path.name} is not valid YAML: {exc}") from None
    found: dict[str, float] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        elif (
            prefix
            and isinstance(node, int | float)
            and not isinstance(node, bool)
            and math.isfinite(node)
        ):
            found[prefix[:-1]] = node

    walk(doc, "")
    return found
