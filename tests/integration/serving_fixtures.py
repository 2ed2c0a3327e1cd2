"""Serving tests' helpers: models to serve, and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn
from sklearn.linear_model import LogisticRegression
from tests.integration.registry_fixtures import FEATURES, churn_frame, configure, train_model

from monoloop.registry.aliases import set_alias
from monoloop.registry.model import ModelVersion
from monoloop.registry.service import register_model
from monoloop.serving.app import create_serving_app
from monoloop.serving.state import ServingState
from monoloop.workspace import Workspace

LR_COLUMNS = [f"f{i}" for i in range(20)]


def register_churn(ws: Workspace, *, seed: int = 0, c: float = 1.0) -> ModelVersion:
    """A ColumnTransformer pipeline on named columns: served through a DataFrame."""
    t = train_model(seed=seed, c=c, rows=300)
    return register_model(ws, "churn", t.model, sample_input=t.x_train.head(50))


def lr_data(rows: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(LR_COLUMNS)))
    return x, (x @ rng.normal(size=len(LR_COLUMNS)) > 0).astype(int)


def register_lr(ws: Workspace, name: str = "lr") -> tuple[ModelVersion, LogisticRegression]:
    """A plain estimator fitted on an array: served from a float matrix, no DataFrame."""
    x, y = lr_data()
    model = LogisticRegression(max_iter=300).fit(x, y)
    sample = pd.DataFrame(x[:50], columns=LR_COLUMNS)
    return register_model(ws, name, model, sample_input=sample), model


def churn_rows(n: int, seed: int = 5) -> list[dict[str, Any]]:
    frame = churn_frame(n, seed=seed)[FEATURES]
    return [
        {"tenure": float(r.tenure), "calls": int(r.calls), "region": str(r.region)}
        for r in frame.itertuples()
    ]


def deploy(ws: Workspace, deployments: dict[str, Any], **serving: Any) -> Workspace:
    """monoloop.yaml with these deployments (and `serving:` settings); the reopened ws."""
    extra: dict[str, Any] = {"deployments": deployments}
    if serving:
        extra["serving"] = serving
    return configure(ws, extra)


def alias(ws: Workspace, ref: str, version: int) -> None:
    name, _, label = ref.partition("@")
    set_alias(ws, name, label, version)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Running:
    url: str
    state: ServingState
    client: httpx.Client

    def predict(self, deployment: str, body: Any, **headers: str) -> httpx.Response:
        return self.client.post(f"/v1/deployments/{deployment}/predict", json=body, headers=headers)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get("/readyz").status_code == 200:
                return
            time.sleep(0.02)
        raise AssertionError(f"not ready after {timeout} s: {self.client.get('/readyz').text}")

    def wait_first_pass(self, timeout: float = 30.0) -> None:
        """Until the registry follower has tried every slot once (loaded or failed)."""
        deadline = time.monotonic() + timeout
        while not all(slot.attempted for slot in self.state.slots):
            assert time.monotonic() < deadline, f"no first pass after {timeout} s"
            time.sleep(0.01)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics (0 when absent)."""
        text = self.client.get("/metrics").text
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            key, _, value = line.rpartition(" ")
            if key == (f"{name}{{{want}}}" if want else name):
                return float(value)
        return 0.0


@contextmanager
def serving(
    ws: Workspace, deployments: list[str] | None = None, *, ready: bool = True, poll: float = 0.1
) -> Iterator[Running]:
    """A real server in a thread: uvicorn on a free loopback port, the app opening its own
    workspace from the settings, as `monoloop serve` runs it."""
    app = create_serving_app(ws.settings, deployments, poll_interval_s=poll)
    sock = free_socket()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert thread.is_alive(), "the server thread died"
            time.sleep(0.01)
        with httpx.Client(base_url=url, timeout=30) as client:
            running = Running(url, app.state.serving, client)
            if ready:
                running.wait_ready()
            yield running
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()
