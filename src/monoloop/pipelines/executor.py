"""Local execution: each stage in its own process, up to `jobs` at once.

A worker thread runs the stage's process (`process.execute`: stdout and stderr into one
log file) and hashes what it wrote; a storing thread then puts the outputs and the log
itself into the object store (so a failure can be read later by its id). Everything that
touches the DB, the lock file or the stat cache stays with the coordinating thread,
which receives `Finished` reports in completion order.

Every executor offers the same small surface to the coordinator: `submit(job)`, `wait()`
for the next report, `running` and `outstanding` counts, `cancel()` and `close()`.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from monoloop.pipelines import process
from monoloop.pipelines.dag import Stage
from monoloop.pipelines.process import Finished, Job
from monoloop.store.objects import ObjectStore


class Executor(Protocol):
    running: int  # processes started and not yet ended
    outstanding: int  # jobs not yet stored
    # Whether a stage's deps must be in the object store (`Job.inputs`) before it starts:
    # true when it runs where the working tree is not.
    needs_inputs: bool

    def submit(self, job: Job) -> None: ...
    def wait(self) -> Finished: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


class LocalExecutor:
    needs_inputs = False

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
        self.running = 0
        self.outstanding = 0

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
            finished = process.execute(
                job, self.root, clock=self._clock, starter=self._start, ended=self._ended
            )
        except BaseException as exc:  # a worker must always report back
            finished = Finished(
                job.stage, None, time.perf_counter() - start, job.log, error=f"{exc!r}"
            )
        self._done.put(finished)
        self._storer.submit(self._store, finished)

    def _start(
        self, stage: Stage, start: Callable[[], subprocess.Popen[bytes]]
    ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._cancelled:
                raise InterruptedError("cancelled before it started")
            proc = start()
            self._procs[stage.id] = proc
            return proc

    def _ended(self, stage: Stage) -> None:
        with self._lock:
            self._procs.pop(stage.id, None)

    def _store(self, finished: Finished) -> None:
        self._done.put(process.store(self.objects, finished))

    def cancel(self) -> None:
        """Stop every running stage: SIGTERM to its process group, SIGKILL after a grace."""
        with self._lock:
            self._cancelled = True
            procs = list(self._procs.values())
        process.stop(procs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._storer.shutdown(wait=True)
