"""Gates: the rules in monoloop.yaml a version must pass before an alias moves to it.

`check(ws, "churn", 3, against="champion")` evaluates every gate of the model and records
the result (a `model_checks` row and a `model.check` ledger event). A gate's status is
`pass`, `fail`, or `error` (it could not be evaluated: a metric the version lacks, no
holdout set for a slice gate); an error fails the check like a failure does.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import insert, select

from monoloop.errors import MonoloopError, UserError
from monoloop.registry import evaluation
from monoloop.registry.loading import Predictor, load_version
from monoloop.registry.model import ModelVersion
from monoloop.registry.rules import RuleError, parse_rule
from monoloop.registry.spec import Gate
from monoloop.registry.tables import model_checks
from monoloop.registry.versions import aliases_of, resolve
from monoloop.workspace import Workspace

LATENCY_CALLS = 200


class GatesFailed(MonoloopError):
    """A version did not pass its gates (exit 1, HTTP 409)."""

    exit_code = 1
    http_status = 409


@dataclass(frozen=True)
class GateResult:
    gate: str
    kind: str
    status: str  # pass | fail | error
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "data": self.data,
        }


@dataclass
class CheckReport:
    version: ModelVersion
    against: str | None
    reference: ModelVersion | None
    results: list[GateResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "against": self.against,
            "reference_version": self.reference.version if self.reference else None,
            "passed": self.passed,
            "results": [r.to_dict() for r in self.results],
            "metrics": _finite(self.version.metrics),
            "reference_metrics": _finite(self.reference.metrics) if self.reference else None,
            "importance": (self.version.importance or [])[:10],
        }

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], *, version: ModelVersion, reference: ModelVersion | None
    ) -> CheckReport:
        """The report `to_dict` described, around the two versions it names by number."""
        results = [
            GateResult(r["gate"], r["kind"], r["status"], r["detail"], r.get("data") or {})
            for r in d["results"]
        ]
        return cls(version, d["against"], reference, results)


def check(
    ws: Workspace,
    name: str,
    version: int | None = None,
    *,
    against: str | None = "champion",
    record: bool = True,
) -> CheckReport:
    """Evaluate the model's gates on one version (the latest when `version` is None)."""
    ref = f"{name}:{version}" if version is not None else name
    with ws.db.read() as conn:
        mv = resolve(conn, ref)
        held = aliases_of(conn, name)
        holders = {alias: resolve(conn, f"{name}:{v}") for alias, v in held.items()}
    spec = ws.config.models.get(name)
    gates = spec.gates if spec is not None else []
    refs = {alias: h.metrics for alias, h in holders.items()}
    reference = holders.get(against) if against else None
    candidate = _Candidate(ws, mv)
    results = [_evaluate(ws, gate, candidate, refs) for gate in gates]
    report = CheckReport(mv, against, reference, results)
    if record:
        _record(ws, report)
    return report


class _Candidate:
    """The version under check; its model and holdout set are loaded once, when a gate
    first needs them."""

    def __init__(self, ws: Workspace, mv: ModelVersion) -> None:
        self.ws = ws
        self.mv = mv
        self._holdout: pd.DataFrame | None = None

    @cached_property
    def predictor(self) -> Predictor:
        return load_version(self.ws, self.mv)

    def holdout(self, what: str) -> pd.DataFrame:
        if self.mv.holdout_id is None:
            raise RuleError(
                f"{what} needs the version's holdout set, and {self.mv.ref} was registered "
                "without one",
                hint="register with holdout=DATAFRAME and target=COLUMN (--holdout, --target)",
            )
        if self._holdout is None:
            import io

            self._holdout = pd.read_parquet(io.BytesIO(self.ws.objects.get(self.mv.holdout_id)))
        return self._holdout


def _evaluate(
    ws: Workspace, gate: Gate, candidate: _Candidate, refs: dict[str, dict[str, float]]
) -> GateResult:
    mv = candidate.mv
    name, kind = gate.describe(), gate.kind
    try:
        if gate.metric is not None:
            return _metric_gate(name, gate.metric, mv, refs)
        if gate.slice is not None:
            assert gate.rule is not None
            return _slice_gate(name, gate.slice, gate.rule, candidate)
        if gate.latency_p99_ms is not None:
            return _latency_gate(name, gate, candidate)
        if gate.max_size_mb is not None:
            mb = mv.size / 1e6
            ok = mb <= gate.max_size_mb
            return GateResult(name, kind, _status(ok), f"{mb:.3f} MB", {"size_mb": mb})
        if gate.data_validated is not None:
            return _data_gate(ws, name, gate.data_validated, mv)
        return _card_gate(name, gate.card_fields or [], mv)
    except UserError as exc:
        return GateResult(name, kind, "error", exc.message + (f" ({exc.hint})" if exc.hint else ""))


def _status(ok: bool) -> str:
    return "pass" if ok else "fail"


def _metric_gate(
    name: str, text: str, mv: ModelVersion, refs: dict[str, dict[str, float]]
) -> GateResult:
    rule = parse_rule(text)
    absent = sorted(a for a in rule.aliases if a not in refs)
    if absent:
        return GateResult(
            name,
            "metric",
            "pass",
            f"no version holds {', '.join(absent)} yet: nothing to compare with",
            {"skipped": True},
        )
    outcome = rule.evaluate(mv.metrics, refs)
    detail = f"{outcome.left:.6g} {rule.op} {outcome.right:.6g}"
    return GateResult(name, "metric", _status(outcome.passed), detail, outcome.to_dict())


