"""Latency histograms that add up across minutes and replicas, and the buckets of a window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monoloop.serving.histogram import BOUNDS_MS, bucket, encode, observe, quantiles, sparse, sum_by
from monoloop.serving.minutes import MinuteCounts
from monoloop.serving.traffic import Row, Rows


def quantile(stored: list[dict[str, int]], q: float) -> float | None:
    """The quantile of these stored histograms summed."""
    return quantiles(sum_by(sparse(stored), np.zeros(len(stored), dtype=np.int64), 1), q)[0]


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
    got = quantile([encode(counts)], q)
    assert got == pytest.approx(float(np.quantile(values, q)), rel=0.1)


@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=50), st.integers(1, 4))
def test_summed_parts_equal_the_whole(values: list[float], parts: int) -> None:
    whole: dict[int, int] = {}
    pieces: list[dict[int, int]] = [{} for _ in range(parts)]
    for i, v in enumerate(values):
        observe(whole, v)
        observe(pieces[i % parts], v)
    stored = [encode(p) for p in pieces]
    summed = sum_by(sparse(stored), np.zeros(parts, dtype=np.int64), 1)
    assert np.array_equal(summed, sum_by(sparse([encode(whole)]), np.zeros(1, dtype=np.int64), 1))
    for q in (0.5, 0.99):
        assert quantile(stored, q) == quantile([encode(whole)], q)


def test_empty_overflowing_and_foreign_histograms() -> None:
    assert quantile([], 0.5) is None and quantile([{}], 0.5) is None
    counts: dict[int, int] = {}
    observe(counts, 10**9)  # beyond the last bound: reads as that bound
    assert encode(counts) == {"inf": 1}
    assert quantile([encode(counts)], 0.99) == BOUNDS_MS[-1]
    assert bucket(BOUNDS_MS[3]) == 3 and bucket(BOUNDS_MS[3] * 1.01) == 4
    # A bound another version used lands in the bucket that holds it.
    assert quantile([{"3.3": 10}], 0.5) == pytest.approx(3.3, rel=0.1)
    groups = sum_by(sparse([{"1": 1}, {"2": 2}, {"3": 3}]), np.array([1, -1, 1]), 2)
    assert groups[0].sum() == 0 and groups[1].sum() == 4


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


def minute(start: int, role: str, requests: int, errors: int, ms: float) -> Row:
    latency: dict[int, int] = {}
    for _ in range(requests - errors):
        observe(latency, ms)
    return Row(1, start, role, "m", 1, requests, errors, 0, encode(latency))


def test_points_fill_every_bucket_of_the_window() -> None:
    rows = [minute(0, "primary", 10, 1, 2.0), minute(60, "canary", 5, 0, 4.0)]
    rows.append(minute(120, "primary", 4, 4, 1.0))
    points = Rows(rows).points(first=0, now=299, bucket_s=120)
    assert [p.start for p in points] == [0, 120, 240]
    assert [p.requests for p in points] == [15, 4, 0]
    assert points[0].by_role == {"primary": 10, "canary": 5}
    assert points[0].rate_per_s == pytest.approx(15 / 120)
    assert points[0].error_rate == pytest.approx(1 / 15)
    assert points[1].error_rate == 1.0 and points[1].p99_ms is None
    assert points[2].error_rate is None and points[2].p50_ms is None
    assert points[0].p50_ms == pytest.approx(2.0, rel=0.1)
    assert points[0].p99_ms == pytest.approx(4.0, rel=0.1)
    assert Rows([]).points(first=0, now=0, bucket_s=60)[0].requests == 0
