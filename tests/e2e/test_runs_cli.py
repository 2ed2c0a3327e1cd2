"""`monoloop runs ...` as a user types it: tables, JSON, charts, exit codes."""

from __future__ import annotations

import json

import pytest

from monoloop.cli import main, runs
from monoloop.tracking import service as tracking
from monoloop.workspace import Workspace

# Until cli/main.py registers the group, the tests register it themselves.
if not any(group.name == "runs" for group in main.app.registered_groups):
    main.app.add_typer(runs.app, name="runs")


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main.run(["-C", str(ws.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def three(ws: Workspace) -> list[str]:
    ids = []
    for i, (model, acc) in enumerate([("rf", 0.8), ("gb", 0.9), ("rf", 0.7)]):
        run_id = tracking.create_run(
            ws, name=f"sweep-{i}", params={"model": model, "lr": 0.1}, tags={"i": str(i)}
        )
        for step in range(20):
            tracking.log_metrics(ws, run_id, {"acc": acc * step / 19, "loss": 1 - step / 20})
        tracking.finish_run(ws, run_id)
        ids.append(run_id)
    return ids


def test_list_filters_orders_and_prints(
    ws: Workspace, three: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, ws, "runs", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == three[::-1]
    code, out, _ = cli(
        capsys, ws, "runs", "list", "-w", 'params.model = "rf"', "-o", "-metrics.acc", "--json"
    )
    assert [r["id"] for r in json.loads(out)] == [three[0], three[2]]
    code, out, _ = cli(capsys, ws, "runs", "list", "--where", "metrics.acc > 0.85", "-n", "5")
    assert code == 0 and three[1][:8] in out and three[0][:8] not in out
    assert "sweep-1" in out and "finished" in out and "acc" in out and "model" in out
    code, out, _ = cli(capsys, ws, "runs", "list", "-w", "status = failed")
    assert code == 0 and "no runs match" in out


def test_show_compare_and_metric(
    ws: Workspace, three: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, ws, "runs", "show", three[0][:7], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["id"] == three[0] and shown["params"]["model"] == "rf"
    code, out, _ = cli(capsys, ws, "runs", "show", three[0][:7])
    assert code == 0 and three[0] in out and "params" in out and "python" in out

    code, out, _ = cli(capsys, ws, "runs", "compare", *(i[:8] for i in three), "--json")
    data = json.loads(out)
    assert data["params"]["model"] == ["rf", "gb", "rf"]
    assert data["differ"] == {"params": ["model"], "metrics": ["acc"]}
    code, out, _ = cli(capsys, ws, "runs", "compare", three[0][:8], three[1][:8])
    assert code == 0 and "params.model" in out and "highlighted" in out

    code, out, _ = cli(capsys, ws, "runs", "metric", three[1][:8], "acc", "--json")
    points = json.loads(out)
    assert [p["step"] for p in points] == list(range(20)) and points[-1]["value"] == 0.9
    code, out, _ = cli(capsys, ws, "runs", "metric", three[1][:8], "acc", "--plot")
    assert code == 0 and "*" in out and "+---" in out and "20 points" in out
    code, out, _ = cli(capsys, ws, "runs", "metric", three[1][:8], "acc")
    assert code == 0 and "step" in out


def test_errors_say_what_and_how(
    ws: Workspace, three: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, ws, "runs", "list", "--where", "metrics.acc >")
    assert code == 2 and "position 14" in err and "expected a number" in err
    code, out, _ = cli(capsys, ws, "runs", "list", "--where", "metrics.acc >", "--json")
    assert code == 2 and json.loads(out)["error"] == "InvalidInput"
    code, _, err = cli(capsys, ws, "runs", "show", "ffffff")
    assert code == 2 and "no run with id" in err
    code, _, err = cli(capsys, ws, "runs", "show", "12")
    assert code == 2 and "at least 6 hex digits" in err
    code, _, err = cli(capsys, ws, "runs", "metric", three[0][:8], "nope")
    assert code == 2 and "has no metric 'nope'" in err and "acc, loss" in err
    code, _, err = cli(capsys, ws, "runs", "compare", three[0][:8])
    assert code == 2 and "at least two runs" in err


def test_every_runs_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("list", "show", "compare", "metric"):
        assert main.run(["runs", command, "--help"]) == 0
        assert len(capsys.readouterr().out) > 100
