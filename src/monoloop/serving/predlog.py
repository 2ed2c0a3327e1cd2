"""Writing served predictions to the prediction log, off the request path, bounded.

Each micro-batch hands over one `Entry`: the batch's arrays as they are, with no row built
on the request path. A background thread writes what is buffered every
`flush_interval_s`, or as soon as `flush_rows` are waiting, through
`predictions.log.append` (one Parquet object per deployment and UTC hour, indexed in the
DB; see predictions/log.py for the row schema).

Memory is bounded: an entry that would take the buffer (waiting plus being written) past
`max_buffered_rows` is dropped and its rows counted, never blocking a response. A write
that fails (the DB or the store unreachable) keeps its rows for the next attempt; they
still count against the bound. `close()` writes everything left: on a graceful shutdown
(SIGTERM -> uvicorn drains the requests in flight -> the app's shutdown) nothing answered
is lost.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from monoloop.serving.drain import stop_and_drain
from monoloop.serving.spec import PredictionLogSpec
from monoloop.workspace import Workspace

log = logging.getLogger("monoloop.serving")


@dataclass(frozen=True, slots=True)
class Entry:
    """The predictions of one micro-batch of one role."""

    deployment: str
    role: str
    model: str
    version: int
    request_ids: list[str]
    counts: list[int]  # rows of each request, in order
    latencies_ms: list[float]  # of each request
    time: float  # when the batch was answered (seconds since the epoch)
    inputs: dict[str, np.ndarray]  # each input column, after the signature check
    prediction: np.ndarray
    proba: np.ndarray | None
    classes: list[Any] | None

    @property
    def rows(self) -> int:
        return len(self.prediction)


class PredictionLogWriter:
    def __init__(self, ws: Workspace, spec: PredictionLogSpec) -> None:
        self.ws = ws
        self.spec = spec
        self.written_rows = 0
        self.dropped_rows = 0
        self.failed_writes = 0
        self._held = 0  # rows waiting plus rows being written: what the bound limits
        self._waiting: list[Entry] = []
        self._waiting_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    @property
    def pending_rows(self) -> int:
        return self._held

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monoloop-predlog", daemon=True)
        self._thread.start()

    def put(self, entry: Entry) -> bool:
        """Buffer an entry; False if the bound made us drop it (its rows are counted)."""
        rows = entry.rows
        with self._lock:
            if self._held + rows > self.spec.max_buffered_rows:
                self.dropped_rows += rows
                return False
            self._held += rows
            self._waiting.append(entry)
            self._waiting_rows += rows
            full = self._waiting_rows >= self.spec.flush_rows
        if full:
            self._wake.set()
        return True

    def close(self, *, attempts: int = 5) -> None:
        """Stop the thread and write everything buffered (retrying a failing write)."""
        self._stop = True
        drained = stop_and_drain(self._thread, self._wake, self.flush, attempts=attempts)
        self._thread = None
        if not drained and self._held:
            log.error("prediction log: %d predictions could not be written", self._held)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.spec.flush_interval_s)
            self._wake.clear()
            if self._stop:
                return  # close() writes what is left, on its own thread
            try:
                self.flush()
            except Exception:  # never let the thread die: the next interval tries again
                log.exception("prediction log: flush failed")

    def flush(self) -> bool:
        """Write what is waiting; True when nothing is left waiting."""
        with self._lock:
            batch, self._waiting = self._waiting, []
            self._waiting_rows = 0
        if not batch:
            return True
        by_deployment: dict[str, list[Entry]] = defaultdict(list)
        for entry in batch:
            by_deployment[entry.deployment].append(entry)
        failed: list[Entry] = []
        for deployment, entries in by_deployment.items():
            rows = sum(e.rows for e in entries)
            try:
                from monoloop.predictions.log import append

                append(self.ws, deployment, frame(entries))
            except Exception as exc:  # DB or store down: keep the rows, try again later
                self.failed_writes += 1
                log.warning("prediction log: %d rows of %s not written: %s", rows, deployment, exc)
                failed.extend(entries)
                continue
            with self._lock:
                self._held -= rows
            self.written_rows += rows
        if failed:
            with self._lock:
                self._waiting[:0] = failed
                self._waiting_rows += sum(e.rows for e in failed)
            return False
        return True


def frame(entries: list[Entry]) -> Any:
    """The log rows of some entries of one deployment (predictions/log.py's schema), as an
    Arrow table built from the arrays (predictions/arrow.py: no pandas in the process)."""
    import pyarrow as pa

    from monoloop.predictions import arrow

    groups: dict[tuple[Any, ...], list[Entry]] = defaultdict(list)
    for e in entries:
        shape = (e.role, e.model, e.version, tuple(e.inputs), _classes_key(e))
        groups[shape].append(e)
    parts = []
    for (role, model, version, names, _), group in groups.items():
        counts = [c for e in group for c in e.counts]
        rows = sum(counts)
        ids = [r for e in group for r in e.request_ids]
        per_row = [r for r, c in zip(ids, counts, strict=True) for _ in range(c)]
        columns: dict[str, Any] = {
            "request_id": arrow.text(per_row),
            "time": arrow.array(np.repeat([e.time for e in group], [e.rows for e in group])),
            "deployment": arrow.constant(group[0].deployment, rows),
            "model": arrow.constant(model, rows),
            "version": arrow.constant(version, rows),
            "role": arrow.constant(role, rows),
            "latency_ms": arrow.array(
                np.repeat(np.array([lat for e in group for lat in e.latencies_ms]), counts)
            ),
        }
        for name in names:
            columns[f"in.{name}"] = arrow.array(np.concatenate([e.inputs[name] for e in group]))
        columns["out.prediction"] = arrow.array(np.concatenate([e.prediction for e in group]))
        first = group[0]
        if first.proba is not None and first.classes is not None:
            proba = np.concatenate([e.proba for e in group if e.proba is not None])
            for i, cls in enumerate(first.classes):
                columns[f"out.proba.{cls}"] = arrow.array(proba[:, i])
        parts.append(arrow.table(columns))
    if len(parts) == 1:
        return parts[0]
    # Roles or versions with other columns (a canary with new classes): missing ones null.
    return pa.concat_tables(parts, promote_options="permissive")


def _classes_key(entry: Entry) -> tuple[Any, ...] | None:
    if entry.proba is None or entry.classes is None:
        return None
    return tuple(entry.classes)
