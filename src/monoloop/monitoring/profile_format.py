"""A reference profile as plain JSON, and back, checked key by key.

    {"format": "monoloop.reference-profile", "version": 1, "rows": 1000000,
     "columns": {
       "age": {"kind": "numeric", "rows": 1000000, "missing": 12, "dtype": "float64",
               "mean": 41.2, "std": 12.9, "min": 18.0, "max": 97.0,
               "quantiles": [18.0, ...], "exact": false,
               "bins": {"edges": [24.0, ...], "counts": [99871, ...]}},
       "plan": {"kind": "categorical", "rows": 1000000, "missing": 0, "dtype": "str",
                "distinct": 3, "categories": {"basic": 600000, ...}, "other": 0}},
     "skipped": ["signup_time"]}

`quantiles` holds one value per probability in sketch.probabilities(), or, with
`"exact": true`, every value of the column in order. A profile is stored next to a model
and may be read by a later monoloop: `version` changes whenever this shape does.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from monoloop.monitoring.profile import (
    KINDS,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
)
from monoloop.monitoring.sketch import SKETCH_SIZE, Sketch, probabilities

FORMAT = "monoloop.reference-profile"
VERSION = 1

_HINT = (
    "profiles are written by build_profile(...).to_dict(); if this one was edited or cut "
    "short, build it again from the training data"
)


def profile_to_dict(profile: ReferenceProfile) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "rows": profile.rows,
        "columns": {name: column_to_dict(col) for name, col in profile.columns.items()},
        "skipped": list(profile.skipped),
    }


def column_to_dict(column: ColumnProfile) -> dict[str, Any]:
    common = {
        "kind": column.kind,
        "rows": column.rows,
        "missing": column.missing,
        "dtype": column.dtype,
    }
    if isinstance(column, NumericProfile):
        s = column.sketch
        return {
            **common,
            "mean": column.mean,
            "std": column.std,
            "min": column.min,
            "max": column.max,
            "quantiles": list(s.quantiles),
            "exact": s.exact,
            "bins": {"edges": list(s.edges), "counts": list(s.bin_counts)},
        }
    return {
        **common,
        "distinct": column.distinct,
        "categories": dict(column.categories),
        "other": column.other,
    }


def _fail(where: str, problem: str) -> ProfileError:
    return ProfileError(f"invalid reference profile: {where} {problem}", hint=_HINT)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"must be a JSON object, not {_json_type(value)}")
    return value


def _keys(data: dict[str, Any], where: str, keys: set[str]) -> None:
    missing = sorted(keys - data.keys())
    extra = sorted(k for k in data if k not in keys)
    if missing:
        raise _fail(where, f"lacks {', '.join(missing)}")
    if extra:
        raise _fail(where, f"has unknown key(s) {', '.join(map(str, extra))}")


def _int(value: object, where: str, *, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"must be a whole number, not {_json_type(value)}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise _fail(where, f"must be {bound}, not {value}")
    return value


def _float(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"must be a number, not {_json_type(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(where, f"must be a finite number, not {value}")
    return number


def _floats(value: object, where: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise _fail(where, f"must be a list of numbers, not {_json_type(value)}")
    return tuple(_float(v, f"{where}[{i}]") for i, v in enumerate(value))


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"must be a string, not {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def profile_from_dict(data: object) -> ReferenceProfile:
    top = _object(data, "the profile")
    if top.get("format") != FORMAT:
        raise _fail("the profile", f"is not one: its format is {top.get('format')!r}")
    version = top.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ProfileError(
            f"the reference profile has format version {version}; this monoloop reads {VERSION}",
            hint="upgrade monoloop to read profiles written by a newer version",
        )
    _keys(top, "the profile", {"format", "version", "rows", "columns", "skipped"})
    _int(version, "version", low=VERSION, high=VERSION)
    rows = _int(top["rows"], "rows")
    columns = {
        _str(name, "a column name"): _column(spec, f"columns.{name}", rows)
        for name, spec in _object(top["columns"], "columns").items()
    }
    skipped = top["skipped"]
    if not isinstance(skipped, list):
        raise _fail("skipped", f"must be a list of column names, not {_json_type(skipped)}")
    names = tuple(_str(s, f"skipped[{i}]") for i, s in enumerate(skipped))
    return ReferenceProfile(rows=rows, columns=columns, skipped=names)


def _column(value: object, where: str, rows: int) -> ColumnProfile:
    spec = _object(value, where)
    kind = spec.get("kind")
    if kind not in KINDS:
        raise _fail(f"{where}.kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "numeric":
        return _numeric(spec, where, rows)
    return _categorical(spec, where, rows)


def _numeric(spec: dict[str, Any], where: str, rows: int) -> NumericProfile:
    _keys(
        spec,
        where,
        {"kind", "rows", "missing", "dtype", "mean", "std", "min", "max", "quantiles"}
        | {"exact", "bins"},
    )
    _int(spec["rows"], f"{where}.rows", low=rows, high=rows)
    missing = _int(spec["missing"], f"{where}.missing", high=rows)
    count = rows - missing
    stats: dict[str, float | None] = {}
    for key in ("mean", "std", "min", "max"):
        value = spec[key]
        if count == 0:
            if value is not None:
                raise _fail(f"{where}.{key}", "must be null: the column has no values")
            stats[key] = None
        else:
            stats[key] = _float(value, f"{where}.{key}")
    exact = spec["exact"]
    if not isinstance(exact, bool):
        raise _fail(f"{where}.exact", f"must be true or false, not {_json_type(exact)}")
    quantiles = _floats(spec["quantiles"], f"{where}.quantiles")
    size = count if exact else len(probabilities())
    if exact != (count <= SKETCH_SIZE + 1) or len(quantiles) != size:
        raise _fail(f"{where}.quantiles", f"must hold {size} values, not {len(quantiles)}")
    if any(b < a for a, b in itertools.pairwise(quantiles)):
        raise _fail(f"{where}.quantiles", "must be in ascending order")
    if count and (quantiles[0] != stats["min"] or quantiles[-1] != stats["max"]):
        raise _fail(f"{where}.quantiles", "must run from min to max")
    if count and (stats["std"] or 0.0) < 0:
        raise _fail(f"{where}.std", "must not be negative")
    bins = _object(spec["bins"], f"{where}.bins")
    _keys(bins, f"{where}.bins", {"edges", "counts"})
    edges = _floats(bins["edges"], f"{where}.bins.edges")
    if any(b <= a for a, b in itertools.pairwise(edges)) or not set(edges) <= set(quantiles):
        raise _fail(f"{where}.bins.edges", "must be ascending values taken from the quantiles")
    counts = bins["counts"]
    if not isinstance(counts, list) or len(counts) != (len(edges) + 1 if count else 0):
        raise _fail(f"{where}.bins.counts", "must hold one count per bin (edges + 1)")
    bin_counts = tuple(_int(c, f"{where}.bins.counts[{i}]") for i, c in enumerate(counts))
    if sum(bin_counts) != count:
        raise _fail(f"{where}.bins.counts", f"must add up to rows - missing ({count})")
    return NumericProfile(
        rows=rows,
        missing=missing,
        dtype=_str(spec["dtype"], f"{where}.dtype"),
        mean=stats["mean"],
        std=stats["std"],
        min=stats["min"],
        max=stats["max"],
        sketch=Sketch(quantiles, exact, edges, bin_counts),
    )


def _categorical(spec: dict[str, Any], where: str, rows: int) -> CategoricalProfile:
    _keys(spec, where, {"kind", "rows", "missing", "dtype", "distinct", "categories", "other"})
    _int(spec["rows"], f"{where}.rows", low=rows, high=rows)
    missing = _int(spec["missing"], f"{where}.missing", high=rows)
    categories = tuple(
        (key, _int(n, f"{where}.categories.{key}", low=1))
        for key, n in _object(spec["categories"], f"{where}.categories").items()
    )
    distinct = _int(spec["distinct"], f"{where}.distinct", low=len(categories))
    other = _int(spec["other"], f"{where}.other")
    if (other > 0) != (distinct > len(categories)):
        raise _fail(f"{where}.other", "must count the values of the categories not kept")
    if sum(n for _, n in categories) + other != rows - missing:
        raise _fail(f"{where}.categories", f"must add up to rows - missing ({rows - missing})")
    return CategoricalProfile(
        rows=rows,
        missing=missing,
        dtype=_str(spec["dtype"], f"{where}.dtype"),
        distinct=distinct,
        categories=categories,
        other=other,
    )
