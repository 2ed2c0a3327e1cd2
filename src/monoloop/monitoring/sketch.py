"""A numeric column kept as quantiles, and a window of values counted against them.

The reference profile keeps a numeric column as its quantiles at `probabilities()` (min,
every 1/500th, max, and a few more in each tail), or, when it has no more than
SKETCH_SIZE + 1 values, as its sorted values (an *exact* sketch). Monitoring reads the
sketch as a CDF on a grid of its distinct knots u_0 < ... < u_k-1: the reference's F(u_j-)
and F(u_j) are known at every knot, and F runs linearly from one knot to the next (flat in
an exact sketch, where no value lies between).

A window is counted against the grid in one pass: for every knot the values strictly
below it (and above the previous knot) and the values equal to it, plus the sums of those
values. Kolmogorov-Smirnov, Wasserstein and the PSI bins all come from these counts, so
the reference rows are never needed and the window is never sorted.

Accuracy, against the exact two-sample statistics on the reference rows:
- KS is evaluated at every knot, from both sides; the true supremum can lie between two
  knots, and a quantile is within 2/n of its nominal probability (ties: on either side),
  so the estimate is within 1/SKETCH_SIZE + 4/n (exact sketch: equal).
- Wasserstein integrates |F_ref - F_window| interval by interval. Where one CDF stays above
  the other across an interval, the window's integral is exact (from the sums) and only the
  reference's shape inside the interval is assumed; where they may cross, both are taken as
  straight lines. Each interval of width h is off by at most h times the reference's plus
  the window's share of values inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monoloop.monitoring.ranks import Ordered, rank

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SKETCH_SIZE = 500  # quantile intervals: KS within 0.002 of exact; ~10 KB of JSON per column
PSI_BINS = 10  # equal-frequency bins on the reference, the usual choice for PSI
# Extra knots in each tail. Wasserstein weighs every value by its distance, and the
# outermost 1/500 of a column spans a wide range (2 sd for a normal at 1M rows); read as a
# straight line it put a 0.5 sd shift off by 1.2%, with these knots by 0.006%.
TAIL_PROBABILITIES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)


def probabilities() -> FloatArray:
    """The probability of each knot of a (not exact) sketch: i/SKETCH_SIZE, and the tails."""
    tails = np.asarray(TAIL_PROBABILITIES)
    uniform = np.arange(SKETCH_SIZE + 1) / SKETCH_SIZE
    return np.unique(np.concatenate((uniform, tails, 1.0 - tails)))


@dataclass(frozen=True)
class Sketch:
    """What the profile stores for a numeric column's distribution."""

    quantiles: tuple[float, ...]
    exact: bool  # quantiles are all the column's sorted values
    edges: tuple[float, ...]  # PSI bin edges, each one of the quantiles: (-inf, e0], (e0, e1], ...
    bin_counts: tuple[int, ...]  # reference values per PSI bin, len(edges) + 1


def build_sketch(values: FloatArray) -> Sketch:
    """The sketch of finite `values`."""
    n = len(values)
    if n == 0:
        return Sketch((), True, (), ())
    ordered = Ordered(values)
    if n <= SKETCH_SIZE + 1:
        knots, exact = ordered.at(np.arange(n)), True
        ranks = np.floor(np.arange(1, PSI_BINS) / PSI_BINS * (n - 1)).astype(np.intp)
        edges = np.unique(knots[ranks])
    else:
        p = probabilities()
        knots, exact = _quantiles(ordered, p), False
        deciles = np.searchsorted(p, np.arange(1, PSI_BINS) / PSI_BINS - 1e-12)
        edges = np.unique(knots[deciles])
    at_or_below = ordered.at_or_below(edges)
    counts = np.diff(np.concatenate(([0], at_or_below, [n])))
    return Sketch(tuple(knots.tolist()), exact, tuple(edges.tolist()), tuple(counts.tolist()))


def _quantiles(ordered: Ordered, p: FloatArray) -> FloatArray:
    """Quantiles at probabilities `p` (from 0 to 1), interpolated linearly like np.quantile."""
    n = ordered.n
    position = p * (n - 1.0)
    low = np.minimum(np.floor(position).astype(np.intp), n - 2)
    bounds = ordered.at(np.concatenate((low, low + 1)))
    a, b = bounds[: len(low)], bounds[len(low) :]
    # numpy's two-sided interpolation, so the knots are np.quantile's to the last bit...
    t, d = position - low, b - a
    knots = np.where(t >= 0.5, b - d * (1 - t), a + d * t)
    # ...and never decreasing, whatever the rounding.
    return np.maximum.accumulate(np.clip(knots, a, b))


