from __future__ import annotations

import json
from pathlib import Path

import pytest

from monoloop.cli.main import run


def test_demo_runs_every_step_and_cleans_up(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["demo", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["steps"] and all(step["ok"] for step in report["steps"])
    assert report["summary"]["chain_verified"] is True
    assert report["summary"]["events"] >= 4
    assert not Path(report["directory"]).exists()


def test_demo_in_a_given_dir_keeps_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "demo"
    assert run(["demo", "--dir", str(target), "-q"]) == 0
    capsys.readouterr()
    repo = target / "churn"
    assert (repo / "monoloop.yaml").is_file()
    assert run(["-C", str(repo), "audit", "verify"]) == 0
    # The outcomes, read from the registry and the ledger rather than from printed text.
    from monoloop.audit.service import EventFilter, log
    from monoloop.predictions.log import count
    from monoloop.registry.versions import get_version, list_versions
    from monoloop.workspace import open_workspace

    with open_workspace(repo) as ws:
        # v1 trained by the pipeline, v2 (shuffled labels) stopped by the gates, v3 retrained
        # by the controller on the fresh data and promoted after its canary.
        champion = get_version(ws, "churn@champion")
        assert champion.version == 3 and champion.run_id is not None
        assert [v.version for v in list_versions(ws, "churn")] == [1, 2, 3]
        checks = {e.subject: e.payload["passed"] for e in log(ws, EventFilter(kind="model.check"))}
        assert checks == {"churn:1": True, "churn:2": False, "churn:3": True}
        promotions = log(ws, EventFilter(kind="model.promote"))
        assert [(e.subject, e.payload["version"]) for e in promotions] == [
            ("churn@champion", 1),
            ("churn@champion", 3),
        ]
        ct = [e.kind for e in log(ws, EventFilter(kind="ct.*"))]
        assert ct[0] == "ct.trigger" and ct[-1] == "ct.promoted"
        drift = [e.payload for e in log(ws, EventFilter(kind="monitor.result"))]
        assert any(p.get("verdict") == "fired" for p in drift), drift
        assert count(ws, "churn-api") == 1810  # every prediction the demo sent
    assert (repo / "reports" / "churn-api-monitoring.html").is_file()
    assert "Model card: churn version 1" in (repo / "reports" / "churn-model-card.md").read_text()


def test_demo_refuses_a_non_empty_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("x")
    assert run(["demo", "--dir", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["something"]
