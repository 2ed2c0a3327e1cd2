"""What a validation produces: plain data, already masked, ready for any output format."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from monoloop.errors import MonoloopError
from monoloop.validation.contract import Severity

Status = Literal["pass", "fail", "error"]


class ValidationFailed(MonoloopError):
    """Data broke an error-severity rule of its contract (raised on request, e.g. by a stage)."""

    exit_code = 1
    http_status = 422


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome. Row numbers are 1-based positions of data rows (1 = first record)."""

    rule: str  # the contract key path: columns.age.max, table.rows
    kind: str  # type, nullable, unique, min, max, allowed, pattern, pii, rows, freshness, ...
    column: str | None
    severity: Severity
    expect: str
    status: Status
    failing: int = 0
    rows: tuple[int, ...] = ()
    samples: tuple[str, ...] = ()  # masked, never raw
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status != "pass"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"], data["samples"] = list(self.rows), list(self.samples)
        return data


@dataclass(frozen=True)
class PiiFinding:
    """Cells of one column holding one kind of PII."""

    column: str
    kind: str  # email, phone, card, iban, ssn, ip
    cells: int
    rows: tuple[int, ...] = ()
    samples: tuple[str, ...] = ()  # masked, never raw

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": list(self.rows), "samples": list(self.samples)}


@dataclass(frozen=True)
class NameHint:
    """A column whose name suggests personal data, whatever its values look like."""

    column: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PiiScan:
    findings: list[PiiFinding]
    hints: list[NameHint]
    columns: list[str]  # the text columns scanned
    cells: int  # text cells scanned
    # Per scanned column, the positions of cells with any PII; for contract rules, not output.
    hit_rows: dict[str, Any] = field(default_factory=dict, repr=False)

    def for_column(self, column: str) -> list[PiiFinding]:
        return [f for f in self.findings if f.column == column]

    @property
    def sensitive_columns(self) -> set[str]:
        return {f.column for f in self.findings} | {h.column for h in self.hints}

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "cells": self.cells,
            "findings": [f.to_dict() for f in self.findings],
            "hints": [h.to_dict() for h in self.hints],
        }


@dataclass
class ValidationReport:
    """The outcome of checking one table against one contract."""

    data: str
    contract: str
    rows: int
    columns: int
    rules: list[RuleResult]
    pii: PiiScan | None = None
    rev: str | None = None

    @property
    def errors(self) -> list[RuleResult]:
        return [r for r in self.rules if r.failed and r.severity == "error"]

    @property
    def warnings(self) -> list[RuleResult]:
        return [r for r in self.rules if r.failed and r.severity == "warn"]

    @property
    def ok(self) -> bool:
        """No error-severity rule failed; warnings do not count."""
        return not self.errors

    def summary(self) -> str:
        passed = sum(1 for r in self.rules if not r.failed)
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"{verdict}: {passed}/{len(self.rules)} rules pass, "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        )

    def raise_for_errors(self) -> None:
        """For pipeline stages: stop when an error-severity rule failed."""
        if not self.ok:
            names = ", ".join(r.rule for r in self.errors[:5])
            raise ValidationFailed(
                f"{self.data} breaks contract {self.contract}: {names}",
                hint=f"run `monoloop validate {self.data} --contract {self.contract}` for details",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "rev": self.rev,
            "contract": self.contract,
            "ok": self.ok,
            "rows": self.rows,
            "columns": self.columns,
            "summary": self.summary(),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "rules": [r.to_dict() for r in self.rules],
            "pii": self.pii.to_dict() if self.pii else None,
        }
