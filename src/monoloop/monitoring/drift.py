"""Compare a window of current data with a reference profile, every column at once.

    report = compare(profile, window_df)              # DriftConfig() thresholds
    report.drifted, report.dataset_drift, report.to_dict()

Numeric columns: PSI on the reference's decile bins, the Kolmogorov-Smirnov statistic and
its p-value, and the Wasserstein-1 distance divided by the reference's standard deviation
(by 1 when the reference is constant), so one threshold fits columns of any scale.
Categorical columns: PSI and the chi-square test over the reference's categories plus two
buckets, "other" (the categories the profile did not keep) and "unseen" (values the
reference never had; when the profile dropped rare categories a new value cannot be told
from them and counts as "other"), and the Jensen-Shannon distance. Every column: the
missing rate against the reference's, with a two-proportion test. DriftConfig says which
statistics fire.

Each window column is read once (numeric: counted on the sketch's knots; categorical:
value_counts), then the statistics run on small count matrices for all columns together.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

from monoloop.errors import InvalidInput
from monoloop.monitoring import sketch, stats
from monoloop.monitoring.profile import (
    CategoricalProfile,
    ColumnProfile,
    Kind,
    NumericProfile,
    ReferenceProfile,
    as_floats,
    build_profile,
    category_counts,
)
from monoloop.monitoring.report import (
    CATEGORICAL_STATISTICS,
    MISSING_STATISTICS,
    NUMERIC_STATISTICS,
    ColumnDrift,
    DriftConfig,
    DriftReport,
)

UNSEEN_EXAMPLES = 5


class WindowError(InvalidInput):
    """A window of current data cannot be compared with the reference profile."""


@dataclass
class _Counted:
    """One column of the window, reduced to counts on its reference's buckets (numeric:
    the PSI bins; categorical: the kept categories, "other", "unseen"). The window's
    counts are all 0 when either side has no values: nothing to compare."""

    name: str
    reference: ColumnProfile
    rows: int
    missing: int
    ref_buckets: npt.NDArray[np.int64]
    buckets: npt.NDArray[np.int64]
    ks: float = np.nan
    wasserstein: float = np.nan  # in reference standard deviations
    unseen: float = np.nan  # share of the window's values in categories new to the reference
    unseen_values: tuple[str, ...] = ()


def compare(
    profile: ReferenceProfile,
    window: pd.DataFrame,
    *,
    config: DriftConfig | None = None,
    columns: Sequence[str] | None = None,
) -> DriftReport:
    """Every column of `profile` (or just `columns`) in `window` against the reference.
    Columns of the window the profile does not have are ignored."""
    config = config or DriftConfig()
    names = _check_window(profile, window, columns)
    counted = [_count(name, profile.columns[name], window[name]) for name in names]
    drifts = _decide(counted, config)
    return DriftReport(
        rows=len(window), reference_rows=profile.rows, columns=tuple(drifts), config=config
    )


def profile_predictions(predictions: object, *, name: str = "prediction") -> ReferenceProfile:
    """The reference profile of a model's predictions at training time (one per row:
    labels are categorical, scores numeric)."""
    return build_profile(_prediction_frame(predictions, name))


def compare_predictions(
    profile: ReferenceProfile,
    predictions: object,
    *,
    name: str = "prediction",
    config: DriftConfig | None = None,
) -> ColumnDrift:
    """Prediction drift: live predictions against `profile_predictions` of training's."""
    frame = _prediction_frame(predictions, name)
    return compare(profile, frame, config=config, columns=[name]).columns[0]


def _prediction_frame(predictions: object, name: str) -> pd.DataFrame:
    if isinstance(predictions, pd.DataFrame):
        if list(predictions.columns) != [name]:
            raise WindowError(
                f"expected one column of predictions named {name!r},"
                f" got {list(predictions.columns)[:5]}",
                hint="pass a Series or 1-D array, or compare() for several outputs",
            )
        return predictions
    values = predictions if isinstance(predictions, pd.Series) else np.asarray(predictions)
    if values.ndim != 1:
        raise WindowError(
            f"predictions must hold one value per row, not an array of shape {values.shape}",
            hint="for class probabilities, build_profile() and compare() a DataFrame of them",
        )
    return pd.DataFrame({name: values})


