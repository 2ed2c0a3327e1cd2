"""The prediction log of a serving process: bounded, and retried when a write fails."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from monoloop.predictions import log as predlog
from monoloop.serving.predlog import Entry, PredictionLogWriter
from monoloop.serving.spec import PredictionLogSpec
from monoloop.workspace import Workspace


def entry(rows: int, rid: str = "r") -> Entry:
    return Entry(
        deployment="d",
        role="primary",
        model="m",
        version=1,
        request_ids=[rid],
        counts=[rows],
        latencies_ms=[1.0],
        time=time.time(),
        inputs={"a": np.arange(rows, dtype=float)},
        prediction=np.zeros(rows, dtype=int),
        proba=np.full((rows, 2), 0.5),
        classes=[0, 1],
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_writer_drops_and_counts_beyond_its_bound_and_retries_failed_writes(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = PredictionLogSpec(max_buffered_rows=10, flush_interval_s=3600, flush_rows=1000)
    writer = PredictionLogWriter(ws, spec)
    assert writer.put(entry(6, "a")) and writer.put(entry(4, "b"))
    assert not writer.put(entry(1, "c"))  # the bound: dropped, counted, never blocking
    assert (writer.pending_rows, writer.dropped_rows) == (10, 1)

    real = predlog.append
    calls = []

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("store unreachable")
        return real(*args, **kwargs)

    monkeypatch.setattr(predlog, "append", failing_once)
    assert writer.flush() is False  # kept for the next attempt, still within the bound
    assert (writer.pending_rows, writer.failed_writes) == (10, 1)
    assert not writer.put(entry(1, "d"))
    writer.close()
    assert (writer.pending_rows, writer.written_rows, writer.dropped_rows) == (0, 10, 2)
    logged = predlog.read(ws, "d")
    assert sorted(set(logged["request_id"])) == ["a", "b"] and len(logged) == 10
    assert list(logged.columns[-3:]) == ["out.prediction", "out.proba.0", "out.proba.1"]
