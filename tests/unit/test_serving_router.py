"""The canary split: its share within binomial bounds, sticky per key, stable over time."""

from __future__ import annotations

import math

import pytest

from monoloop.serving.router import CANARY, PRIMARY, bucket, choose


@pytest.mark.parametrize("traffic", [0.01, 0.1, 0.5, 0.9])
def test_share_of_10000_keys_is_within_binomial_bounds(traffic: float) -> None:
    n = 10_000
    canary = sum(choose("churn-api", f"user-{i}", traffic) == CANARY for i in range(n))
    sd = math.sqrt(n * traffic * (1 - traffic))
    # 4.5 standard deviations: a failure by chance is about one in 150,000.
    assert abs(canary - n * traffic) < 4.5 * sd, (canary, n * traffic)


def test_a_key_always_gets_the_same_role_and_deployments_split_independently() -> None:
    keys = [f"session-{i}" for i in range(2_000)]
    first = [choose("churn-api", k, 0.3) for k in keys]
    assert first == [choose("churn-api", k, 0.3) for k in keys]
    # Pinned values: the split must not change between releases or processes.
    assert bucket("churn-api", "user-1") == pytest.approx(0.3412947765888809)
    assert 0.0 <= bucket("churn-api", "") < 1.0
    other = [choose("fraud-api", k, 0.3) for k in keys]
    both = sum(a == b == CANARY for a, b in zip(first, other, strict=True))
    assert both < 0.3 * 0.3 * len(keys) * 1.5  # about 9% of keys, not 30%


def test_growing_the_canary_only_moves_callers_towards_it() -> None:
    keys = [f"k{i}" for i in range(5_000)]
    small = {k for k in keys if choose("d", k, 0.1) == CANARY}
    large = {k for k in keys if choose("d", k, 0.4) == CANARY}
    assert small <= large


def test_no_canary_means_primary() -> None:
    assert choose("d", "anyone", None) == PRIMARY
    assert choose("d", "anyone", 0.0) == PRIMARY