def _check_window(
    profile: ReferenceProfile, window: pd.DataFrame, columns: Sequence[str] | None
) -> list[str]:
    if not isinstance(window, pd.DataFrame):
        raise WindowError(
            f"the window must be a pandas DataFrame, not {type(window).__name__}",
            hint="load the window with pandas, e.g. pd.read_parquet(path)",
        )
    if len(window) == 0:
        raise WindowError(
            "the window is empty: there is nothing to compare with the reference",
            hint="choose a time range with logged rows, or wait for traffic",
        )
    names = list(profile.columns) if columns is None else list(dict.fromkeys(columns))
    unknown = [n for n in names if n not in profile.columns]
    if unknown:
        raise WindowError(
            f"the reference profile has no column {', '.join(map(repr, unknown))}",
            hint=f"its columns are: {', '.join(list(profile.columns)[:20])}",
        )
    absent = [n for n in names if n not in window.columns]
    if absent:
        raise WindowError(
            f"the window lacks column(s) {', '.join(map(repr, absent))} of the reference",
            hint="log every feature the model was trained on, or pass columns=[...]",
        )
    if window.columns.has_duplicates:
        dupes = sorted({str(c) for c in window.columns[window.columns.duplicated()]})
        raise WindowError(
            f"the window has duplicate column names: {', '.join(dupes)}",
            hint="rename the columns so each name appears once",
        )
    return names


def _count(name: str, reference: ColumnProfile, series: pd.Series) -> _Counted:
    if isinstance(reference, NumericProfile):
        return _count_numeric(name, reference, series)
    return _count_categorical(name, reference, series)


def _count_numeric(name: str, reference: NumericProfile, series: pd.Series) -> _Counted:
    values = as_floats(series)
    if values is None:
        raise WindowError(
            f"column {name!r} is numeric in the reference but holds {series.dtype} values"
            " that are not numbers in the window",
            hint="log the feature with the type it had in training",
        )
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    ref_bins = np.asarray(reference.sketch.bin_counts, dtype=np.int64)
    empty = np.zeros_like(ref_bins)
    counted = _Counted(name, reference, len(series), len(series) - len(values), ref_bins, empty)
    if reference.count == 0 or len(values) == 0:
        return counted
    grid = sketch.grid(reference.sketch)
    counts = sketch.count(grid, values)
    counted.buckets = sketch.bin_counts(grid, counts)
    counted.ks = sketch.ks_statistic(grid, counts)
    # In reference standard deviations, so one threshold fits every column; a constant
    # reference has none, and its distance stays in the column's units.
    counted.wasserstein = sketch.wasserstein(grid, counts) / (reference.std or 1.0)
    return counted


def _count_categorical(name: str, reference: CategoricalProfile, series: pd.Series) -> _Counted:
    keys, counts = category_counts(series)
    kept = {key: i for i, (key, _) in enumerate(reference.categories)}
    other, unseen = len(kept), len(kept) + 1
    # Values outside the kept categories: "other" if the profile dropped some (a value
    # might be one of them), else certainly new.
    outside = other if reference.other > 0 else unseen
    position = np.array([kept.get(key, outside) for key in keys], dtype=np.intp)
    buckets = np.bincount(position, weights=counts, minlength=unseen + 1).astype(np.int64)
    ref = np.array([n for _, n in reference.categories] + [reference.other, 0], dtype=np.int64)
    present = int(counts.sum())
    counted = _Counted(name, reference, len(series), len(series) - present, ref, buckets)
    if reference.count == 0 or present == 0:
        counted.buckets = np.zeros_like(ref)
        return counted
    if reference.other == 0:
        counted.unseen = buckets[unseen] / present
        new = np.flatnonzero(position == unseen)
        top = new[np.argsort(-counts[new], kind="stable")[:UNSEEN_EXAMPLES]]
        counted.unseen_values = tuple(keys[i] for i in top)
    return counted


