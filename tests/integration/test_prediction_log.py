"""The prediction log on SQLite and PostgreSQL: hourly partitions, windows, roles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monoloop.errors import InvalidInput
from monoloop.predictions import log
from monoloop.workspace import Workspace

HOUR = 3600.0
T0 = 1_764_460_800.0  # 2025-11-30T00:00:00Z


def batch(
    n: int, start: float, step: float, *, role: str = "primary", seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = start + step * np.arange(n)
    return pd.DataFrame(
        {
            "request_id": [f"r{seed}-{i}" for i in range(n)],
            "time": times,
            "deployment": "churn-api",
            "model": "churn",
            "version": 1,
            "role": role,
            "latency_ms": rng.uniform(0.5, 2.0, n),
            "in.tenure": rng.normal(24, 10, n),
            "in.region": rng.choice(["north", "south"], n),
            "out.prediction": rng.integers(0, 2, n),
            "out.proba.1": rng.uniform(0, 1, n),
        }
    )


def test_append_partitions_by_hour_and_reads_windows(ws: Workspace) -> None:
    first = batch(300, T0 + 0.5 * HOUR, 12.0, seed=1)  # spans 00:30 to 01:30
    ids = log.append(ws, "churn-api", first)
    assert len(ids) == 2  # two UTC hours, two objects
    log.append(ws, "churn-api", batch(50, T0 + 3 * HOUR, 1.0, role="shadow", seed=2))
    log.append(ws, "other", batch(10, T0, 1.0, seed=3))
    assert log.count(ws, "churn-api") == 350

    everything = log.read(ws, "churn-api")
    assert len(everything) == 300 and everything["time"].is_monotonic_increasing
    pd.testing.assert_frame_equal(
        everything.drop(columns=[]), first.reset_index(drop=True), check_dtype=False
    )
    last = log.read(ws, "churn-api", last_n=40)
    assert list(last["request_id"]) == list(first["request_id"][-40:])
    span = log.read(ws, "churn-api", since=T0 + HOUR, until=T0 + 1.25 * HOUR)
    assert span["time"].between(T0 + HOUR, T0 + 1.25 * HOUR, inclusive="left").all()
    assert len(span) == 75
    shadow = log.read(ws, "churn-api", roles=["shadow"])
    assert len(shadow) == 50 and set(shadow["role"]) == {"shadow"}
    assert list(log.inputs(last).columns) == ["tenure", "region"]
    assert log.read(ws, "nobody").empty


def test_a_retried_append_stores_identical_bytes_once(ws: Workspace) -> None:
    frame = batch(20, T0, 1.0)
    assert log.append(ws, "d", frame) == log.append(ws, "d", frame)
    assert log.count(ws, "d") == 20 and len(log.read(ws, "d")) == 20


def test_bad_batches_change_nothing(ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="lack request_id"):
        log.append(ws, "d", batch(5, T0, 1.0).drop(columns=["request_id"]))
    with pytest.raises(InvalidInput, match="unknown prediction roles"):
        log.append(ws, "d", batch(5, T0, 1.0, role="sideways"))
    with pytest.raises(InvalidInput, match="last_n"):
        log.read(ws, "d", last_n=0)
    assert log.count(ws, "d") == 0
