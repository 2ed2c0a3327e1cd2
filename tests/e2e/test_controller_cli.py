"""`monoloop controller` as cron runs it: one tick, its decisions, and the status view."""

from __future__ import annotations

import json

import pytest
import yaml
from tests.integration.ct_fixtures import ct_workspace
from tests.integration.monitor_fixtures import clean_frame, serve

from monoloop.cli import main
from monoloop.workspace import Workspace


def test_once_json_human_and_status(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    opened = ct_workspace(ws)
    path = opened.root / "monoloop.yaml"
    config = yaml.safe_load(path.read_text())
    config["pipelines"]["train"]["schedule"] = "0 3 * * *"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        serve(opened, clean_frame(150, seed=3), start=1_780_000_000.0)
        code = main.run(["-C", str(opened.root), "controller", "--once", "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        tick = json.loads(out.out)
        assert [s["status"] for s in tick["schedules"]] == ["armed"]
        assert {r["monitor"] for r in tick["results"]} == {"drift", "decay"}
        assert tick["decisions"] == [
            {"policy": "churn-retrain", "action": "idle", "reason": "no trigger", "cycle": None}
        ]
        code = main.run(["-C", str(opened.root), "controller", "--once"])
        out = capsys.readouterr().out
        assert code == 0 and "policy churn-retrain: idle: no trigger" in out
        code = main.run(["-C", str(opened.root), "controller", "--status"])
        out = capsys.readouterr().out
        assert code == 0 and "schedule train '0 3 * * *'" in out
    finally:
        opened.close()