def _matrix(rows: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    """Count vectors of different lengths as one zero-padded matrix."""
    width = max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


# Per kind: the test that says a change is real, and the statistics that say it is large.
_TEST = {"numeric": "ks_pvalue", "categorical": "chi_square_pvalue"}
_EFFECTS = {"numeric": ("psi", "ks", "wasserstein"), "categorical": ("psi", "jensen_shannon")}


def _decide(counted: list[_Counted], config: DriftConfig) -> list[ColumnDrift]:
    """Every statistic for every column at once (NaN where it does not apply), then the
    verdict column by column."""
    ref, cur = _matrix([c.ref_buckets for c in counted]), _matrix([c.buckets for c in counted])
    ks = np.array([c.ks for c in counted])
    chi, chi_p = stats.chi_square(ref, cur)
    missing = np.array(
        [[c.reference.missing, c.reference.rows, c.missing, c.rows] for c in counted]
    )
    table = {
        "psi": stats.psi(ref, cur),
        "ks": ks,
        "ks_pvalue": stats.ks_pvalue(ks, ref.sum(axis=1), cur.sum(axis=1)),
        "wasserstein": np.array([c.wasserstein for c in counted]),
        "chi_square": chi,
        "chi_square_pvalue": chi_p,
        "jensen_shannon": stats.jensen_shannon(ref, cur),
        "unseen": np.array([c.unseen for c in counted]),
        "missing_rate": missing[:, 2] / missing[:, 3],
        "reference_missing_rate": missing[:, 0] / missing[:, 1],
        "missing_pvalue": stats.proportion_pvalue(*missing.T),
    }
    drifts = []
    for i, c in enumerate(counted):
        kind = c.reference.kind
        names = NUMERIC_STATISTICS if kind == "numeric" else CATEGORICAL_STATISTICS
        values = {name: _number(table[name][i]) for name in (*names, *MISSING_STATISTICS)}
        drifts.append(
            ColumnDrift(
                column=c.name,
                kind=kind,
                rows=c.rows,
                count=c.rows - c.missing,
                statistics=values,
                by=_fired(values, kind, config),
                unseen_values=c.unseen_values,
            )
        )
    return drifts


def _fired(values: dict[str, float | None], kind: Kind, config: DriftConfig) -> tuple[str, ...]:
    by: list[str] = []
    if _below(values[_TEST[kind]], config.alpha):
        by += [name for name in _EFFECTS[kind] if _reaches(values[name], getattr(config, name))]
    rate, ref_rate = values["missing_rate"], values["reference_missing_rate"]
    change = abs(rate - ref_rate) if rate is not None and ref_rate is not None else None
    if _below(values["missing_pvalue"], config.alpha) and _reaches(change, config.missing_rate):
        by.append("missing_rate")
    return tuple(by)


def _number(value: float | None) -> float | None:
    """A float for JSON: NaN (not computable) becomes None."""
    if value is None or not np.isfinite(value):
        return None
    return float(value)


def _reaches(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value >= limit


def _below(pvalue: float | None, alpha: float) -> bool:
    return pvalue is not None and pvalue < alpha


@dataclass(frozen=True)
class Distribution:
    """One column of a window counted on its reference's buckets, for charts: the PSI bins
    of a numeric column, or the kept categories plus "(other)" and "(unseen)"."""

    column: str
    kind: Kind
    labels: list[str]
    reference: list[int]
    current: list[int]


def distribution(profile: ReferenceProfile, window: pd.DataFrame, column: str) -> Distribution:
    _check_window(profile, window, [column])
    reference = profile.columns[column]
    counted = _count(column, reference, window[column])
    return Distribution(
        column,
        reference.kind,
        bucket_labels(reference),
        [int(n) for n in counted.ref_buckets],
        [int(n) for n in counted.buckets],
    )


def bucket_labels(reference: ColumnProfile) -> list[str]:
    """A name for each bucket a column is counted in (see `Distribution`)."""
    if isinstance(reference, NumericProfile):
        edges = [f"{e:.4g}" for e in reference.sketch.edges]
        if not edges:
            return ["all"] * len(reference.sketch.bin_counts)
        inner = [f"{a}-{b}" for a, b in itertools.pairwise(edges)]
        return [f"<= {edges[0]}", *inner, f"> {edges[-1]}"]
    return [key for key, _ in reference.categories] + ["(other)", "(unseen)"]
