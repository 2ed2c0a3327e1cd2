"""The data contract: what a table must look like, as pydantic models.

A contract lives in `contracts/NAME.yaml` (or inline under `contracts:` in
monoloop.yaml); `contract_files` reads it. Every rule has a short form
(`max: 120`) and a long form with its own severity (`max: {value: 120,
severity: warn}`). Unknown keys are errors.

This module imports only pydantic and the standard library, because the
workspace config embeds `Contract` and must stay cheap to load.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    field_validator,
)

from monoloop.errors import UserError

Severity = Literal["error", "warn"]
ColumnType = Literal["integer", "float", "string", "boolean", "datetime", "date", "any"]
PiiPolicy = Literal["forbid", "allow", "pseudonymize"]
Scalar = int | float | str | bool

NUMERIC_TYPES = ("integer", "float")
TEMPORAL_TYPES = ("datetime", "date")


class ContractError(UserError):
    """A contract file is missing, is not valid YAML, or does not fit the schema or the data."""

    http_status = 422


T = TypeVar("T")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict, Generic[T]):
    """One rule's expected value and, optionally, its own severity."""

    value: T
    severity: Severity | None = None


def _long_form(value: object) -> object:
    # The short form `max: 120` is the same rule as `max: {value: 120}`.
    if isinstance(value, dict) and "value" in value:
        return value
    return {"value": value}


def _scalar(value: object) -> Scalar:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date):  # from a mapping built in Python
        return value.isoformat()
    raise ValueError(f"expected a number, a string or a date, found {kind_of(value)}")


Bound = Annotated[Scalar, PlainValidator(_scalar)]
# One alias per rule value type: pydantic collapses `Rule[T]` to `Rule`, so no generic alias.
_Short = BeforeValidator(_long_form)
TypeRule = Annotated[Rule[ColumnType], _Short]
FlagRule = Annotated[Rule[bool], _Short]
BoundRule = Annotated[Rule[Bound], _Short]
ValuesRule = Annotated[Rule[list[Bound]], _Short]
TextRule = Annotated[Rule[str], _Short]
PolicyRule = Annotated[Rule[PiiPolicy], _Short]
ColumnsRule = Annotated[Rule[list[str]], _Short]


