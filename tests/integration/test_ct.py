"""Continuous training on SQLite and PostgreSQL, against a simulated served deployment:
drift injected -> detected -> retrained by the real pipeline -> gated -> canary ->
promoted; a challenger stopped by its gates; a canary rolled back; and the guards."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.ct_fixtures import FakeTrainer, ct_workspace, write_source
from tests.integration.monitor_fixtures import DEPLOYMENT, clean_frame, drifted_frame, serve

from monoloop.audit import service as audit
from monoloop.cli import main
from monoloop.ct import cycles
from monoloop.ct.controller import Controller
from monoloop.monitoring import labels, monitors
from monoloop.monitoring.alerts import Delivery
from monoloop.monitoring.spec import AlertSpec
from monoloop.registry.aliases import history
from monoloop.registry.lineage import lineage
from monoloop.registry.versions import get_version
from monoloop.workspace import Workspace

T0 = 1_780_000_000.0
MIN = 60.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Alerts:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, spec: AlertSpec | None, body: dict[str, Any]) -> Delivery:
        self.bodies.append(body)
        return Delivery("logged")

    def kinds(self) -> list[str]:
        return [b["kind"] for b in self.bodies]


def ct_kinds(ws: Workspace) -> list[str]:
    return [e.kind for e in audit.log(ws) if e.kind.startswith("ct.")]


def inject_drift(ws: Workspace, start: float) -> None:
    """The market changes: the deployment now sees (and later learns the truth about)
    customers unlike those v1 was trained on."""
    served = serve(ws, drifted_frame(300, seed=11), start=start, prefix="drift")
    labels.attach(ws, DEPLOYMENT, served.truth)


def serve_canary(ws: Workspace, start: float, rows: int = 120) -> None:
    served = serve(
        ws, drifted_frame(rows, seed=12), ref="churn@challenger", role="canary", start=start,
        prefix="canary",
    )  # fmt: skip
    labels.attach(ws, DEPLOYMENT, served.truth)


@pytest.mark.slow
def test_drift_detected_retrained_gated_canaried_promoted(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    opened = ct_workspace(ws)
    try:
        clock, alerts = Clock(T0), Alerts()
        control = Controller(opened, clock=clock, notifier=alerts)
        serve(opened, clean_frame(300, seed=10), start=T0 - 400, prefix="clean")
        first = control.tick()
        assert [d.action for d in first.decisions] == ["idle"]
        assert {r.monitor: r.verdict for r in first.results}["drift"] == "ok"

        inject_drift(opened, T0 + 100)
        write_source(opened.root, drifted_frame(1000, seed=13))  # the warehouse has new rows
        clock.now = T0 + 500
        tick = control.tick()
        [decision] = tick.decisions
        assert decision.action == "triggered" and "drift fired on churn:1" in decision.reason
        cycle = cycles.get_cycle(opened, decision.cycle or 0)
        trigger = monitors.get_result(opened, cycle.trigger_result or 0)
        assert trigger.fired and trigger.monitor == "drift" and cycle.champion == 1

        clock.now += MIN
        assert control.tick().decisions[0].action == "registered"  # the real pipeline ran
        assert get_version(opened, "churn").version == 2
        assert get_version(opened, "churn:2").run_id is not None

        clock.now += MIN
        gated = control.tick().decisions[0]
        assert gated.action == "canary", gated.reason
        assert get_version(opened, "churn@challenger").version == 2
        assert get_version(opened, "churn@champion").version == 1

        clock.now += MIN
        waiting = control.tick().decisions[0]
        assert waiting.action == "waiting" and "0/100 predictions" in waiting.reason

        serve_canary(opened, clock.now + 1)
        clock.now += 5 * MIN
        done = control.tick().decisions[0]
        assert done.action == "promoted", done.reason
        assert "canary passed on 120 predictions" in done.reason
        assert get_version(opened, "churn@champion").version == 2

        cycle = cycles.get_cycle(opened, cycle.id)
        assert (cycle.state, cycle.step, cycle.challenger) == ("promoted", "done", 2)
        assert [d["step"] for d in cycle.decisions] == [
            "triggered", "retraining", "registered", "canary", "promoted"
        ]  # fmt: skip
        assert ct_kinds(opened) == ["ct.trigger", "ct.retrain", "ct.registered", "ct.canary",
                                    "ct.promoted"]  # fmt: skip
        canary_results = monitors.history(opened, DEPLOYMENT, role="canary")
        assert {r.monitor: r.verdict for r in canary_results} == {"drift": "ok", "decay": "ok"}
        assert all(r.version == 2 for r in canary_results)
        assert alerts.kinds()[-1] == "ct.promoted"

        # `models lineage` explains why the champion changed.
        promotion = [m for m in history(opened, "churn", "champion") if m.action == "promote"]
        assert promotion and f"ct cycle {cycle.id}" in (promotion[-1].reason or "")
        assert f"result {trigger.id}" in (promotion[-1].reason or "")
        found = lineage(opened, "churn:2")
        kinds = [e.kind for e in found.events]
        assert {"ct.trigger", "ct.canary", "ct.promoted", "model.promote"} <= set(kinds)
        trigger_event = next(e for e in found.events if e.kind == "ct.trigger")
        assert trigger_event.payload["trigger"] == trigger.id
        code = main.run(["-C", str(opened.root), "models", "lineage", "churn:2"])
        out = capsys.readouterr().out
        assert code == 0 and "ct.promoted" in out and f"ct cycle {cycle.id}" in out
        code = main.run(["-C", str(opened.root), "controller", "--status", "--json"])
        status = json.loads(capsys.readouterr().out)
        assert code == 0 and status["cycles"][0]["state"] == "promoted"
        assert audit.verify(opened).ok
    finally:
        opened.close()


@pytest.mark.slow
def test_a_challenger_failing_its_gate_is_never_promoted(ws: Workspace) -> None:
    opened = ct_workspace(ws, gates=[{"metric": "accuracy >= champion.accuracy + 0.5"}])
    try:
        clock, alerts = Clock(T0), Alerts()
        control = Controller(opened, clock=clock, notifier=alerts)
        inject_drift(opened, T0 - 400)
        write_source(opened.root, drifted_frame(1000, seed=13))
        actions = []
        for _ in range(4):
            actions.append(control.tick().decisions[0].action)
            clock.now += MIN
        assert actions == ["triggered", "registered", "rejected", "skipped"]  # then cooldown
        cycle = cycles.list_cycles(opened)[0]
        assert cycle.state == "rejected" and cycle.challenger == 2
        assert "gates failed vs champion" in cycle.decisions[-1]["reason"]
        assert cycle.decisions[-1]["gates"][0]["status"] == "fail"
        assert get_version(opened, "churn@champion").version == 1
        with pytest.raises(Exception, match="no version of 'churn' holds the alias"):
            get_version(opened, "churn@challenger")  # never served a single canary request
        assert alerts.kinds()[-1] == "ct.rejected"
        assert ct_kinds(opened) == ["ct.trigger", "ct.retrain", "ct.registered", "ct.rejected",
                                    "ct.skip"]  # fmt: skip
    finally:
        opened.close()


def fake_workspace(ws: Workspace, frame: Callable[..., Any] = drifted_frame, **config: Any) -> Any:
    opened = ct_workspace(ws, **config)
    trainer = FakeTrainer(frame(600, seed=21), frame(200, seed=22))
    return opened, trainer


def test_a_failing_canary_is_rolled_back(ws: Workspace) -> None:
    # A challenger trained on the old market passes the gates (accuracy on its own
    # holdout) but fails the canary's decay check on the new market's labelled rows.
    opened, trainer = fake_workspace(ws, frame=clean_frame)
    try:
        clock, alerts = Clock(T0), Alerts()
        control = Controller(opened, clock=clock, notifier=alerts, runner=trainer)
        inject_drift(opened, T0 - 400)
        for expected in ("triggered", "registered", "canary"):
            assert control.tick().decisions[0].action == expected
            clock.now += MIN
        assert trainer.calls == [{"pipeline": "train", "force": True, "forced": []}]
        serve_canary(opened, clock.now)
        clock.now += 31 * MIN
        done = control.tick().decisions[0]
        assert done.action == "rolled_back" and "decay fired" in done.reason
        assert get_version(opened, "churn@champion").version == 1
        assert get_version(opened, "churn@challenger").version == 1  # canary share -> champion
        withdraw = history(opened, "churn", "challenger")[-1]
        assert withdraw.action == "withdraw" and "rolled back" in (withdraw.reason or "")
        assert alerts.kinds()[-1] == "ct.rolled_back"
    finally:
        opened.close()


def test_too_little_canary_traffic_is_rolled_back_after_the_time(ws: Workspace) -> None:
    opened, trainer = fake_workspace(ws)
    try:
        clock = Clock(T0)
        control = Controller(opened, clock=clock, notifier=Alerts(), runner=trainer)
        inject_drift(opened, T0 - 400)
        for _ in range(3):
            control.tick()
            clock.now += MIN
        serve_canary(opened, clock.now, rows=10)
        clock.now += 10 * MIN
        assert control.tick().decisions[0].action == "waiting"
        clock.now += 30 * MIN
        done = control.tick().decisions[0]
        assert done.action == "rolled_back" and "only 10 canary predictions" in done.reason
    finally:
        opened.close()


def test_guards_cooldown_prevents_a_loop_and_a_day_has_a_maximum(ws: Workspace) -> None:
    opened, trainer = fake_workspace(ws, canary=None, cooldown_minutes=60, max_retrains_per_day=2)
    try:
        clock, alerts = Clock(T0), Alerts()
        control = Controller(opened, clock=clock, notifier=alerts, runner=trainer)
        inject_drift(opened, T0 - 400)
        actions = []
        for _ in range(3):
            actions.append(control.tick().decisions[0].action)
            clock.now += MIN
        assert actions == ["triggered", "registered", "promoted"]  # no canary configured
        assert get_version(opened, "churn@champion").version == 2

        # v2 now serves a market that swings back: its own monitor fires at once...
        serve(opened, clean_frame(300, seed=30), start=clock.now, prefix="back")
        for _ in range(5):
            assert control.tick().decisions[0].action == "skipped"  # ...but cooldown holds
            clock.now += 10 * MIN
        skips = [e for e in audit.log(opened) if e.kind == "ct.skip"]
        assert len(skips) == 1 and skips[0].payload["guard"] == "cooldown"

        clock.now += 20 * MIN  # 70 minutes after the cycle ended
        assert control.tick().decisions[0].action == "triggered"
        for _ in range(2):
            clock.now += MIN
            control.tick()
        assert cycles.list_cycles(opened)[0].state == "promoted"  # v3
        serve(opened, clean_frame(300, seed=31), start=clock.now, prefix="again")
        clock.now += 61 * MIN
        held = control.tick().decisions[0]
        assert held.action == "skipped" and "2 cycles in the last 24 h" in held.reason
        clock.now = T0 + cycles.DAY + 10 * MIN
        serve(opened, clean_frame(300, seed=32), start=clock.now - 5, prefix="later")
        assert control.tick().decisions[0].action == "triggered"  # a day later
    finally:
        opened.close()


def test_a_stuck_retrain_fails_and_stale_results_do_not_trigger(ws: Workspace) -> None:
    opened, trainer = fake_workspace(ws, retrain_timeout_minutes=30)
    try:
        clock = Clock(T0)
        control = Controller(opened, clock=clock, notifier=Alerts(), runner=trainer)
        inject_drift(opened, T0 - 400)
        control.tick()
        cycle = cycles.open_cycle_of(opened, "churn-retrain")
        assert cycle is not None
        # A controller that died mid-retrain leaves the cycle in `retraining`.
        assert cycles.move(opened, cycle, now=clock.now, step=cycles.RETRAINING, reason="x")
        clock.now += 10 * MIN
        assert control.tick().decisions[0].action == "waiting"
        clock.now += 25 * MIN
        failed = control.tick().decisions[0]
        assert failed.action == "failed" and "did not finish in 30 min" in failed.reason
        # Drift results about v1 do not start a cycle once v1 no longer serves.
        from monoloop.registry.aliases import set_alias

        trainer(opened, "train")
        set_alias(opened, "churn", "champion", 2)
        clock.now += 2 * 60 * MIN
        assert control.tick().decisions[0].action == "idle"  # the newest rows are still v1's
    finally:
        opened.close()
