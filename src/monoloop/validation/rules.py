"""A contract's rules as pandera checks, run one by one, read back as one result per rule.

Every rule is a `pandera.Check`: pandera's built-in checks (ge, le, isin) where
one fits, and custom vectorised checks otherwise; pandera applies each to its
column with its null handling. We call the checks ourselves rather than through
`DataFrameSchema.validate(lazy=True)` for two measured reasons: its error path
formats every failing value into a message string (9.5 s instead of 0.7 s on
1,000,000 rows with 3.5 million failing cells), and that message holds raw
values, which must never reach a log.

Values that cannot be read as the declared type count against the `type` rule
and are null for the others, so one bad cell in a CSV column does not turn every
range check into a string comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pandera.pandas as pa

from monoloop.validation.contract import (
    ColumnSpec,
    Contract,
    ContractError,
    Rule,
    Severity,
    format_duration,
)
from monoloop.validation.masking import sample
from monoloop.validation.results import RuleResult
from monoloop.validation.types import as_type

EXAMPLES = 5
SAMPLES = 3


@dataclass(frozen=True)
class RuleSpec:
    """One contract rule: the pandera check, what it runs on, and how to report it."""

    rule: str
    kind: str
    column: str | None
    severity: Severity
    expect: str
    check: pa.Check
    on: str | None  # the column the check runs on; None: the whole table
    values: Literal["original", "typed"] = "typed"
    describe: Callable[[pd.DataFrame], str] | None = None  # detail of a failed table check


def check_columns_exist(frame: pd.DataFrame, contract: Contract, *, source: str, data: str) -> None:
    """A contract naming a column the data lacks is a bad contract (exit 2), not a failed rule."""
    present = set(map(str, frame.columns))
    refs = contract.referenced_columns().items()
    missing = [(path, col) for path, col in refs if col not in present]
    if missing:
        listed = "; ".join(f"'{path}' names column '{col}'" for path, col in missing)
        shown = ", ".join(list(map(str, frame.columns))[:20]) or "(none)"
        raise ContractError(
            f"{source}: {listed}, which {data} does not have (its columns: {shown})",
            hint="fix the column name in the contract, or the data",
        )


def compile_rules(
    contract: Contract, frame: pd.DataFrame, *, now: dt.datetime | None = None
) -> tuple[list[RuleSpec], pd.DataFrame]:
    """The rules of `contract` as checks, and `frame` with the declared types applied."""
    now = now or dt.datetime.now(dt.UTC)
    specs: list[RuleSpec] = []
    typed: dict[str, pd.Series] = {}
    for name, col in contract.columns.items():
        converted, bad = as_type(frame[name], col.column_type)
        if converted is not frame[name]:
            typed[name] = converted
        specs += _column_rules(contract, name, col, converted, bad)
    work = frame.assign(**typed) if typed else frame
    specs += _table_rules(contract, work, now)
    return specs, work


def _column_rules(
    contract: Contract, name: str, col: ColumnSpec, converted: pd.Series, bad: pd.Series
) -> list[RuleSpec]:
    kind = col.column_type
    out: list[RuleSpec] = []

    def add(rule: Rule[Any], key: str, expect: str, check: pa.Check, *, original: bool) -> None:
        severity = contract.severity_of(rule, col)
        values: Literal["original", "typed"] = "original" if original else "typed"
        out.append(
            RuleSpec(f"columns.{name}.{key}", key, name, severity, expect, check, name, values)
        )

    if col.type and kind != "any":
        # Decided while converting: a value is bad when present but not of the type.
        fits = ~bad

        def of_type(_series: pd.Series) -> pd.Series:
            return fits

        add(col.type, "type", kind, _vector(of_type, ignore_na=False), original=True)
    if col.nullable and not col.nullable.value:
        add(col.nullable, "nullable", "no nulls", _vector(_present, ignore_na=False), original=True)
    if col.unique and col.unique.value:
        add(col.unique, "unique", "unique values", _vector(_unique, ignore_na=False), original=True)
    if col.min is not None:
        check = pa.Check.ge(_bound(col.min.value, converted))
        add(col.min, "min", f">= {col.min.value}", check, original=False)
    if col.max is not None:
        check = pa.Check.le(_bound(col.max.value, converted))
        add(col.max, "max", f"<= {col.max.value}", check, original=False)
    if col.allowed is not None:
        values = col.allowed.value
        shown = ", ".join(map(str, values[:8])) + (", ..." if len(values) > 8 else "")
        add(col.allowed, "allowed", f"one of {shown}", pa.Check.isin(values), original=False)
    if col.pattern is not None:
        pattern = col.pattern.value
        check = _vector(_full_match(pattern))
        add(col.pattern, "pattern", f"matches {pattern}", check, original=True)
    return out


def _table_rules(contract: Contract, work: pd.DataFrame, now: dt.datetime) -> list[RuleSpec]:
    table = contract.table
    out: list[RuleSpec] = []
    if table.primary_key is not None:
        keys = table.primary_key.value
        expect = f"unique, non-null ({', '.join(keys)})"
        check = pa.Check(lambda df: _key_ok(df, keys), ignore_na=False)
        severity = contract.severity_of(table.primary_key)
        out.append(
            RuleSpec("table.primary_key", "primary_key", None, severity, expect, check, None)
        )
    if table.rows is not None:
        lo, hi = table.rows.min, table.rows.max
        check = pa.Check(lambda df: (lo is None or len(df) >= lo) and (hi is None or len(df) <= hi))
        severity = table.rows.severity or contract.severity
        expect = _between(lo, hi, "rows")
        out.append(RuleSpec("table.rows", "rows", None, severity, expect, check, None,
                            describe=lambda df: f"{len(df):,} rows"))  # fmt: skip
    if table.freshness is not None:
        fresh = table.freshness
        column, age = fresh.column, fresh.age

        def is_fresh(df: pd.DataFrame) -> bool:
            newest = _newest(df[column])
            return newest is not None and bool(newest >= pd.Timestamp(now - age))

        severity = fresh.severity or contract.severity
        expect = f"newest {column} within {fresh.max_age}"
        out.append(RuleSpec("table.freshness", "freshness", column, severity, expect,
                            pa.Check(is_fresh), None,
                            describe=lambda df: _age(_newest(df[column]), now)))  # fmt: skip
    return out


def evaluate(
    frame: pd.DataFrame,
    contract: Contract,
    *,
    sensitive: Collection[str] = (),
    now: dt.datetime | None = None,
) -> list[RuleResult]:
    """Run every rule of the contract over the frame; one result per rule, in contract order.

    `frame` must have a RangeIndex (row n is label n - 1); `sensitive` columns get every
    sample masked, numbers and dates included.
    """
    specs, work = compile_rules(contract, frame, now=now)
    return [_run(spec, frame, work, sensitive) for spec in specs]


def _run(
    spec: RuleSpec, frame: pd.DataFrame, work: pd.DataFrame, sensitive: Collection[str]
) -> RuleResult:
    passed = RuleResult(spec.rule, spec.kind, spec.column, spec.severity, spec.expect, "pass")
    source = frame if spec.values == "original" else work
    target = source if spec.on is None else source[spec.on]
    try:
        result = spec.check(target)
    except Exception as exc:  # a check that cannot run on this data: say what, never the values
        return replace(passed, status="error", detail=f"check raised {type(exc).__name__}")
    output = result.check_output
    if not isinstance(output, pd.Series) or spec.describe is not None:
        if bool(result.check_passed):
            return passed
        detail = spec.describe(work) if spec.describe else ""
        return replace(passed, status="fail", detail=detail)
    failed = ~output.to_numpy(dtype=bool, na_value=False)
    if not failed.any():
        return passed
    positions = output.index.to_numpy()[failed].astype(np.int64)
    samples: tuple[str, ...] = ()
    if spec.column is not None and spec.kind not in ("nullable", "primary_key"):
        values = source[spec.column].iloc[positions[:SAMPLES]]
        hide = spec.column in sensitive
        samples = tuple(sample(v, sensitive=hide) for v in values.tolist())
    return replace(
        passed,
        status="fail",
        failing=int(positions.size),
        rows=tuple(int(i) + 1 for i in positions[:EXAMPLES]),
        samples=samples,
    )


def _vector(fn: Callable[[pd.Series], Any], *, ignore_na: bool = True) -> pa.Check:
    return pa.Check(fn, element_wise=False, ignore_na=ignore_na)


def _present(series: pd.Series) -> pd.Series:
    return series.notna()


def _unique(series: pd.Series) -> pd.Series:
    # Nulls are absent values, not equal ones: several of them break no uniqueness.
    return ~(series.duplicated(keep=False) & series.notna())


def _key_ok(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    return ~frame.duplicated(keys, keep=False) & frame[keys].notna().all(axis=1)


def _full_match(pattern: str) -> Callable[[pd.Series], pd.Series]:
    def check(series: pd.Series) -> pd.Series:
        text = series if isinstance(series.dtype, pd.StringDtype) else series.astype("str")
        try:
            return text.str.fullmatch(pattern)
        except ValueError:  # a Python-only construct RE2 refuses: match in Python instead
            return text.astype(object).str.fullmatch(pattern)

    return check


def _bound(value: Any, series: pd.Series) -> Any:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _bound_like(pd.Timestamp(value), series)
    return value


def _bound_like(value: Any, series: pd.Series) -> Any:
    """A timestamp bound with the same time-zone awareness as the column (naive means UTC)."""
    stamp = pd.Timestamp(value)
    aware = getattr(series.dtype, "tz", None) is not None
    if aware and stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    if not aware and stamp.tzinfo is not None:
        return stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def _newest(series: pd.Series) -> pd.Timestamp | None:
    """The latest time in a column, time-zone aware (naive times are taken as UTC)."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = as_type(series, "datetime")[0]
    newest = series.max()
    if pd.isna(newest):
        return None
    stamp = pd.Timestamp(newest)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _age(newest: pd.Timestamp | None, now: dt.datetime) -> str:
    if newest is None:
        return "no values"
    return f"newest is {format_duration(pd.Timestamp(now) - newest, parts=2)} old"


def _between(lo: int | None, hi: int | None, unit: str) -> str:
    if lo is not None and hi is not None:
        return f"{lo:,} to {hi:,} {unit}"
    if lo is not None:
        return f">= {lo:,} {unit}"
    return f"<= {hi:,} {unit}"
