"""Latency histograms that add up across minutes and replicas, and the buckets of a window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monoloop.serving.histogram import BOUNDS_MS, bucket, decode, encode, merge, observe, quantile
from monoloop.serving.minutes import MinuteCounts
from monoloop.serving.traffic import Minute, summarise


def test_bounds_grow_by_ten_percent_from_fifty_microseconds_to_minutes() -> None:
    assert BOUNDS_MS[0] == 0.05 and BOUNDS_MS[-1] > 100_000
    ratios = np.array(BOUNDS_MS[1:]) / np.array(BOUNDS_MS[:-1])
    assert np.allclose(ratios, 1.1, rtol=2e-3)


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_quantiles_are_within_ten_percent(q: float) -> None:
    values = np.random.default_rng(0).lognormal(mean=1.0, sigma=1.2, size=20_000)
    counts: dict[int, int] = {}
    for v in values:
        observe(counts, float(v))
    got = quantile(decode(encode(counts)), q)
    assert got == pytest.approx(float(np.quantile(values, q)), rel=0.1)


@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=50), st.integers(1, 4))
def test_merged_parts_equal_the_whole(values: list[float], parts: int) -> None:
    whole: dict[int, int] = {}
    pieces: list[dict[int, int]] = [{} for _ in range(parts)]
    for i, v in enumerate(values):
        observe(whole, v)
        observe(pieces[i % parts], v)
    merged = merge(decode(encode(p)) for p in pieces)
    assert merged == decode(encode(whole))
    assert quantile(merged, 0.99) == quantile(decode(encode(whole)), 0.99)


def test_empty_and_overflowing_histograms() -> None:
    assert quantile({}, 0.5) is None
    counts: dict[int, int] = {}
    observe(counts, 10**9)  # beyond the last bound: reads as that bound
    assert encode(counts) == {"inf": 1}
    assert quantile(decode(encode(counts)), 0.99) == BOUNDS_MS[-1]
    assert bucket(BOUNDS_MS[3]) == 3 and bucket(BOUNDS_MS[3] * 1.01) == 4


def test_counts_record_per_minute_and_forget_written_minutes() -> None:
    clock = [120.5]
    counts = MinuteCounts(clock=lambda: clock[0])
    counts.record("api", "primary", "m", 1, 200, 0.002)
    counts.record("api", "primary", "m", 1, 422, 0.0001)
    counts.record("api", "primary", "m", 1, 503, 0.0001)
    taken = counts.take()
    (key,) = taken
    c = taken[key]
    assert key == ("api", 120, "primary", "m", 1)
    assert (c.requests, c.errors_4xx, c.errors_5xx) == (3, 1, 1)
    assert sum(c.latency.values()) == 1, "only answered requests have a latency"
    assert counts.take() == {}, "nothing changed since"
    counts.restore([key])
    assert counts.take()[key].requests == 3, "a failed write is written again"
    clock[0] = 250.0
    counts.forget(before=240)
    assert len(counts) == 0


def minute(start: int, role: str, requests: int, errors: int, ms: float) -> Minute:
    latency: dict[int, int] = {}
    for _ in range(requests - errors):
        observe(latency, ms)
    return Minute(1, start, role, "m", 1, requests, errors, 0, decode(encode(latency)))


def test_summarise_fills_every_bucket_of_the_window() -> None:
    rows = [minute(0, "primary", 10, 1, 2.0), minute(60, "canary", 5, 0, 4.0)]
    rows.append(minute(120, "primary", 4, 4, 1.0))
    points = summarise(rows, first=0, now=299, bucket_s=120)
    assert [p.start for p in points] == [0, 120, 240]
    assert [p.requests for p in points] == [15, 4, 0]
    assert points[0].by_role == {"primary": 10, "canary": 5}
    assert points[0].rate_per_s == pytest.approx(15 / 120)
    assert points[0].error_rate == pytest.approx(1 / 15)
    assert points[1].error_rate == 1.0 and points[1].p99_ms is None
    assert points[2].error_rate is None and points[2].p50_ms is None
