"""The reference profile: what monitoring needs to know about a training set, and no rows.

The model registry stores one with every model version; monitoring compares windows of
live data against it and never reads the training data again.

    profile = build_profile(train_df)
    stored = json.dumps(profile.to_dict())          # ~10 KB per numeric column
    profile = ReferenceProfile.from_dict(json.loads(stored))

Column kinds (override with `kinds={"zip": "categorical"}`):
- numeric: float columns, and integer columns with more than INT_CATEGORIES distinct
  values. Kept as a quantile sketch (sketch.py), PSI bins, mean, std, min and max.
  NaN and +-inf count as missing: they have no place on a distance scale.
- categorical: text, pandas categoricals, booleans, and integer columns with at most
  INT_CATEGORIES distinct values (codes, counts of children, ratings: comparing their
  frequencies says more than bins over a handful of values). Kept as the counts of the
  TOP_CATEGORIES most frequent values, plus one count for all the others. Values are
  compared as text: 3, 3.0 and "3" are the same category, True is "true".
- datetime and timedelta columns are skipped unless named (then an error): time moves,
  so a window of timestamps always drifts from the training set's.

The profile stores category values verbatim: leave identifiers and free text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.errors import UserError
from monoloop.monitoring.sketch import FloatArray, Sketch, build_sketch

Kind = Literal["numeric", "categorical"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical")

TOP_CATEGORIES = 100
INT_CATEGORIES = 20


class ProfileError(UserError):
    """A data set cannot be profiled, or a stored profile is not a valid one."""


@dataclass(frozen=True)
class NumericProfile:
    rows: int
    missing: int  # NaN, None, +-inf
    dtype: str
    mean: float | None  # None when every value is missing
    std: float | None  # population standard deviation (ddof=0)
    min: float | None
    max: float | None
    sketch: Sketch

    kind: ClassVar[Kind] = "numeric"

    @property
    def count(self) -> int:
        """Values that are not missing."""
        return self.rows - self.missing


@dataclass(frozen=True)
class CategoricalProfile:
    rows: int
    missing: int
    dtype: str
    distinct: int  # distinct values in the reference, kept or not
    categories: tuple[tuple[str, int], ...]  # the most frequent values and their counts
    other: int  # values of every category not kept

    kind: ClassVar[Kind] = "categorical"

    @property
    def count(self) -> int:
        return self.rows - self.missing


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class ReferenceProfile:
    rows: int
    columns: Mapping[str, ColumnProfile]
    skipped: tuple[str, ...] = field(default=())  # columns of a kind drift does not apply to

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; `from_dict` reads it back to an equal profile."""
        from monoloop.monitoring.profile_format import profile_to_dict

        return profile_to_dict(self)

    @classmethod
    def from_dict(cls, data: object) -> ReferenceProfile:
        """Read what `to_dict` wrote; anything else raises ProfileError naming the key."""
        from monoloop.monitoring.profile_format import profile_from_dict

        return profile_from_dict(data)


def build_profile(
    df: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, Kind] | None = None,
) -> ReferenceProfile:
    """Profile `columns` of `df` (default: every column drift applies to)."""
    if not isinstance(df, pd.DataFrame):
        raise ProfileError(
            f"build_profile needs a pandas DataFrame, not {type(df).__name__}",
            hint="wrap a single array as pd.DataFrame({'name': values})",
        )
    if len(df) == 0:
        raise ProfileError(
            "cannot profile an empty data set: it has no rows",
            hint="profile the data the model was trained on",
        )
    if df.columns.has_duplicates:
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ProfileError(
            f"the data set has duplicate column names: {', '.join(dupes)}",
            hint="rename the columns so each name appears once",
        )
    kinds = dict(kinds or {})
    chosen, skipped = _choose_columns(df, columns, kinds)
    profiles: dict[str, ColumnProfile] = {}
    for name in chosen:
        series = df[name]
        kind = kinds.get(name) or infer_kind(series)
        if kind == "numeric":
            profiles[name] = _numeric(name, series)
        else:
            profiles[name] = _categorical(series)
    return ReferenceProfile(rows=len(df), columns=profiles, skipped=tuple(skipped))


