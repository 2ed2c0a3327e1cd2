"""Latency histograms that add up: fixed, geometric buckets, so the counts of any set of
minutes, roles and serving processes can be summed and a quantile read from the sum.

    counts = {}
    observe(counts, 3.7)                  # milliseconds
    quantile(merge([counts, other]), 0.99)

Bucket `i` holds the latencies in (BOUNDS_MS[i-1], BOUNDS_MS[i]]; the last, `OVERFLOW`,
those above the largest bound. The bounds grow by 10% from 0.05 ms to about 2 minutes, so a
quantile read from the buckets (interpolated inside its bucket) is within 10% of the true
one. Stored as JSON, a histogram names each bucket by its upper bound
(`{"1.27": 5, "inf": 1}`), so bounds changed in a later version still read right.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping

GROWTH = 1.1
FIRST_MS = 0.05
BOUNDS_MS: tuple[float, ...] = tuple(
    float(f"{FIRST_MS * GROWTH**i:.4g}") for i in range(int(math.log(2.4e6) / math.log(GROWTH)))
)
OVERFLOW = len(BOUNDS_MS)


def bucket(ms: float) -> int:
    """The index of the bucket that holds a latency of `ms` milliseconds."""
    return bisect_left(BOUNDS_MS, ms)


def observe(counts: dict[int, int], ms: float) -> None:
    index = bisect_left(BOUNDS_MS, ms)
    counts[index] = counts.get(index, 0) + 1


def merge(histograms: Iterable[Mapping[float, int]]) -> dict[float, int]:
    """Sum histograms keyed by upper bound (as `decode` returns them)."""
    out: dict[float, int] = {}
    for histogram in histograms:
        for upper, count in histogram.items():
            out[upper] = out.get(upper, 0) + count
    return out


def encode(counts: Mapping[int, int]) -> dict[str, int]:
    """Bucket indexes to a JSON-ready mapping of upper bound -> count (empty ones left out)."""
    return {_name(i): n for i, n in sorted(counts.items()) if n}


def decode(stored: Mapping[str, int]) -> dict[float, int]:
    """A stored histogram: upper bound in ms (inf for the overflow) -> count."""
    return {float(upper): int(n) for upper, n in stored.items()}


def quantile(histogram: Mapping[float, int], q: float) -> float | None:
    """The `q` quantile (0 < q <= 1) in ms, linear inside its bucket; None when empty.

    The overflow bucket has no upper bound: a quantile that falls in it reads as the
    largest finite bound (a lower bound of the truth, as with Prometheus)."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for upper in sorted(histogram):
        count = histogram[upper]
        if count <= 0:
            continue
        if seen + count >= rank:
            if math.isinf(upper):
                return lower if lower > 0 else BOUNDS_MS[-1]
            low = _lower(upper)
            return low + (upper - low) * (rank - seen) / count
        seen += count
        lower = upper
    return lower


def _lower(upper: float) -> float:
    """The lower bound of the bucket whose upper bound is `upper`."""
    index = bisect_left(BOUNDS_MS, upper)
    if index < OVERFLOW and BOUNDS_MS[index] == upper:
        return BOUNDS_MS[index - 1] if index > 0 else 0.0
    return upper / GROWTH  # a bound this version does not use: assume the same growth


def _name(index: int) -> str:
    return "inf" if index >= OVERFLOW else f"{BOUNDS_MS[index]:g}"