def _slice_gate(name: str, column: str, text: str, candidate: _Candidate) -> GateResult:
    mv = candidate.mv
    rule = parse_rule(text)
    holdout = candidate.holdout("a slice gate")
    if column not in holdout.columns:
        raise RuleError(
            f"the holdout set of {mv.ref} has no column {column!r} to slice by",
            hint="columns: " + ", ".join(map(str, holdout.columns)),
        )
    if mv.target is None or mv.target not in holdout.columns:
        raise RuleError(f"{mv.ref} has no target column recorded for its holdout set")
    model = candidate.predictor
    task = mv.task or "classification"
    pred = model.predict(holdout)
    proba = model.predict_proba(holdout) if task == "classification" and model.has_proba else None
    slices: dict[str, Any] = {}
    failing = []
    for value, index in holdout.groupby(column, dropna=False, sort=True).indices.items():
        y = holdout[mv.target].to_numpy()[index]
        scores = evaluation.score(task, y, pred[index], None if proba is None else proba[index])
        outcome = rule.evaluate(scores)
        slices[str(value)] = {"rows": len(index), **_finite(scores), "passed": outcome.passed}
        if not outcome.passed:
            failing.append(f"{value} ({outcome.left:.4g})")
    detail = (
        f"{len(slices)} slices pass"
        if not failing
        else f"{len(failing)} of {len(slices)} slices fail: " + ", ".join(failing)
    )
    return GateResult(name, "slice", _status(not failing), detail, {"slices": slices})


def _latency_gate(name: str, gate: Gate, candidate: _Candidate) -> GateResult:
    holdout = candidate.holdout("a latency gate")
    model = candidate.predictor
    rows = holdout.head(gate.batch_rows)
    reps = -(-gate.batch_rows // max(len(rows), 1))
    batch = pd.concat([rows] * reps, ignore_index=True).head(gate.batch_rows)
    for _ in range(5):
        model.predict(batch)
    times = []
    for _ in range(LATENCY_CALLS):
        start = time.perf_counter()
        model.predict(batch)
        times.append((time.perf_counter() - start) * 1000)
    p50, p99 = (float(np.percentile(times, q)) for q in (50, 99))
    assert gate.latency_p99_ms is not None
    ok = p99 <= gate.latency_p99_ms
    return GateResult(
        name, "latency", _status(ok), f"p99 {p99:.2f} ms, p50 {p50:.2f} ms", {"p99": p99}
    )


def _data_gate(ws: Workspace, name: str, required: bool, mv: ModelVersion) -> GateResult:
    if not required:
        return GateResult(name, "data_validated", "pass", "not required")
    from monoloop.audit.service import EventFilter, log

    if not mv.inputs:
        raise RuleError(
            f"{mv.ref} records no training data to have been validated",
            hint="register it from a pipeline run (--run RUN) whose inputs are validated",
        )
    verdicts: dict[str, bool | None] = {}
    for path in sorted(mv.inputs):
        checks = log(ws, EventFilter(subject=path, kind="validation.check", limit=1))
        verdicts[path] = bool(checks[-1].payload.get("ok")) if checks else None
    checked = {p: ok for p, ok in verdicts.items() if ok is not None}
    failed = sorted(p for p, ok in checked.items() if not ok)
    if not checked:
        return GateResult(
            name, "data_validated", "fail", "no training input was ever validated", verdicts
        )
    if failed:
        return GateResult(
            name, "data_validated", "fail", "failed validation: " + ", ".join(failed), verdicts
        )
    return GateResult(
        name, "data_validated", "pass", f"{len(checked)} input(s) passed validation", verdicts
    )


def _card_gate(name: str, required: list[str], mv: ModelVersion) -> GateResult:
    missing = [f for f in required if not mv.card_fields.get(f, "").strip()]
    if missing:
        return GateResult(name, "card_fields", "fail", "missing: " + ", ".join(missing))
    return GateResult(name, "card_fields", "pass", f"{len(required)} fields present")


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v if not isinstance(v, float) or math.isfinite(v) else repr(v))
        for k, v in values.items()
    }


def _record(ws: Workspace, report: CheckReport) -> None:
    mv = report.version
    results = [r.to_dict() for r in report.results]
    with ws.db.write() as conn:
        conn.execute(
            insert(model_checks).values(
                model=mv.model,
                version=mv.version,
                time=time.time(),
                against=report.against,
                passed=report.passed,
                results=json.dumps(results, default=str),
            )
        )
        ws.record(
            conn,
            "model.check",
            mv.ref,
            {
                "passed": report.passed,
                "against": report.against,
                "reference_version": report.reference.version if report.reference else None,
                "gates": [{"gate": r.gate, "status": r.status} for r in report.results],
            },
        )


def latest_check(ws: Workspace, name: str, version: int) -> dict[str, Any] | None:
    with ws.db.read() as conn:
        row = conn.execute(
            select(model_checks)
            .where(model_checks.c.model == name, model_checks.c.version == version)
            .order_by(model_checks.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return {"passed": row.passed, "against": row.against, "results": json.loads(row.results)}
