"""Drift statistics over many columns at once: each function takes one row per column.

Counts come as 2-D arrays (columns x buckets), padded with zeros where a column has fewer
buckets; a bucket empty on both sides changes nothing. A row whose reference or window
total is 0 gives NaN: there is nothing to compare.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special
from scipy.stats import chi2, distributions

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]

# PSI takes log(current / reference) per bucket; a bucket empty on one side (a category
# never seen in training, a bin the window left empty) counts as this share instead.
PSI_EPSILON = 1e-4
KS_EXACT_N = 2000


def _shares(counts: npt.ArrayLike) -> tuple[Matrix, Vector]:
    matrix = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return matrix / totals[:, None], totals


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, epsilon: float = PSI_EPSILON) -> Vector:
    """Population stability index: sum over buckets of (q - p) * ln(q / p)."""
    p, p_total = _shares(reference)
    q, q_total = _shares(current)
    p, q = np.maximum(p, epsilon), np.maximum(q, epsilon)
    value = ((q - p) * np.log(q / p)).sum(axis=1)
    return np.where((p_total > 0) & (q_total > 0), value, np.nan)


def jensen_shannon(reference: npt.ArrayLike, current: npt.ArrayLike) -> Vector:
    """Jensen-Shannon distance, base 2: 0 for the same frequencies, 1 for disjoint ones."""
    p, p_total = _shares(reference)
    q, q_total = _shares(current)
    m = (p + q) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        right = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    value = np.sqrt(np.maximum((left + right) / 2, 0.0))
    return np.where((p_total > 0) & (q_total > 0), value, np.nan)


def chi_square(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[Vector, Vector]:
    """Pearson's chi-square test of homogeneity on the 2 x buckets table of counts, like
    scipy.stats.chi2_contingency without Yates' correction: (statistic, p-value). Both
    samples are samples: a small reference widens the test instead of being taken as truth.
    Buckets empty on both sides do not count towards the degrees of freedom."""
    observed = np.stack(
        [np.atleast_2d(np.asarray(reference, dtype=np.float64)), np.atleast_2d(current)],
        axis=1,
    )  # columns x 2 x buckets
    row = observed.sum(axis=2, keepdims=True)
    bucket = observed.sum(axis=1, keepdims=True)
    total = row.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = row * bucket / total
        cells = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0)
    statistic = cells.sum(axis=(1, 2))
    dof = (bucket[:, 0, :] > 0).sum(axis=1) - 1
    pvalue = np.where(dof > 0, chi2.sf(statistic, np.maximum(dof, 1)), 1.0)
    valid = (row[:, 0, 0] > 0) & (row[:, 1, 0] > 0)
    return np.where(valid, statistic, np.nan), np.where(valid, pvalue, np.nan)


def ks_pvalue(statistic: npt.ArrayLike, n: npt.ArrayLike, m: npt.ArrayLike) -> Vector:
    """Two-sided p-value of a two-sample KS statistic for samples of n and m values, from
    the distribution of the one-sample statistic at the effective size n*m/(n+m), as
    scipy.stats.ks_2samp(method="asymp") does. Above KS_EXACT_N that distribution is
    slow to evaluate (0.6 s at 500,000), and its limit with Stephens' correction is used:
    within 0.003 of it at 2,000 and closer beyond."""
    d = np.asarray(statistic, dtype=np.float64)
    n_, m_ = np.asarray(n, dtype=np.float64), np.asarray(m, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        effective = np.round(n_ * m_ / (n_ + m_))
    valid = (n_ > 0) & (m_ > 0) & np.isfinite(d)
    d, effective = np.where(valid, d, 0.0), np.where(valid, effective, 1.0)
    small = effective <= KS_EXACT_N
    p = np.empty_like(d)
    p[small] = distributions.kstwo.sf(d[small], effective[small])
    root = np.sqrt(effective[~small])
    p[~small] = distributions.kstwobign.sf(d[~small] * (root + 0.12 + 0.11 / root))
    return np.where(valid, np.clip(p, 0.0, 1.0), np.nan)


def proportion_pvalue(
    k1: npt.ArrayLike, n1: npt.ArrayLike, k2: npt.ArrayLike, n2: npt.ArrayLike
) -> Vector:
    """Two-sided p-value that k1/n1 and k2/n2 are the same rate: the pooled z-test, equal
    to chi-square on the 2 x 2 table without Yates' correction."""
    k1_, n1_ = np.asarray(k1, dtype=np.float64), np.asarray(n1, dtype=np.float64)
    k2_, n2_ = np.asarray(k2, dtype=np.float64), np.asarray(n2, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (k1_ + k2_) / (n1_ + n2_)
        spread = np.sqrt(pooled * (1 - pooled) * (1 / n1_ + 1 / n2_))
        z = np.abs(k2_ / n2_ - k1_ / n1_) / spread
    p = np.where(spread > 0, special.erfc(z / np.sqrt(2)), 1.0)
    return np.where((n1_ > 0) & (n2_ > 0), p, np.nan)