class ColumnSpec(_Strict):
    """Rules for one column; `severity` is the default for the column's rules."""

    type: TypeRule | None = None
    description: str | None = None
    nullable: FlagRule | None = None
    unique: FlagRule | None = None
    min: BoundRule | None = None
    max: BoundRule | None = None
    allowed: ValuesRule | None = None
    pattern: TextRule | None = None
    pii: PolicyRule | None = None
    severity: Severity | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, rule: Rule[str] | None) -> Rule[str] | None:
        if rule is not None:
            try:
                re.compile(rule.value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return rule

    @property
    def column_type(self) -> ColumnType:
        return self.type.value if self.type else "any"

    @property
    def policy(self) -> PiiPolicy | None:
        return self.pii.value if self.pii else None


class RowsSpec(_Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    severity: Severity | None = None


class FreshnessSpec(_Strict):
    """The newest value of a timestamp column must be at most `max_age` old."""

    column: str
    max_age: str = Field(description="e.g. 36h, 7d, 1d12h (s, m, h, d, w)")
    severity: Severity | None = None

    @field_validator("max_age")
    @classmethod
    def _duration(cls, text: str) -> str:
        parse_duration(text)
        return text

    @property
    def age(self) -> dt.timedelta:
        return parse_duration(self.max_age)


class TableSpec(_Strict):
    rows: RowsSpec | None = None
    freshness: FreshnessSpec | None = None
    primary_key: ColumnsRule | None = None

    @field_validator("primary_key")
    @classmethod
    def _not_empty(cls, rule: Rule[list[str]] | None) -> Rule[list[str]] | None:
        if rule is not None and not rule.value:
            raise ValueError("primary_key needs at least one column")
        return rule


class PiiSettings(_Strict):
    """How the PII scan treats text columns that do not set `pii:` themselves."""

    scan: bool = True
    default: Literal["forbid", "allow"] = "forbid"
    severity: Severity = "warn"


class Contract(_Strict):
    """The whole of a contract file."""

    version: Literal[1] = 1
    description: str | None = None
    severity: Severity = "error"
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    table: TableSpec = Field(default_factory=TableSpec)
    pii: PiiSettings = Field(default_factory=PiiSettings)

    def severity_of(self, rule: Rule[Any] | None, column: ColumnSpec | None = None) -> Severity:
        """The rule's own severity, else its column's, else the contract's."""
        if rule is not None and rule.severity is not None:
            return rule.severity
        if column is not None and column.severity is not None:
            return column.severity
        return self.severity

    def referenced_columns(self) -> dict[str, str]:
        """Every column the contract names, keyed by the key path that names it."""
        found = {f"columns.{name}": name for name in self.columns}
        if self.table.primary_key:
            for i, name in enumerate(self.table.primary_key.value):
                found[f"table.primary_key.{i}"] = name
        if self.table.freshness:
            found["table.freshness.column"] = self.table.freshness.column
        return found


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> dt.timedelta:
    """`36h`, `7d`, `1d12h`, `90s`, `2w`: a sum of number+unit parts."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not compact or _DURATION.sub("", compact).strip():
        raise ValueError(f"{text!r} is not a duration; write e.g. 36h, 7d or 1d12h")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return dt.timedelta(seconds=seconds)


def format_duration(delta: dt.timedelta, *, parts: int | None = None) -> str:
    """The shortest `1d12h`-style text for whole seconds (inverse of parse_duration).

    With `parts`, only the largest units: `2w3d` rather than `2w3d4h5m6s`.
    """
    left = int(delta.total_seconds())
    if left <= 0:
        return "0s"
    out = []
    for unit in ("w", "d", "h", "m", "s"):
        n, left = divmod(left, _UNIT_SECONDS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out[:parts])


def contract_to_dict(contract: Contract) -> dict[str, Any]:
    """The contract as plain data in its short forms, for writing YAML a human will edit."""
    raw = contract.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return _short(raw)  # type: ignore[no-any-return]


def _short(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"value"}:
            return _short(value["value"])
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def rule_conflicts(contract: Contract) -> list[tuple[str, str]]:
    """Rules that parse but cannot hold together: a text min on a number column, min > max.

    Each as (key path, problem); the loader turns them into one error naming file and lines.
    """
    found = []
    for name, col in contract.columns.items():
        kind = col.column_type
        for key in ("min", "max"):
            rule = getattr(col, key)
            if rule is None:
                continue
            value = rule.value
            where = f"columns.{name}.{key}"
            if kind in NUMERIC_TYPES and not _is_number(value):
                found.append((where, f"must be a number for {_a(kind)} column, found {value!r}"))
            elif kind in TEMPORAL_TYPES and not _is_timestamp(value):
                found.append((where, f"must be an ISO date for {_a(kind)} column, found {value!r}"))
            elif kind in ("string", "boolean"):
                found.append((where, f"{key} does not apply to {_a(kind)} column"))
            elif kind == "any" and not (_is_number(value) or _is_timestamp(value)):
                found.append((where, f"must be a number or an ISO date, found {value!r}"))
        low, high = col.min.value if col.min else None, col.max.value if col.max else None
        if _is_number(low) and _is_number(high) and low > high:  # type: ignore[operator]
            found.append((f"columns.{name}.min", f"min {low} is greater than max {high}"))
    rows = contract.table.rows
    if rows and rows.min is not None and rows.max is not None and rows.min > rows.max:
        found.append(("table.rows.min", f"min {rows.min} is greater than max {rows.max}"))
    return found


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def kind_of(value: object) -> str:
    """How an error names what was found: `a list`, `a string`, `int`."""
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
