"""Latency histograms that add up: fixed, geometric buckets, so the counts of any set of
minutes, roles and serving processes can be summed and a quantile read from the sum.

    counts = {}
    observe(counts, 3.7)                  # milliseconds: counts[bucket index] += 1
    stored = encode(counts)               # {"3.797": 1}: JSON-ready
    triplets = sparse([stored, other])    # many stored histograms at once
    quantiles(sum_by(triplets, np.array([0, 0]), 1), 0.99)   # summed: [p99]

Bucket `i` holds the latencies in (BOUNDS_MS[i-1], BOUNDS_MS[i]]; the last, `OVERFLOW`,
those above the largest bound. The bounds grow by 10% from 0.05 ms to about 2 minutes, so a
quantile read from the buckets (interpolated inside its bucket) is within 10% of the true
one; one in the overflow bucket reads as the largest bound (a lower bound of the truth,
as with Prometheus). Stored as JSON, a histogram names each bucket by its upper bound
(`{"1.27": 5, "inf": 1}`), so bounds changed in a later version still read right.

Many stored histograms are summed in bulk with numpy (`sparse`, `sum_by`, `quantiles`):
the UI sums a week of minutes of several replicas (tens of thousands) per page.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import methodcaller
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

GROWTH = 1.1
FIRST_MS = 0.05
BOUNDS_MS: tuple[float, ...] = tuple(
    float(f"{FIRST_MS * GROWTH**i:.4g}") for i in range(int(math.log(2.4e6) / math.log(GROWTH)))
)
OVERFLOW = len(BOUNDS_MS)
WIDTH = OVERFLOW + 1  # buckets, the overflow included


def bucket(ms: float) -> int:
    """The index of the bucket that holds a latency of `ms` milliseconds."""
    return bisect_left(BOUNDS_MS, ms)


def observe(counts: dict[int, int], ms: float) -> None:
    index = bisect_left(BOUNDS_MS, ms)
    counts[index] = counts.get(index, 0) + 1


def encode(counts: Mapping[int, int]) -> dict[str, int]:
    """Bucket indexes to a JSON-ready mapping of upper bound -> count (empty ones left out)."""
    return {_name(i): n for i, n in sorted(counts.items()) if n}


def _name(index: int) -> str:
    return "inf" if index >= OVERFLOW else f"{BOUNDS_MS[index]:g}"


# --- many at once ------------------------------------------------------------------------

_INDEX = {_name(i): i for i in range(WIDTH)}


def _index_of(name: str) -> int:
    """A stored bucket name's index; a bound this version does not use goes to the bucket
    that holds it."""
    found = _INDEX.get(name)
    if found is not None:
        return found
    return bucket(float(name))  # "inf" -> OVERFLOW


def sparse(
    stored: Sequence[Mapping[str, int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored histograms (as `encode` made them) as (row, bucket index, count) arrays."""
    import numpy as np

    names = list(chain.from_iterable(stored))
    counts = list(chain.from_iterable(map(methodcaller("values"), stored)))
    lengths = list(map(len, stored))
    try:
        index = list(map(_INDEX.__getitem__, names))
    except KeyError:
        index = [_index_of(n) for n in names]
    rows = np.repeat(np.arange(len(lengths)), lengths)
    return rows, np.asarray(index, dtype=np.int64), np.asarray(counts, dtype=np.int64)


def sum_by(
    triplets: tuple[np.ndarray, np.ndarray, np.ndarray], group: np.ndarray, groups: int
) -> np.ndarray:
    """The histograms summed per group: `group[row]` is each row's group (-1: none); a
    (groups, WIDTH) array of counts."""
    import numpy as np

    rows, index, counts = triplets
    of = group[rows]
    keep = of >= 0
    flat = of[keep] * WIDTH + index[keep]
    summed = np.bincount(flat, weights=counts[keep], minlength=groups * WIDTH)
    return summed.reshape(groups, WIDTH)


def quantiles(matrix: np.ndarray, q: float) -> list[float | None]:
    """`quantile` of each row of a (n, WIDTH) array of counts."""
    import numpy as np

    if len(matrix) == 0:
        return []
    cumulative = np.cumsum(matrix, axis=1)
    total = cumulative[:, -1]
    rank = q * total
    at = np.minimum((cumulative < rank[:, None]).sum(axis=1), WIDTH - 1)
    rows = np.arange(len(matrix))
    before = np.where(at > 0, cumulative[rows, np.maximum(at - 1, 0)], 0)
    count = matrix[rows, at]
    upper = np.asarray([*BOUNDS_MS, BOUNDS_MS[-1]])[at]
    lower = np.asarray([0.0, *BOUNDS_MS])[at]
    inside = np.divide(rank - before, count, out=np.zeros(len(matrix)), where=count > 0)
    value = np.where(at >= OVERFLOW, BOUNDS_MS[-1], lower + (upper - lower) * inside)
    return [float(v) if t > 0 else None for v, t in zip(value, total, strict=True)]
