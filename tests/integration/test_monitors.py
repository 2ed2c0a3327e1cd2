"""Monitors over the prediction log on SQLite and PostgreSQL: windows, drift, labels and
decay, importance, stored history, and when a fired check is alerted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.monitor_fixtures import DEPLOYMENT, clean_frame, drifted_frame, serve
from tests.integration.registry_fixtures import configure, train_model

from monoloop.audit import service as audit
from monoloop.errors import InvalidInput, NotFound
from monoloop.monitoring import labels, monitors
from monoloop.monitoring.alerts import Delivery
from monoloop.monitoring.spec import AlertSpec
from monoloop.registry import aliases, service
from monoloop.registry.versions import get_version
from monoloop.workspace import Workspace

T0 = 1_780_000_000.0
MONITOR: dict[str, Any] = {
    "window": {"last": 300},
    "min_rows": 100,
    "drift": {"share": 0.5},
    "decay": {"metric": "accuracy", "min": 0.7, "min_labels": 50},
    "importance": {"top": 1, "min_labels": 200},
}


def setup(ws: Workspace, monitor: dict[str, Any] | None = None) -> Workspace:
    t = train_model(seed=0)
    service.register_model(
        ws, "churn", t.model, sample_input=t.x_train, holdout=t.test, target="churned"
    )
    aliases.set_alias(ws, "churn", "champion", 1)
    return configure(
        ws,
        {
            "deployments": {DEPLOYMENT: {"model": "churn@champion"}},
            "monitors": {DEPLOYMENT: monitor or MONITOR},
        },
    )


@pytest.fixture
def mws(ws: Workspace) -> Iterator[Workspace]:
    opened = setup(ws)
    yield opened
    opened.close()


def by_monitor(results: list[monitors.MonitorResult]) -> dict[str, monitors.MonitorResult]:
    return {r.monitor: r for r in results}


def test_clean_traffic_passes_and_drifted_traffic_fires(mws: Workspace) -> None:
    clean = serve(mws, clean_frame(300, seed=5), start=T0, prefix="a")
    found = by_monitor(monitors.run_monitors(mws, clock=lambda: T0 + 400))
    assert found["drift"].verdict == "ok", found["drift"].summary
    assert found["drift"].rows == 300 and found["drift"].version == 1
    assert found["decay"].verdict == "skipped" and "0 labelled rows" in found["decay"].summary
    assert found["importance"].verdict == "skipped"

    labels.attach(mws, DEPLOYMENT, clean.truth)
    found = by_monitor(monitors.run_monitors(mws, clock=lambda: T0 + 500))
    assert found["decay"].verdict == "ok"
    assert found["decay"].statistics["value"] > 0.7
    registered = get_version(mws, "churn:1").metrics["accuracy"]
    assert found["decay"].statistics["registered"] == pytest.approx(registered)
    assert set(found["decay"].statistics["scores"]) == {
        "accuracy", "precision", "recall", "f1", "auc"
    }  # fmt: skip
    assert found["importance"].verdict == "ok"  # calls lead, live and at registration

    shifted = serve(mws, drifted_frame(300, seed=6), start=T0 + 1000, prefix="b")
    labels.attach(mws, DEPLOYMENT, shifted.truth)
    found = by_monitor(monitors.run_monitors(mws, clock=lambda: T0 + 1400))
    drift = found["drift"]
    assert drift.verdict == "fired", drift.summary
    assert set(drift.statistics["drifted"]) >= {"tenure", "region"}
    assert drift.statistics["columns"]["tenure"]["psi"] > 0.2
    assert drift.window["read"] == 300 and drift.window["spec"] == "last 300"
    assert found["decay"].verdict == "fired" and "below min 0.7" in found["decay"].summary
    assert found["importance"].verdict == "fired", found["importance"].statistics
    assert found["importance"].statistics["registered_top"] == ["calls"]
    assert found["importance"].statistics["live_top"] == ["region"]

    history = monitors.history(mws, DEPLOYMENT, monitor="drift")
    assert [r.verdict for r in history] == ["ok", "ok", "fired"]
    assert [r.id for r in history] == sorted(r.id for r in history)
    kinds = [e.kind for e in audit.log(mws)]
    assert kinds.count("monitor.result") == 9 and "monitor.labels" in kinds
    assert audit.verify(mws).ok


def test_a_time_window_and_the_serving_version(mws: Workspace) -> None:
    serve(mws, clean_frame(200, seed=1), start=T0, step=10.0, prefix="old")
    t = train_model(seed=3)
    service.register_model(mws, "churn", t.model, sample_input=t.x_train)
    aliases.set_alias(mws, "churn", "champion", 2)
    serve(mws, clean_frame(150, seed=2), start=T0 + 2000, step=10.0, prefix="new")
    window = monitors.read_window(mws, DEPLOYMENT, now=T0 + 5000, last=None, hours=1.0)
    # The last hour holds 60 rows of v1 and every row of v2; only v2's are judged.
    assert window.version == 2 and len(window.rows) == 150
    assert window.info["versions"] == {"churn:1": 60, "churn:2": 150}
    assert window.info["since"] == T0 + 5000 - 3600
    assert monitors.read_window(mws, DEPLOYMENT, now=T0, last=10, hours=None).rows.shape[0] == 10
    empty = monitors.read_window(mws, DEPLOYMENT, now=T0, last=5, hours=None, role="canary")
    assert empty.version is None
    found = monitors.evaluate(mws, DEPLOYMENT, empty, drift=None, decay=None, min_rows=1)
    assert found == []


def test_labels_replace_and_join_with_the_predictions_type(mws: Workspace, tmp_path: Path) -> None:
    served = serve(mws, clean_frame(20, seed=1), start=T0, prefix="q")
    path = tmp_path / "labels.csv"
    truth = served.truth.head(10).copy()
    truth.loc[0, "label"] = None
    truth.to_csv(path, index=False)
    first = labels.attach_file(mws, DEPLOYMENT, path)
    assert (first.attached, first.replaced, first.skipped) == (9, 0, 1)
    fixed = served.truth.head(3).assign(label=[1, 1, 1])
    again = labels.attach(mws, DEPLOYMENT, fixed)
    assert (again.attached, again.replaced) == (1, 2)
    joined = labels.join(mws, DEPLOYMENT, served.rows)
    assert len(joined) == 10 and joined["label"].dtype == served.rows["out.prediction"].dtype
    assert joined.set_index("request_id").loc["q-1", "label"] == 1
    with pytest.raises(InvalidInput, match="lack column"):
        labels.attach(mws, DEPLOYMENT, fixed.rename(columns={"label": "y"}))
    with pytest.raises(NotFound, match="no deployment 'nope'"):
        labels.attach(mws, "nope", fixed)


def test_a_firing_check_alerts_once_then_every_repeat_period(ws: Workspace) -> None:
    spec = {
        "window": {"last": 200},
        "min_rows": 50,
        "alerts": {"webhook": "http://127.0.0.1:9/hook", "repeat_minutes": 30},
    }
    opened = setup(ws, spec)
    sent: list[dict[str, Any]] = []

    def notifier(alert: AlertSpec | None, body: dict[str, Any]) -> Delivery:
        assert alert is not None and alert.repeat_minutes == 30
        sent.append(body)
        return Delivery("sent", 1, "http://127.0.0.1:9/...")

    try:
        serve(opened, drifted_frame(200, seed=3), start=T0)
        for minutes in (0, 10, 20, 31, 40):
            monitors.run_monitors(
                opened, clock=lambda m=minutes: T0 + 1000 + m * 60, notifier=notifier
            )
        assert len(sent) == 2  # at first, and again after 30 minutes of firing
        body = sent[0]
        assert body["kind"] == "monitor.fired" and body["monitor"] == "drift"
        assert body["deployment"] == DEPLOYMENT and body["version"] == 1
        assert "columns" not in body["statistics"] and body["statistics"]["drifted"]
        json.dumps(body)  # a webhook body must be plain JSON
        history = monitors.history(opened, DEPLOYMENT)
        assert [r.alert for r in history] == ["sent", None, None, "sent", None]
        assert monitors.get_result(opened, body["result_id"]).alert == "sent"
        assert [e.kind for e in audit.log(opened)].count("monitor.alert") == 2
    finally:
        opened.close()


def test_history_and_monitor_errors(mws: Workspace) -> None:
    assert monitors.history(mws, DEPLOYMENT) == []
    with pytest.raises(InvalidInput, match="unknown monitor"):
        monitors.history(mws, DEPLOYMENT, monitor="speed")
    with pytest.raises(NotFound, match="has no monitor"):
        monitors.run_monitors(mws, ["other"])
    with pytest.raises(NotFound, match="no monitor result 99"):
        monitors.get_result(mws, 99)
