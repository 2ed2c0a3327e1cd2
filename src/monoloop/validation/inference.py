"""A starting contract inferred from data, written as commented YAML for a human to edit.

The inferred rules hold on the data they came from, except `pii: forbid` on
columns where PII was found: that one fails on purpose, so someone decides
between forbid, allow and pseudonymize. No observed value of a column with PII,
or of an identifier, is ever written into the contract (it goes into Git).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import yaml

from monoloop.validation.contract import ColumnType, Contract
from monoloop.validation.contract_files import contract_from_mapping
from monoloop.validation.pii import name_tokens
from monoloop.validation.results import PiiScan
from monoloop.validation.scan import is_text, scan_frame
from monoloop.validation.types import as_type

MAX_CATEGORIES = 20
_ID_TOKENS = {"id", "uuid", "guid", "key", "pk", "identifier"}
_TIME_TOKENS = {"updated", "created", "modified", "timestamp", "ts", "time", "event", "loaded"}


@dataclass(frozen=True)
class Inferred:
    contract: Contract
    text: str  # the commented YAML
    pii: PiiScan


def infer_contract(frame: pd.DataFrame, *, source: str = "data") -> Inferred:
    scan = scan_frame(frame)
    flagged = scan.sensitive_columns
    columns: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    primary_key: str | None = None
    fresh: str | None = None
    for name in map(str, frame.columns):
        series = frame[name]
        spec, note = _column(series, name, name in flagged, scan)
        identifier = _is_id(name) and spec.get("nullable") is False
        if identifier and primary_key is None and series.is_unique and len(series) > 1:
            primary_key = name
            spec.pop("unique", None)
        if spec.get("type") in ("datetime", "date") and set(name_tokens(name)) & _TIME_TOKENS:
            fresh = fresh or name
        columns[name] = spec
        notes[name] = note
    table: dict[str, Any] = {"rows": {"min": 1}}
    if primary_key:
        table["primary_key"] = [primary_key]
    data = {"version": 1, "columns": columns, "table": table}
    contract = contract_from_mapping(data, source=f"contract inferred from {source}")
    text = _render(data, notes, source, len(frame), fresh)
    return Inferred(contract, text, scan)


def _column(
    series: pd.Series, name: str, sensitive: bool, scan: PiiScan
) -> tuple[dict[str, Any], str]:
    kind = _kind(series)
    present = series.dropna()
    spec: dict[str, Any] = {"type": kind}
    if len(series) and not series.isna().any():
        spec["nullable"] = False
    notes = [f"{series.isna().sum():,} null" if series.isna().any() else "no nulls"]
    identifier = _is_id(name)
    if identifier and len(present) > 1 and present.is_unique and kind in ("integer", "string"):
        spec["unique"] = True
    if kind in ("integer", "float") and len(present) and not (sensitive or identifier):
        values = as_type(series, kind)[0].dropna()
        lo, hi = float(values.min()), float(values.max())
        spec["min"], spec["max"] = _widen(lo, hi, integer=kind == "integer")
        notes.append(f"observed {_num(lo)} .. {_num(hi)}")
    if kind == "string" and not sensitive and not identifier and is_text(series):
        distinct = present.unique()
        if 0 < len(distinct) <= MAX_CATEGORIES and len(present) >= 2 * len(distinct):
            spec["allowed"] = sorted(str(v) for v in distinct)
            notes.append(f"{len(distinct)} categories")
    findings = scan.for_column(name)
    hint = next((h.kind for h in scan.hints if h.column == name), None)
    if findings or hint:
        spec["pii"] = "forbid"
        found = ", ".join(
            f"{f.kind} in {f.cells:,} cell" + ("s" * (f.cells != 1)) for f in findings
        )
        why = found or f"the name suggests {hint} data"
        notes.append(f"PII: {why}; decide forbid, allow or pseudonymize")
    return spec, "; ".join(notes)


def _kind(series: pd.Series) -> ColumnType:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return (
            "integer"
            if not as_type(series, "integer")[1].any() and series.notna().any()
            else "float"
        )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date" if not as_type(series, "date")[1].any() else "datetime"
    if not is_text(series) or series.notna().sum() == 0:
        return "any" if not is_text(series) else "string"
    return _kind_of_text(series.dropna().astype("str").str.strip())


def _kind_of_text(text: pd.Series) -> ColumnType:
    """The narrowest type every value's text fits (CSV columns are read as text for this)."""
    # "02134" is a code, not a number: its zero would be lost.
    if not text.str.match(r"^[+-]?0\d").any():
        if not as_type(text, "integer")[1].any():
            return "integer"
        if not as_type(text, "float")[1].any() and not text.str.contains("[a-zA-Z]").any():
            return "float"  # "nan" and "inf" are words, not measurements
    if text.str.lower().isin(["true", "false"]).all():
        return "boolean"
    for kind in ("date", "datetime"):
        if _looks_temporal(text) and not as_type(text, kind)[1].any():
            return kind
    return "string"


def _looks_temporal(series: pd.Series) -> bool:
    # to_datetime reads "2024" or "12" as dates too; require a date's shape.
    first = series.dropna().astype("str").head(50)
    return bool(first.str.match(r"^\d{4}-\d{2}-\d{2}").all())


def _is_id(name: str) -> bool:
    tokens = name_tokens(name)
    return bool(tokens) and tokens[-1] in _ID_TOKENS


def _widen(lo: float, hi: float, *, integer: bool) -> tuple[float | int, float | int]:
    """The observed range with 10% head-room each way, rounded outward to a round step.

    A range that starts at or above zero stays non-negative.
    """
    span = hi - lo or abs(hi) or 1.0
    pad = span * 0.1
    step = 10.0 ** math.floor(math.log10(pad))
    if integer:
        step = max(step, 1.0)
    new_lo = math.floor((lo - pad) / step) * step
    new_hi = math.ceil((hi + pad) / step) * step
    if lo >= 0:
        new_lo = max(new_lo, 0.0)
    if integer:
        return int(new_lo), int(new_hi)
    digits = max(0, -math.floor(math.log10(step)))
    return round(new_lo, digits), round(new_hi, digits)


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _render(
    data: dict[str, Any], notes: dict[str, str], source: str, rows: int, fresh: str | None
) -> str:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    out = [
        f"# Contract inferred by `monoloop validate infer` from {source} ({rows:,} rows), {today}.",
        "# A starting point: review every rule, tighten or loosen it, then commit this file.",
        "# Short form `max: 10`; long form `max: {value: 10, severity: warn}`.",
        "# Reference: docs/validation.md",
        "version: 1",
        "columns:",
    ]
    for name, spec in data["columns"].items():
        block = yaml.safe_dump({name: spec}, sort_keys=False, allow_unicode=True, width=100)
        lines = block.rstrip("\n").splitlines()
        note = notes.get(name)
        lines[0] = f"{lines[0]}  # {note}" if note else lines[0]
        out.extend("  " + line for line in lines)
    table = yaml.safe_dump({"table": data["table"]}, sort_keys=False, default_flow_style=None)
    out.extend(table.rstrip("\n").splitlines())
    if fresh:
        out.append(f"  # freshness: {{column: {fresh}, max_age: 1d}}  # for a live feed")
    return "\n".join(out) + "\n"