def _choose_columns(
    df: pd.DataFrame, columns: Sequence[str] | None, kinds: Mapping[str, Kind]
) -> tuple[list[str], list[str]]:
    names = [str(c) for c in df.columns]
    if list(df.columns) != names:
        raise ProfileError(
            "every column name must be a string",
            hint="rename the columns, e.g. df.columns = df.columns.astype(str)",
        )
    unknown = [c for c in [*(columns or []), *kinds] if c not in names]
    if unknown:
        raise ProfileError(
            f"no column {', '.join(map(repr, unknown))} in the data set",
            hint=f"the columns are: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}",
        )
    bad_kinds = {c: k for c, k in kinds.items() if k not in KINDS}
    if bad_kinds:
        raise ProfileError(
            f"unknown column kind {bad_kinds}",
            hint="a kind is 'numeric' or 'categorical'",
        )
    if columns is not None:
        for name in columns:
            if name not in kinds and _is_temporal(df[name]):
                raise ProfileError(
                    f"column {name!r} holds {df[name].dtype} values, which drift as time moves",
                    hint="leave it out, or profile a derived feature (age, weekday) instead",
                )
        return list(dict.fromkeys(columns)), []
    skipped = [c for c in names if c not in kinds and _is_temporal(df[c])]
    return [c for c in names if c not in skipped], skipped


def _is_temporal(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    )


def infer_kind(series: pd.Series) -> Kind:
    """The kind build_profile gives a column it is not told about."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype):
        return "categorical" if series.nunique(dropna=True) <= INT_CATEGORIES else "numeric"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    return "categorical"


def as_floats(series: pd.Series) -> FloatArray | None:
    """The column as float64 (a view when it already is one), missing values NaN; None when
    it holds values that are not numbers."""
    dtype = series.dtype
    if dtype == np.float64:
        return np.asarray(series.to_numpy(), dtype=np.float64)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    try:
        numbers = pd.to_numeric(series, errors="raise")
        return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    except (ValueError, TypeError):
        return None


def _numeric(name: str, series: pd.Series) -> NumericProfile:
    values = as_floats(series)
    if values is None:
        raise ProfileError(
            f"column {name!r} was asked to be numeric but holds {series.dtype} values"
            " that are not numbers",
            hint="convert the column to numbers, or profile it as categorical",
        )
    finite = np.isfinite(values)
    kept = values if finite.all() else values[finite]
    sketch = build_sketch(kept)
    stats: tuple[float | None, ...] = (None, None, None, None)
    if len(kept):
        q = sketch.quantiles
        stats = (*_moments(kept, max(abs(q[0]), abs(q[-1]))), q[0], q[-1])
    return NumericProfile(
        rows=len(values),
        missing=len(values) - len(kept),
        dtype=str(series.dtype),
        mean=stats[0],
        std=stats[1],
        min=stats[2],
        max=stats[3],
        sketch=sketch,
    )


def _moments(values: FloatArray, largest: float) -> tuple[float, float]:
    """Mean and standard deviation, without overflow for values beyond 1e154."""
    if largest < 1e150:
        return float(values.mean()), float(values.std())
    scaled = values / largest
    return float(scaled.mean()) * largest, float(scaled.std()) * largest


def category_counts(series: pd.Series) -> tuple[list[str], np.ndarray[Any, np.dtype[np.int64]]]:
    """Every distinct non-missing value as its category key, with its count."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # a pandas categorical lists its unused categories too
    values = counts.to_numpy(dtype=np.int64)
    if isinstance(series.dtype, pd.StringDtype):
        return [str(v) for v in counts.index], values
    keys = [category_key(v) for v in counts.index]
    if len(set(keys)) == len(keys):
        return keys, values
    merged = pd.Series(values, index=keys).groupby(level=0, sort=False).sum()
    return [str(k) for k in merged.index], merged.to_numpy(dtype=np.int64)


def category_key(value: object) -> str:
    """How a category is written in a profile: 3, 3.0, np.int8(3) and "3" are all "3"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def _categorical(series: pd.Series) -> CategoricalProfile:
    keys, counts = category_counts(series)
    top = _most_frequent(keys, counts, TOP_CATEGORIES)
    kept = tuple((keys[i], int(counts[i])) for i in top)
    missing = int(series.isna().sum())
    return CategoricalProfile(
        rows=len(series),
        missing=missing,
        dtype=str(series.dtype),
        distinct=len(keys),
        categories=kept,
        other=int(counts.sum()) - sum(c for _, c in kept),
    )


def _most_frequent(keys: list[str], counts: np.ndarray[Any, Any], limit: int) -> list[int]:
    """Positions of the `limit` largest counts, ties broken by key, so a profile is the same
    whatever order the rows came in."""
    if len(keys) > limit:
        floor = np.partition(counts, len(counts) - limit)[len(counts) - limit]
        candidates = np.flatnonzero(counts >= floor).tolist()
    else:
        candidates = list(range(len(keys)))
    candidates.sort(key=lambda i: (-int(counts[i]), keys[i]))
    return candidates[:limit]
