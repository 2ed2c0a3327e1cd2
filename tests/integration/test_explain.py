"""Explainability over time: importance of every version side by side, top-k changes
flagged, and importance measured again on a deployment's labelled window."""

from __future__ import annotations

import json

import pytest
from tests.integration.monitor_fixtures import (
    DEPLOYMENT,
    drifted_frame,
    fit_on,
    serve,
)
from tests.integration.registry_fixtures import FEATURES, configure, train_model

from monoloop.cli import main
from monoloop.errors import InvalidInput
from monoloop.monitoring import labels
from monoloop.monitoring.explain import explain
from monoloop.registry import aliases, service
from monoloop.workspace import Workspace

T0 = 1_780_000_000.0


def test_versions_side_by_side_live_importance_and_the_cli(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    first = train_model(seed=0)
    service.register_model(
        ws, "churn", first.model, sample_input=first.x_train, holdout=first.test, target="churned"
    )
    aliases.set_alias(ws, "churn", "champion", 1)
    second = fit_on(drifted_frame(600, seed=1), drifted_frame(200, seed=2))
    service.register_model(
        ws, "churn", second.model, sample_input=second.x_train, holdout=second.test,
        target="churned",
    )  # fmt: skip
    service.register_model(ws, "churn", first.model, sample_input=first.x_train)  # no holdout
    opened = configure(ws, {"deployments": {DEPLOYMENT: {"model": "churn@champion"}}})
    try:
        found = explain(opened, "churn", top=1)
        assert found.versions == [1, 2]  # v3 has no importance to show
        assert set(found.features) == set(FEATURES) and found.features[0] == "region"
        assert found.changes == [{"from": 1, "to": 2, "entered": ["region"], "left": ["calls"]}]
        assert found.flagged and found.live is None
        assert explain(opened, "churn", top=3).changes == []  # the same three features

        served = serve(opened, drifted_frame(300, seed=3), start=T0)
        early = explain(opened, "churn", top=1, deployment=DEPLOYMENT)
        assert early.live is not None and early.live["verdict"] == "skipped"
        labels.attach(opened, DEPLOYMENT, served.truth)
        live = explain(opened, "churn", top=1, deployment=DEPLOYMENT).live
        assert live is not None and live["version"] == 1 and live["labelled"] == 300
        assert live["changed"] and live["top"] == ["region"] and live["registered_top"] == ["calls"]

        service.register_model(opened, "other", first.model, sample_input=first.x_train)
        with pytest.raises(InvalidInput, match="serves 'churn', not 'other'"):
            explain(opened, "other", deployment=DEPLOYMENT)

        code = main.run(["-C", str(opened.root), "models", "explain", "churn", "-k", "1",
                         "-d", DEPLOYMENT, "--json"])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0 and json.loads(out)["flagged"] is True
        assert json.loads(out)["importance"]["region"]["2"] > 0
        code = main.run(["-C", str(opened.root), "models", "explain", "churn", "-k", "1",
                         "-d", DEPLOYMENT])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0 and "top 1 changed v1 -> v2: +region -calls" in out
        assert out.splitlines()[0].split() == ["feature", "v1", "v2", "live"]
    finally:
        opened.close()
