"""The contract's PII policies as rules, judged on the findings of a PII scan.

- `pii: forbid`: fails on any cell holding PII.
- `pii: pseudonymize`: fails on any non-null value that is not a pseudonym yet
  (run `monoloop validate fix`), whatever it looks like: names have no pattern.
- `pii: allow`: always passes; the findings are still reported.
- Columns without a policy are judged together by one `pii.default` rule, so the
  set of rules, and of JUnit test cases, does not change with the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.validation.contract import Contract, Severity
from monoloop.validation.masking import sample
from monoloop.validation.pseudonymize import not_pseudonymized
from monoloop.validation.results import PiiScan, RuleResult

EXAMPLES = 5
SAMPLES = 3


def policy_columns(contract: Contract) -> dict[str, str]:
    return {name: col.policy for name, col in contract.columns.items() if col.policy is not None}


def pii_rules(contract: Contract, frame: pd.DataFrame, scan: PiiScan | None) -> list[RuleResult]:
    results = []
    for name, col in contract.columns.items():
        policy = col.policy
        if policy is None:
            continue
        rule = f"columns.{name}.pii"
        severity = contract.severity_of(col.pii, col)
        if policy == "pseudonymize":
            bad = not_pseudonymized(frame[name])
            base = RuleResult(rule, "pii", name, severity, "pseudonymized values", "pass")
            if bad.size:
                values = frame[name].iloc[bad[:SAMPLES]].tolist()
                base = RuleResult(
                    rule, "pii", name, severity, "pseudonymized values", "fail",
                    failing=int(bad.size),
                    rows=tuple(int(i) + 1 for i in bad[:EXAMPLES]),
                    samples=tuple(sample(v, sensitive=True) for v in values),
                    detail="raw values; run `monoloop validate fix`",
                )  # fmt: skip
            results.append(base)
            continue
        expect = "no PII" if policy == "forbid" else "PII allowed"
        results.append(_judged(rule, name, severity, expect, [name], scan, fail=policy == "forbid"))
    if contract.pii.scan and contract.pii.default == "forbid":
        declared = set(policy_columns(contract))
        others = [c for c in (scan.columns if scan else []) if c not in declared]
        results.append(
            _judged(
                "pii.default", None, contract.pii.severity,
                "no PII in text columns without a pii policy", others, scan, fail=True,
            )
        )  # fmt: skip
    return results


def _judged(
    rule: str,
    column: str | None,
    severity: Severity,
    expect: str,
    columns: list[str],
    scan: PiiScan | None,
    *,
    fail: bool,
) -> RuleResult:
    findings = [f for f in (scan.findings if scan else []) if f.column in columns]
    kinds = ", ".join(
        f"{f.kind} in {_cells(f.cells)}" + ("" if column else f" of {f.column}") for f in findings
    )
    passed = RuleResult(rule, "pii", column, severity, expect, "pass", detail=kinds)
    if not findings or not fail or scan is None:
        return passed
    hit = [scan.hit_rows[c] for c in columns if c in scan.hit_rows]
    rows = np.unique(np.concatenate(hit)) if hit else np.empty(0, dtype=np.int64)
    samples = tuple(s for f in findings for s in f.samples)[:SAMPLES]
    return RuleResult(
        rule, "pii", column, severity, expect, "fail",
        failing=int(rows.size),
        rows=tuple(int(i) + 1 for i in rows[:EXAMPLES]),
        samples=samples,
        detail=kinds,
    )  # fmt: skip


def _cells(n: int) -> str:
    return f"{n:,} cell" if n == 1 else f"{n:,} cells"
