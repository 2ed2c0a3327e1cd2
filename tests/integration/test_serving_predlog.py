"""The prediction log of a serving process: bounded, retried, and complete after SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import httpx
import numpy as np
import pytest
from tests.integration.serving_fixtures import (
    LR_COLUMNS,
    alias,
    deploy,
    free_socket,
    lr_data,
    register_lr,
)

from monoloop.predictions import log as predlog
from monoloop.serving.predlog import Entry, PredictionLogWriter
from monoloop.serving.spec import PredictionLogSpec
from monoloop.workspace import Workspace

# The registry warns when an array-fitted model meets a DataFrame (registration, the
# in-process reference): expected here, where such a model is the point.
pytestmark = pytest.mark.filterwarnings("ignore:X has feature names")


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


def test_sigterm_under_load_loses_no_logged_prediction(ws: Workspace) -> None:
    register_lr(ws)
    alias(ws, "lr@champion", 1)
    # Nothing is written before the shutdown: the final flush must write it all.
    ws = deploy(ws, {"lr-api": {"model": "lr@champion"}}, prediction_log={"flush_interval_s": 600})
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    command = "from monoloop.cli.main import main; main()"
    server = subprocess.Popen(
        [sys.executable, "-c", command, "-C", str(ws.root), "serve", "-p", str(port), "--json"],
        env={**os.environ, "MONOLOOP_DB_URL": ws.settings.db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server)
        answered = _load_then_terminate(url, server)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, err.decode()
    ready = json.loads(out)
    assert ready["url"] == url and ready["deployments"][0]["roles"][0]["version"] == 1
    assert sum(answered.values()) > 50
    logged = predlog.read(ws, "lr-api")
    assert Counter(logged["request_id"]) == answered  # every answered row, nothing else
    assert set(logged["version"]) == {1} and set(logged["role"]) == {"primary"}
    assert [c for c in logged.columns if c.startswith("in.")] == [f"in.{c}" for c in LR_COLUMNS]


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1].decode()
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("monoloop serve did not become ready")


def _load_then_terminate(url: str, server: subprocess.Popen[bytes]) -> Counter[str]:
    """Four clients post until the server is gone; SIGTERM arrives in the middle."""
    answered: Counter[str] = Counter()
    lock = threading.Lock()
    x, _ = lr_data(rows=50, seed=3)
    records = [dict(zip(LR_COLUMNS, map(float, r), strict=True)) for r in x]

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(100_000):
                rid = f"c{k}-{i}"
                rows = records[i % 3 : i % 3 + 1 + i % 3]
                try:
                    got = http.post(
                        "/v1/deployments/lr-api/predict", json=rows, headers={"x-request-id": rid}
                    )
                except httpx.TransportError:
                    return  # the server has stopped listening
                if got.status_code == 200:
                    assert got.json()["request_id"] == rid
                    with lock:
                        answered[rid] = len(rows)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(60)
    return answered
