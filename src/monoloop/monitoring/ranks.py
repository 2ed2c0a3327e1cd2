"""Ranks and order statistics over a million values, without a binary search or a full sort.

Both lean on one trick: a table of uniform cells over a few sorted knots, so that finding a
value's place among the knots is arithmetic plus a few vectorised compares. Measured on
1M normal values (2-core VM): ranks among 501 knots 8 ms (np.searchsorted: 57 ms); 511
quantiles 24 ms (np.sort: 53 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

_CELLS_PER_KNOT = 16
# The table only pays when every cell holds few knots; heavy tails crowd the knots into a
# few cells, and then np.searchsorted is used instead.
_MAX_KNOTS_PER_CELL = 6
_TABLE_MIN_VALUES = 4096
# Order statistics: a pilot of PILOT_KNOTS quantiles from a sorted sample of about
# PILOT_SAMPLE values splits the data into buckets of ~n/8192 values; only the buckets that
# hold a wanted rank are sorted.
_PILOT_KNOTS = 8192
_PILOT_SAMPLE = 65536
_REFINE_MIN_VALUES = 200_000


@dataclass(frozen=True)
class _Table:
    low: float
    scale: float
    cells: int
    first: IndexArray  # knots in lower cells, per cell
    crowd: int  # most knots in one cell


def _table(knots: FloatArray) -> _Table | None:
    k = len(knots)
    if k < 8:
        return None
    # Uniform cells over the inner knots, so one far outlier (the min or the max) does not
    # stretch the cells; values beyond them land in the first or last cell.
    low, high = float(knots[1]), float(knots[-2])
    cells = _CELLS_PER_KNOT * k
    scale = cells / (high - low)
    if not np.isfinite(scale):
        return None
    # Knots and values go through the same monotone arithmetic, so a knot in a lower cell
    # is below every value in a higher one, whatever the rounding.
    knot_cell = np.clip((knots - low) * scale, 0, cells - 1).astype(np.intp)
    crowd = int(np.bincount(knot_cell).max())
    if crowd > _MAX_KNOTS_PER_CELL:
        return None
    first = np.searchsorted(knot_cell, np.arange(cells), side="left")
    return _Table(low, scale, cells, first, crowd)


def rank(knots: FloatArray, values: FloatArray) -> IndexArray:
    """For each value, how many knots lie strictly below it: np.searchsorted(knots, values),
    faster. `knots` strictly increasing, `values` finite."""
    table = _table(knots) if len(values) >= _TABLE_MIN_VALUES else None
    if table is None:
        return np.searchsorted(knots, values, side="left")
    position = values - table.low
    position *= table.scale
    np.clip(position, 0, table.cells - 1, out=position)
    result = table.first[position.astype(np.intp)]
    padded = np.append(knots, np.inf)
    for _ in range(table.crowd):
        result += padded[result] < values
    return result


class Ordered:
    """`values` as if sorted: the value at any rank, and how many are at or below a point.

    Large arrays are split into buckets by a pilot sample; a question sorts only the buckets
    it touches, and the next question reuses them when it can (the sketch asks for the
    quantiles, then for the counts at or below some of them: the same buckets).
    """

    def __init__(self, values: FloatArray) -> None:
        self.n = len(values)
        self._values = values
        self._sorted: FloatArray | None = None
        if self.n < _REFINE_MIN_VALUES:
            self._sorted = np.sort(values)
            return
        sample = np.sort(values[:: max(1, self.n // _PILOT_SAMPLE)])
        pick = np.linspace(0, len(sample) - 1, _PILOT_KNOTS).astype(np.intp)
        self._pilot = np.unique(sample[pick])
        if _table(self._pilot) is None:  # few distinct values or heavy tails: sort instead
            self._sorted = np.sort(values)
            return
        # Bucket b holds the values in (pilot[b-1], pilot[b]]: buckets are in sorted order.
        self._bucket = rank(self._pilot, values)
        self._size = np.bincount(self._bucket, minlength=len(self._pilot) + 1)
        self._ends = np.cumsum(self._size)
        self._starts = self._ends - self._size
        self._wanted = np.zeros(len(self._size), dtype=bool)
        self._chosen: FloatArray = np.zeros(0)
        self._offset: IndexArray = np.zeros(len(self._size), dtype=np.intp)

    def at(self, ranks: IndexArray) -> FloatArray:
        """The values at these 0-based ranks in ascending order."""
        if self._sorted is not None:
            return self._sorted[ranks]
        buckets = np.searchsorted(self._ends, ranks, side="right")
        self._select(buckets)
        return self._chosen[self._offset[buckets] + ranks - self._starts[buckets]]

    def at_or_below(self, points: FloatArray) -> IndexArray:
        """How many values are <= each point."""
        if self._sorted is not None:
            return np.searchsorted(self._sorted, points, side="right")
        buckets = np.searchsorted(self._pilot, points, side="left")
        self._select(buckets)
        result = self._starts[buckets].copy()
        for i, (b, point) in enumerate(zip(buckets.tolist(), points.tolist(), strict=True)):
            inside = self._chosen[self._offset[b] : self._offset[b] + self._size[b]]
            result[i] += np.searchsorted(inside, point, side="right")
        return result

    def _select(self, buckets: IndexArray) -> None:
        """Have the values of `buckets` sorted in `_chosen`, bucket b from `_offset[b]`."""
        if self._wanted[buckets[self._size[buckets] > 0]].all():
            return
        self._wanted[buckets] = True
        self._chosen = self._values[self._wanted[self._bucket]]
        self._chosen.sort()
        size = np.where(self._wanted, self._size, 0)
        self._offset = np.cumsum(size) - size
