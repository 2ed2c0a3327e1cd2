"""Adaptive micro-batching: concurrent requests of one slot share one predict call.

A request's handler puts a `Job` in its slot's queue and awaits its future. The first job
of an empty queue schedules a flush with `call_soon`, so the flush runs once the event loop
has handled everything that was already ready: every request that arrived in the same
wave of I/O joins the batch. Alone, a request is answered in the next loop turn (no
timer, no added latency); under load, batches grow with the concurrency by themselves.

The flush runs on the event loop thread. Serving a model is CPU work under the GIL, so a
worker thread would only add hand-offs; swapping a version is a reference read, and
loading one happens on the follower's thread (models.py).

Each job is encoded with the codec of the version that answers the batch: a job whose input
does not fit that version's signature fails alone (422). A batch whose predict raises is
retried job by job, so one poisonous request cannot fail its neighbours.

A version served through its ONNX companion (`runtime: auto`) hands two kinds of jobs to
the version's own model (models.NativeModel): those with a missing value, and those the
graph fails on. The first such job starts loading it on a thread; the jobs wait for it
(the event loop keeps answering the others), and later ones are answered at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from monoloop.errors import MonoloopError
from monoloop.serving.inputs import Payload
from monoloop.serving.models import Loaded, NativeModel, Slot

log = logging.getLogger("monoloop.serving")


class PredictionFailed(MonoloopError):
    """The model raised while predicting (HTTP 500)."""


class NotLoaded(MonoloopError):
    """The slot has no version loaded yet (HTTP 503)."""

    http_status = 503


@dataclass(slots=True)
class Job:
    payload: Payload
    request_id: str
    start: float  # time.perf_counter() when the request arrived
    future: asyncio.Future[Answer] | None  # None: a shadow job, nobody waits for it


@dataclass(frozen=True, slots=True)
class Answer:
    loaded: Loaded
    predictions: np.ndarray
    proba: np.ndarray | None


BatchHook = Callable[[Slot, Loaded, list[Job], Any, np.ndarray, np.ndarray | None], None]
ErrorHook = Callable[[Slot, Job, MonoloopError], None]


class Batcher:
    def __init__(
        self,
        slot: Slot,
        *,
        max_rows: int,
        on_batch: BatchHook,
        on_error: ErrorHook,
    ) -> None:
        self.slot = slot
        self.max_rows = max_rows
        self.on_batch = on_batch
        self.on_error = on_error
        self._queue: list[Job] = []
        self._scheduled = False
        self._waiting: dict[int, list[Job]] = {}  # for a NativeModel, by its id

    def submit(self, job: Job) -> None:
        self._queue.append(job)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        queue, self._queue = self._queue, []
        try:
            self._answer(queue)
        except Exception as exc:  # a bug here must fail these jobs, not hang them
            log.exception("micro-batch of %s failed", self.slot.deployment)
            failure = PredictionFailed(f"internal error: {type(exc).__name__}: {exc}")
            for job in queue:
                self._fail(job, failure)

    def _answer(self, queue: list[Job]) -> None:
        loaded = self.slot.current
        if loaded is None:
            error = NotLoaded(
                f"{self.slot.ref} is not loaded yet",
                hint=self.slot.error or "retry when GET /readyz answers 200",
            )
            for job in queue:
                self._fail(job, error)
            return
        self._answer_with(loaded, queue)

    def _answer_with(self, loaded: Loaded, queue: list[Job]) -> None:
        group: list[tuple[Job, Any]] = []
        aside: list[Job] = []  # for the version's own model (see the module's docstring)
        rows = 0
        for job in queue:
            try:
                block = loaded.codec.encode(job.payload)
            except MonoloopError as exc:
                self._fail(job, exc)
                continue
            if loaded.native is not None and loaded.codec.has_missing(block):
                aside.append(job)
                continue
            if group and rows + job.payload.rows > self.max_rows:
                self._run(loaded, group)
                group, rows = [], 0
            group.append((job, block))
            rows += job.payload.rows
        if group:
            self._run(loaded, group)
        if aside:
            assert loaded.native is not None
            self._natively(loaded.native, aside)

    def _run(self, loaded: Loaded, group: list[tuple[Job, Any]]) -> None:
        model_input = loaded.codec.join([block for _, block in group])
        try:
            predictions, proba = loaded.run(model_input)
        except Exception as exc:
            if loaded.native is not None:  # the graph failed: the model itself answers
                self._natively(loaded.native, [job for job, _ in group])
                return
            if len(group) > 1:
                for one in group:  # find the job that breaks it; the others are answered
                    self._run(loaded, [one])
                return
            failure = PredictionFailed(
                f"{loaded.name} failed to predict: {type(exc).__name__}: {exc}",
                hint="check the input values against the model's training data",
            )
            self._fail(group[0][0], failure)
            return
        jobs = [job for job, _ in group]
        start = 0
        for job in jobs:
            end = start + job.payload.rows
            future = job.future
            if future is not None and not future.done():
                part = None if proba is None else proba[start:end]
                future.set_result(Answer(loaded, predictions[start:end], part))
            start = end
        self.on_batch(self.slot, loaded, jobs, model_input, predictions, proba)

    def _natively(self, native: NativeModel, jobs: list[Job]) -> None:
        """Answer `jobs` with the version's own model, loading it first if need be."""
        if native.loaded is not None:
            self._answer_with(native.loaded, jobs)
            return
        waiting = self._waiting.get(id(native))
        if waiting is None:  # this batcher's jobs wait for it, answered here once it is in
            waiting = self._waiting[id(native)] = []
            native.listeners.append(self._drain_native)
        waiting.extend(jobs)
        if not native.loading:
            native.loading = True
            loop = asyncio.get_running_loop()
            threading.Thread(
                target=self._load_native, args=(native, loop), name="monoloop-native", daemon=True
            ).start()

    def _load_native(self, native: NativeModel, loop: asyncio.AbstractEventLoop) -> None:
        try:
            native.loaded = native.load()
            log.info("%s: loaded %s's own model", self.slot.deployment, native.loaded.name)
        except MonoloopError as exc:
            native.error = exc.message
        except Exception as exc:  # a model library failing on its own bytes
            native.error = f"{type(exc).__name__}: {exc}"
        native.loading = False  # after a failure, the next such request tries again
        listeners, native.listeners = native.listeners, []
        for drain in listeners:
            loop.call_soon_threadsafe(drain, native)

    def _drain_native(self, native: NativeModel) -> None:
        jobs = self._waiting.pop(id(native), [])
        if native.loaded is not None:
            self._answer_with(native.loaded, jobs)
            return
        failure = PredictionFailed(
            f"{self.slot.ref}: the ONNX graph does not answer this request, and the model "
            f"itself failed to load: {native.error}",
            hint="serve the deployment with runtime: native to see the model's own error",
        )
        for job in jobs:
            self._fail(job, failure)

    def _fail(self, job: Job, error: MonoloopError) -> None:
        if job.future is not None and not job.future.done():
            job.future.set_exception(error)
        self.on_error(self.slot, job, error)


def elapsed_ms(job: Job, now: float | None = None) -> float:
    return ((now if now is not None else time.perf_counter()) - job.start) * 1000.0
