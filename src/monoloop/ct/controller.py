"""The controller: continuous training as one `tick` at a time.

    report = Controller(ws).tick()        # `monoloop controller --once`

A tick (1) fires the scheduled pipelines that are due, (2) runs every monitor, and (3)
for each policy takes one step: the next step of its open cycle, or, with none open, a
new cycle when one of the policy's checks fired on the version the deployment serves and
the guards allow it (cooldown after the last cycle ended, at most N cycles in any 24 h).

Steps (cycles.py): retrain (the pipeline re-runs and must register a new version of the
model) -> gates (`registry.gates.check` against the deployment's alias) -> canary (the
challenger alias moves to the new version; the deployment's canary share serves it) ->
judged on the canary rows of the prediction log once `requests` of them are logged or
`minutes` passed -> promoted through `registry.aliases.promote`, or the challenger alias
withdrawn back to the champion. Failures, rejections and rollbacks alert; so does a
promotion. Time comes from `clock`, so tests need not wait out a cooldown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monoloop.ct import cycles
from monoloop.ct.cycles import Cycle, Decision
from monoloop.ct.schedules import Firing, Runner, run_schedules
from monoloop.ct.spec import PolicySpec
from monoloop.ct.triggers import maybe_trigger
from monoloop.errors import MonoloopError, NotFound
from monoloop.monitoring.alerts import notify
from monoloop.monitoring.monitors import MonitorResult, Notifier, run_monitors
from monoloop.workspace import Workspace

log = logging.getLogger("monoloop.ct")


@dataclass
class TickReport:
    time: float
    schedules: list[Firing] = field(default_factory=list)
    results: list[MonitorResult] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "schedules": [f.to_dict() for f in self.schedules],
            "results": [r.to_dict() for r in self.results],
            "decisions": [d.to_dict() for d in self.decisions],
        }


class Controller:
    def __init__(
        self,
        ws: Workspace,
        *,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.ws = ws
        self.clock = clock
        self.notifier = notifier or notify
        self.runner = runner

    # --- one tick ----------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One pass. A part that fails with a MonoloopError (a corrupt object, a model that
        went missing) is logged and reported, and the other parts still run: one broken
        deployment must not stop the others' retraining."""
        report = TickReport(self.clock())
        try:
            report.schedules = run_schedules(self.ws, now=self.clock(), runner=self.runner)
        except MonoloopError as exc:
            log.error("ct: schedules: %s", exc.message)
        if self.ws.config.monitors:
            try:
                report.results = run_monitors(self.ws, clock=self.clock, notifier=self.notifier)
            except MonoloopError as exc:
                log.error("ct: monitors: %s", exc.message)
        for name, policy in sorted(self.ws.config.policies.items()):
            try:
                decision = self.step(name, policy)
            except MonoloopError as exc:
                decision = Decision(name, "error", exc.message)
            if decision.action not in ("idle", "waiting"):
                log.info("ct: %s: %s: %s", name, decision.action, decision.reason)
            report.decisions.append(decision)
        return report

    def step(self, name: str, policy: PolicySpec) -> Decision:
        cycle = cycles.open_cycle_of(self.ws, name)
        if cycle is None:
            return maybe_trigger(self.ws, name, policy, now=self.clock())
        if cycle.step == cycles.TRIGGERED:
            return self._retrain(cycle, policy)
        if cycle.step == cycles.RETRAINING:
            limit = policy.retrain_timeout_minutes * 60
            if self.clock() - cycle.updated > limit:
                why = f"the retrain did not finish in {policy.retrain_timeout_minutes:g} min"
                return self._end(
                    cycle, policy, cycles.FAILED, why + " (was its controller stopped?)"
                )
            return Decision(name, "waiting", "retraining (in another controller)", cycle.id)
        if cycle.step == cycles.REGISTERED:
            return self._gate(cycle, policy)
        return self._judge(cycle, policy)

    # --- triggered -> registered ---------------------------------------------------------

    def _retrain(self, cycle: Cycle, policy: PolicySpec) -> Decision:
        from monoloop.pipelines.service import run_pipeline, source_stages
        from monoloop.registry.versions import list_versions

        pipeline, force = policy.retrain.pipeline, policy.retrain.force
        claimed = cycles.move(
            self.ws,
            cycle,
            now=self.clock(),
            step=cycles.RETRAINING,
            event="retrain",
            reason=f"re-running pipeline {pipeline} (force: {force})",
        )
        if claimed is None:
            return Decision(cycle.policy, "skipped", "another controller took this step")
        before = max((v.version for v in list_versions(self.ws, cycle.model)), default=0)
        raw = {n: p.model_dump() for n, p in self.ws.config.pipelines.items()}
        forced = source_stages(raw, pipeline) if force == "sources" else []
        try:
            result = (self.runner or run_pipeline)(
                self.ws, pipeline, force=force == "all", forced=forced
            )
        except MonoloopError as exc:
            return self._end(claimed, policy, cycles.FAILED, f"pipeline {pipeline}: {exc.message}")
        failed = [s.stage for s in result.stages if s.status in ("failed", "blocked", "killed")]
        if failed:
            why = f"pipeline {pipeline}: stage(s) {', '.join(failed)} failed"
            return self._end(claimed, policy, cycles.FAILED, why)
        runs = {s.run_id for s in result.stages if s.run_id}
        fresh = [v for v in list_versions(self.ws, cycle.model) if v.version > before]
        ours = [v for v in fresh if v.run_id in runs] or fresh
        if not ours:
            why = f"pipeline {pipeline} ran but registered no new version of {cycle.model}"
            return self._end(claimed, policy, cycles.FAILED, why)
        new = ours[-1]
        moved = cycles.move(
            self.ws,
            claimed,
            now=self.clock(),
            step=cycles.REGISTERED,
            challenger=new.version,
            reason=f"pipeline {pipeline} registered {new.ref}",
            details={"run": new.run_id, "metrics": _finite(new.metrics)},
        )
        return _decided(cycle, moved, cycles.REGISTERED, f"registered {new.ref}")

    # --- registered -> canary (or rejected) ----------------------------------------------

    def _gate(self, cycle: Cycle, policy: PolicySpec) -> Decision:
        from monoloop.registry.aliases import set_alias
        from monoloop.registry.gates import check

        assert cycle.challenger is not None
        alias = self._alias(policy)
        report = check(self.ws, cycle.model, cycle.challenger, against=alias)
        gates = [{"gate": r.gate, "status": r.status, "detail": r.detail} for r in report.results]
        if not report.passed:
            failed = "; ".join(f"{r.gate}: {r.detail}" for r in report.failures)
            return self._end(
                cycle, policy, cycles.REJECTED, f"gates failed vs {alias}: {failed}", gates=gates
            )
        if policy.canary is None:
            return self._promote(cycle, policy, "gates passed (no canary configured)")
        set_alias(
            self.ws,
            cycle.model,
            policy.challenger_alias,
            cycle.challenger,
            reason=f"ct cycle {cycle.id} ({cycle.policy}): canary",
        )
        reason = (
            f"{len(gates)} gate(s) passed; {cycle.model}@{policy.challenger_alias} -> "
            f"v{cycle.challenger} serves the canary share"
        )
        moved = cycles.move(
            self.ws,
            cycle,
            now=self.clock(),
            step=cycles.CANARY,
            canary_started=self.clock(),
            reason=reason,
            details={"gates": gates},
        )
        return _decided(cycle, moved, cycles.CANARY, reason)

    # --- canary -> promoted or rolled back -------------------------------------------------

    def _judge(self, cycle: Cycle, policy: PolicySpec) -> Decision:
        from monoloop.monitoring.monitors import evaluate, read_window, store

        canary = policy.canary
        assert canary is not None and cycle.canary_started is not None
        now = self.clock()
        window = read_window(
            self.ws,
            cycle.deployment,
            now=now,
            last=None,
            hours=None,
            role="canary",
            since=cycle.canary_started,
            version=cycle.challenger,
        )
        rows, minutes = len(window.rows), (now - cycle.canary_started) / 60
        if rows < canary.requests and minutes < canary.minutes:
            return Decision(
                cycle.policy,
                "waiting",
                f"canary: {rows}/{canary.requests} predictions, "
                f"{minutes:.1f}/{canary.minutes:g} min",
                cycle.id,
            )
        if rows < canary.min_rows:
            why = (
                f"only {rows} canary predictions in {minutes:.0f} min (min_rows {canary.min_rows})"
            )
            return self._roll_back(cycle, policy, why, {"canary_rows": rows})
        drift, decay = canary.checks(self.ws.config.monitors[cycle.deployment])
        found = evaluate(
            self.ws, cycle.deployment, window, drift=drift, decay=decay, min_rows=canary.min_rows
        )
        window.info["spec"] = f"canary since cycle {cycle.id} started it"
        stored = store(self.ws, cycle.deployment, window, found, role="canary", now=now)
        details = {"canary_rows": rows, "canary_results": [r.id for r in stored]}
        said = "; ".join(f"{r.monitor} {r.verdict}: {r.summary}" for r in stored) or "no checks"
        if any(r.verdict in ("fired", "error") for r in stored):
            return self._roll_back(
                cycle, policy, f"canary failed on {rows} predictions: {said}", details
            )
        return self._promote(cycle, policy, f"canary passed on {rows} predictions: {said}", details)

    def _promote(
        self, cycle: Cycle, policy: PolicySpec, why: str, details: dict[str, Any] | None = None
    ) -> Decision:
        from monoloop.registry.aliases import promote
        from monoloop.registry.gates import GatesFailed

        assert cycle.challenger is not None
        alias = self._alias(policy)
        reason = f"ct cycle {cycle.id} (policy {cycle.policy}): {self._trigger_text(cycle)}; {why}"
        try:
            move, _ = promote(self.ws, cycle.model, cycle.challenger, to=alias, reason=reason)
        except GatesFailed as exc:
            return self._end(cycle, policy, cycles.REJECTED, f"promotion refused: {exc.message}")
        before = f"v{move.previous}" if move.previous is not None else "nothing"
        said = f"{cycle.model}@{alias}: {before} -> v{move.version}; {why}"
        return self._end(cycle, policy, cycles.PROMOTED, said, **(details or {}))

    def _roll_back(
        self, cycle: Cycle, policy: PolicySpec, why: str, details: dict[str, Any]
    ) -> Decision:
        from monoloop.registry.aliases import remove_alias, set_alias
        from monoloop.registry.versions import get_version

        reason = f"ct cycle {cycle.id} ({cycle.policy}) rolled back: {why}"
        try:
            champion = get_version(self.ws, f"{cycle.model}@{self._alias(policy)}").version
        except NotFound:
            champion = None
        # The canary share goes back to the champion; with none, the alias goes away.
        if champion is not None:
            set_alias(
                self.ws, cycle.model, policy.challenger_alias, champion, action="withdraw",
                reason=reason,
            )  # fmt: skip
        else:
            remove_alias(self.ws, cycle.model, policy.challenger_alias)
        return self._end(cycle, policy, cycles.ROLLED_BACK, why, **details)

    # --- helpers ---------------------------------------------------------------------------

    def _alias(self, policy: PolicySpec) -> str:
        return self.ws.config.deployments[policy.deployment].model.partition("@")[2]

    def _trigger_text(self, cycle: Cycle) -> str:
        from monoloop.monitoring.monitors import get_result

        if cycle.trigger_result is None:
            return "triggered"
        try:
            r = get_result(self.ws, cycle.trigger_result)
        except NotFound:
            return f"triggered by result {cycle.trigger_result}"
        return f"{r.monitor} fired on {r.model}:{r.version} (result {r.id}: {r.summary})"

    def _end(
        self, cycle: Cycle, policy: PolicySpec, state: str, reason: str, **details: Any
    ) -> Decision:
        ended = cycles.move(
            self.ws, cycle, now=self.clock(), state=state, reason=reason, details=details
        )
        if ended is None:
            return Decision(cycle.policy, "skipped", "another controller took this step", cycle.id)
        spec = policy.alerts or self.ws.config.monitors[policy.deployment].alerts
        self.notifier(
            spec,
            {
                "kind": f"ct.{state}",
                "project": self.ws.config.project,
                **cycles.event_payload(ended),
                "result_id": ended.trigger_result,
                "summary": reason,
            },
        )
        return Decision(cycle.policy, state, reason, cycle.id)


def _decided(cycle: Cycle, moved: Cycle | None, action: str, reason: str) -> Decision:
    if moved is None:
        return Decision(cycle.policy, "skipped", "another controller took this step", cycle.id)
    return Decision(cycle.policy, action, reason, cycle.id)


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    import math

    return {k: v for k, v in values.items() if not isinstance(v, float) or math.isfinite(v)}
