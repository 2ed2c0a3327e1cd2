"""Column types as a contract means them, checked value by value and vectorised.

A contract's `integer` is a property of values, not of a storage type: a CSV
column of whole numbers with one gap is read as float64, and is still integer.
`as_type` returns the column converted to the type (values that do not convert
become null) and the mask of non-null values that did not fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.validation.contract import ColumnType

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def as_type(series: pd.Series, kind: ColumnType) -> tuple[pd.Series, pd.Series]:
    """(converted, bad): `converted is series` when nothing needed converting."""
    dtype = series.dtype
    none = pd.Series(False, index=series.index)
    if kind == "any":
        return series, none
    if kind in ("integer", "float"):
        if pd.api.types.is_bool_dtype(dtype):
            return series, series.notna()
        if pd.api.types.is_integer_dtype(dtype):
            return series, none
        if pd.api.types.is_float_dtype(dtype):
            if kind == "float":
                return series, none
            values = series.to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                whole = np.isnan(values) | (np.mod(values, 1) == 0)
            return series, pd.Series(~whole, index=series.index)
        if _is_textual(series):
            number = pd.to_numeric(series, errors="coerce")
            bad = series.notna() & number.isna()
            if kind == "integer":
                fractional = number.notna() & (number % 1 != 0)
                bad |= fractional
                number = number.where(~fractional)
            return number, bad
        return series, series.notna()
    if kind == "string":
        if isinstance(dtype, pd.StringDtype):
            return series, none
        if pd.api.types.is_object_dtype(dtype):
            strings = series.map(lambda v: isinstance(v, str), na_action="ignore")
            return series, series.notna() & ~strings.fillna(True).astype(bool)
        return series, series.notna()
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(dtype):
            return series, none
        if _is_textual(series):
            lower = series.astype("str").str.strip().str.lower()
            value = pd.Series(pd.NA, index=series.index, dtype="boolean")
            value[lower.isin(_TRUE)] = True
            value[lower.isin(_FALSE)] = False
            return value, series.notna() & value.isna()
        return series, series.notna()
    return _temporal(series, kind)


def _temporal(series: pd.Series, kind: ColumnType) -> tuple[pd.Series, pd.Series]:
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        converted = series
        bad = pd.Series(False, index=series.index)
    elif _is_textual(series) or pd.api.types.is_object_dtype(dtype):
        converted = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=True)
        bad = series.notna() & converted.isna()
        if bad.any():
            # ISO 8601 first (fast, unambiguous); then whatever pandas can read, e.g. date objects.
            retry = pd.to_datetime(series[bad], errors="coerce", utc=True, format="mixed")
            converted = converted.where(~bad, retry)
            bad = series.notna() & converted.isna()
    else:
        return series, series.notna()
    if kind == "date":
        timed = converted.notna() & (converted != converted.dt.normalize())
        bad = bad | timed
    return converted, bad


def _is_textual(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype) or pd.api.types.is_object_dtype(series.dtype)