@dataclass(frozen=True)
class Grid:
    """The reference CDF on the sketch's distinct knots."""

    knots: FloatArray  # u_j, strictly increasing
    below: FloatArray  # F(u_j-): share of reference values < u_j
    upto: FloatArray  # F(u_j): share of reference values <= u_j
    edges: npt.NDArray[np.intp]  # position in `knots` of each PSI edge


def grid(sketch: Sketch) -> Grid:
    knots = np.asarray(sketch.quantiles, dtype=np.float64)
    unique, first, count = np.unique(knots, return_index=True, return_counts=True)
    if sketch.exact:
        n = len(knots)
        below, upto = first / n, (first + count) / n
    else:
        # Repeated knots are a tie in the data: F jumps from the first one's probability
        # to the last one's.
        p = probabilities()
        below, upto = p[first], p[first + count - 1]
    edges = np.searchsorted(unique, np.asarray(sketch.edges, dtype=np.float64))
    return Grid(unique, below.astype(np.float64), upto.astype(np.float64), edges)


@dataclass(frozen=True)
class Counts:
    """A window counted on a grid of k knots, in 2k + 1 slots: slot 2j holds the values
    between knot j-1 and knot j (slot 0: below the first, slot 2k: above the last), slot
    2j + 1 the values equal to knot j."""

    counts: IntArray
    sums: FloatArray

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def count(grid: Grid, values: FloatArray) -> Counts:
    """Count finite `values` on `grid`."""
    knots = grid.knots
    slots = 2 * len(knots) + 1
    below = rank(knots, values)
    padded = np.append(knots, np.inf)
    slot = 2 * below + (padded[below] == values)
    counts = np.bincount(slot, minlength=slots).astype(np.int64)
    sums = np.bincount(slot, weights=values, minlength=slots).astype(np.float64)
    return Counts(counts, sums)


def ks_statistic(grid: Grid, counts: Counts) -> float:
    """sup |F_ref - F_window| over both sides of every knot."""
    k = len(grid.knots)
    cum = np.cumsum(counts.counts) / counts.total
    below, upto = cum[0 : 2 * k : 2], cum[1 : 2 * k : 2]
    return float(max(np.abs(grid.below - below).max(), np.abs(grid.upto - upto).max()))


def wasserstein(grid: Grid, counts: Counts) -> float:
    """The Wasserstein-1 distance, in the column's units: the integral of |F_ref - F_window|."""
    knots, k, m = grid.knots, len(grid.knots), counts.total
    n, s = counts.counts, counts.sums
    # Outside the reference's range F_ref is 0 or 1: the window's values there contribute
    # their distance to the min or max.
    total = (n[0] * knots[0] - s[0] + s[2 * k] - n[2 * k] * knots[-1]) / m
    if k == 1:
        return float(total)
    cum = np.cumsum(n) / m
    width = np.diff(knots)
    ref_a, ref_b = grid.upto[:-1], grid.below[1:]  # F_ref just after u_j, just before u_j+1
    win_a, win_b = cum[1 : 2 * k - 2 : 2], cum[2 : 2 * k - 1 : 2]
    inside_n, inside_s = n[2 : 2 * k - 1 : 2], s[2 : 2 * k - 1 : 2]
    # No crossing possible: |integral of the difference|, the window's part exact.
    ref_area = width * (ref_a + ref_b) / 2
    win_area = width * win_a + (inside_n * knots[1:] - inside_s) / m
    apart = (win_b <= ref_a) | (win_a >= ref_b)
    # A possible crossing: both as straight lines, the two triangles if they do cross.
    a, b = ref_a - win_a, ref_b - win_b
    spread = np.abs(a) + np.abs(b)
    crossing = width * (a * a + b * b) / (2 * np.where(spread > 0, spread, 1.0))
    straight = np.where(a * b >= 0, width * spread / 2, crossing)
    total += float(np.where(apart, np.abs(ref_area - win_area), straight).sum())
    return float(total)


def bin_counts(grid: Grid, counts: Counts) -> IntArray:
    """The window's counts in the reference's PSI bins."""
    cum = np.cumsum(counts.counts)
    at_or_below = cum[2 * grid.edges + 1]
    return np.diff(np.concatenate(([0], at_or_below, [counts.total]))).astype(np.int64)
