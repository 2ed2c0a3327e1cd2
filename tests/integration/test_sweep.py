"""Sweeps end to end: real trials in their own trees, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from monoloop.audit import service as audit
from monoloop.cli import main as cli_main
from monoloop.cli import sweep as sweep_cmd
from monoloop.cli.output import Output
from monoloop.errors import InvalidInput, MonoloopError
from monoloop.pipelines.context import PipelineContext
from monoloop.pipelines.dag import PipelineError
from monoloop.pipelines.grid import expand, parse_grid
from monoloop.pipelines.result import PipelineResult
from monoloop.pipelines.service import run_pipeline
from monoloop.pipelines.sweep import SweepResult, sweep
from monoloop.tracking import service as tracking
from monoloop.workspace import Workspace

PY = sys.executable

PREPARE = """\
import json, os
n = json.loads(os.environ["MONOLOOP_PARAMS"])["prep.n"]
os.makedirs("out", exist_ok=True)
open("out/data.txt", "w").write(open("data/raw.txt").read() * n)
"""

# acc peaks at lr 0.05 and grows with depth; depth 99 fails. The model file names the
# trial's params after a pause, so trials sharing a directory would overwrite each other.
FIT = """\
import json, os, sys, time

def fit(params):
    lr, depth = params["train"]["lr"], params["train"]["depth"]
    if depth == 99:
        print("depth 99 is too deep", flush=True)
        sys.exit(3)
    data = open("out/data.txt").read()
    open("out/model.txt", "w").write(f"lr={lr} depth={depth} rows={len(data)}")
    time.sleep(0.2)
    acc = round(depth / 10 - abs(lr - 0.05), 6)
    json.dump({"acc": acc, "loss": round(1 - acc, 6)}, open("out/metrics.json", "w"))
"""

PIPELINE = """
pipelines:
  main:
    stages:
      prepare:
        cmd: "python src/prepare.py"
        deps: [data/raw.txt, src/prepare.py]
        params: [prep.n]
        outs: [out/data.txt]
      train:
        call: pkg.fit:fit
        deps: [out/data.txt]
        params: [train]
        outs: [out/model.txt]
        metrics: [out/metrics.json]
"""


@pytest.fixture
def project(ws: Workspace) -> Path:
    root = ws.root
    (root / "src").mkdir()
    (root / "src" / "prepare.py").write_text(PREPARE)
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "fit.py").write_text(FIT)
    (root / "data").mkdir()
    (root / "data" / "raw.txt").write_text("row\n")
    (root / "params.yaml").write_text(
        yaml.safe_dump({"prep": {"n": 2}, "train": {"lr": 0.1, "depth": 3}})
    )
    config = root / "monoloop.yaml"
    config.write_text(config.read_text() + PIPELINE)
    return root


def go(root: Path, stage: str, grid: dict[str, list[Any]], **kw: Any) -> SweepResult:
    ctx = PipelineContext.light(root)
    try:
        return sweep(ctx, stage, grid, **kw)
    finally:
        ctx.close()


def run(root: Path, **kw: Any) -> PipelineResult:
    ctx = PipelineContext.light(root)
    try:
        return run_pipeline(ctx, **kw)
    finally:
        ctx.close()


def runs_of(ws: Workspace, sweep_id: str) -> list[tracking.Run]:
    return tracking.search_runs(ws, where=f"tags.sweep = '{sweep_id}'", order_by="start")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the working tree but monoloop's state."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".monoloop" not in p.parts and ".git" not in p.parts
    }


def test_a_grid_runs_every_combination_and_reports_the_best(ws: Workspace, project: Path) -> None:
    before = snapshot(project)
    found = go(
        project,
        "train",
        {"train.lr": [0.1, 0.05], "train.depth": [3, 5]},
        metric="acc",
        maximize=True,
        max_parallel=2,
    )
    assert found.ok and found.stage == "main:train" and found.executor == "local"
    assert [t.params for t in found.trials] == expand(
        {"train.lr": [0.1, 0.05], "train.depth": [3, 5]}
    )
    assert [t.value for t in found.trials] == [0.25, 0.45, 0.3, 0.5]
    assert found.best is found.trials[3] and found.best.params == {
        "train.lr": 0.05,
        "train.depth": 5,
    }

    # prepare reads no swept param: it ran once, before the trials; train ran per trial.
    assert [s.status for s in found.shared] == ["ran"]
    runs = runs_of(ws, found.id)
    assert sorted((r.stage or "", r.tags["sweep.trial"]) for r in runs) == [
        ("prepare", "shared"),
        ("train", "0"),
        ("train", "1"),
        ("train", "2"),
        ("train", "3"),
    ]
    for trial in found.trials:
        got = tracking.get_run(ws, trial.run_id or "")
        lr, depth = trial.params["train.lr"], trial.params["train.depth"]
        assert got.status == "finished" and got.params == {"train": {"lr": lr, "depth": depth}}
        assert json.loads(got.tags["sweep.params"]) == trial.params
        assert got.metrics["acc"] == trial.value
        # Each trial's model names its own params: no trial wrote over another's.
        model = ws.objects.get(got.outputs["out/model.txt"]).decode()
        assert model == f"lr={lr} depth={depth} rows=8"

    # The workspace is as it was: no outputs, no lock; the trees are gone.
    assert snapshot(project) == before and not (project / "monoloop.lock").exists()
    assert not (project / ".monoloop" / "sweeps" / found.id).exists()
    [event] = audit.log(ws, audit.EventFilter(kind="pipeline.sweep"))
    assert event.subject == "main:train" and event.payload["best"] == found.best.run_id

    # The best trial's params with `run -p`: its outputs come back from the run cache.
    again = run(project, params={"train.lr": 0.05, "train.depth": 5})
    assert {s.stage: s.status for s in again.stages} == {"prepare": "restored", "train": "restored"}
    assert (project / "out" / "model.txt").read_text() == "lr=0.05 depth=5 rows=8"


def test_a_swept_param_of_an_earlier_stage_runs_it_in_every_trial(
    ws: Workspace, project: Path
) -> None:
    assert run(project).ok  # the workspace's own outputs must survive the sweep
    before = snapshot(project)
    lock = (project / "monoloop.lock").read_bytes()
    found = go(project, "main:train", {"prep.n": [1, 3]}, metric="loss", maximize=False)
    assert found.ok and found.shared == []
    runs = runs_of(ws, found.id)
    assert sorted((r.stage or "", r.tags["sweep.trial"]) for r in runs) == [
        ("prepare", "0"),
        ("prepare", "1"),
        ("train", "0"),
        ("train", "1"),
    ]
    prepared = {
        r.tags["sweep.trial"]: r.outputs["out/data.txt"] for r in runs if r.stage == "prepare"
    }
    for trial in found.trials:
        got = tracking.get_run(ws, trial.run_id or "")
        assert got.inputs["out/data.txt"] == prepared[str(trial.index)]
        rows = 4 * trial.params["prep.n"]
        assert ws.objects.get(got.outputs["out/model.txt"]).decode().endswith(f"rows={rows}")
    assert found.best is not None and found.best.value == pytest.approx(0.75)
    assert snapshot(project) == before and (project / "monoloop.lock").read_bytes() == lock


def test_a_failing_trial_is_reported_and_the_others_go_on(ws: Workspace, project: Path) -> None:
    found = go(project, "train", {"train.depth": [3, 99, 4]}, metric="acc", maximize=True)
    assert [t.status for t in found.trials] == ["ran", "failed", "ran"] and not found.ok
    [bad] = found.failed
    assert bad.params == {"train.depth": 99} and bad.error == "exit code 3"
    assert bad.log_tail == ["depth 99 is too deep"] and bad.value is None
    assert bad.log_id is not None and b"too deep" in ws.objects.get(bad.log_id)
    assert tracking.get_run(ws, bad.run_id or "").status == "failed"
    assert found.best is found.trials[2]


def test_bad_sweeps_are_refused_before_anything_runs(ws: Workspace, project: Path) -> None:
    def refused(error: type[MonoloopError], match: str, *args: Any, **kw: Any) -> None:
        with pytest.raises(error, match=match) as info:
            go(project, *args, **kw)
        assert info.value.exit_code == 2 and info.value.hint

    grid = {"train.lr": [0.1]}
    refused(PipelineError, "no stage 'nope'", "nope", grid)
    refused(InvalidInput, "needs a grid", "train", {})
    refused(InvalidInput, "has no values", "train", {"train.lr": []})
    refused(InvalidInput, "lists 0.1 twice", "train", {"train.lr": [0.1, 0.1]})
    refused(InvalidInput, r"no 'train\.rl'.*did you mean 'train\.lr'", "train", {"train.rl": [1]})
    refused(InvalidInput, "no stage the sweep runs reads it", "prepare", grid)
    refused(InvalidInput, "higher or a lower acc", "train", grid, metric="acc")
    refused(
        InvalidInput,
        "writes no metrics files",
        "prepare",
        {"prep.n": [1]},
        metric="x",
        maximize=True,
    )
    assert tracking.search_runs(ws) == [] and not (project / ".monoloop" / "sweeps").exists()
    assert not (project / "monoloop.lock").exists()

    for text, match in (
        ("oops", "not key=value"),
        ("train.lr=0.1,,2", "an empty value"),
        ("=1", "not key=value"),
    ):
        with pytest.raises(InvalidInput, match=match):
            parse_grid([text])
    with pytest.raises(InvalidInput, match=r"names train\.lr twice"):
        parse_grid(["train.lr=1", "train.lr=2"])
    assert parse_grid(["a.b=0.1,3,x,true", "c=[1, 2],{k: 1},'p,q'"]) == {
        "a.b": [0.1, 3, "x", True],
        "c": [[1, 2], {"k": 1}, "p,q"],
    }

    # A metric no trial wrote is known only once they ran: the error names what they wrote.
    with pytest.raises(InvalidInput, match=r"wrote metric 'acc2'.*acc, loss.*did you mean 'acc'"):
        go(project, "train", grid, metric="acc2", maximize=True)


def cli(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.callback()(cli_main.root)
    app.command("sweep")(sweep_cmd.sweep)
    try:
        code = app(args=["-C", str(project), "sweep", *args], standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except MonoloopError as error:
        Output(json="--json" in args).error(error)
        code = error.exit_code
    except typer.Exit as stop:
        code = stop.exit_code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        project, capsys, "train", "-g", "train.lr=0.1,0.05", "-m", "loss", "--minimize", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] and [t["value"] for t in doc["trials"]] == [0.75, 0.7]
    assert doc["best"]["params"] == {"train.lr": 0.05}

    code, out, err = cli(
        project, capsys, "train", "-g", "train.depth=99,4", "-m", "acc", "--maximize"
    )
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["trial", "train.depth", "acc", "status", "run"]
    assert lines[1].split()[:3] == ["0", "99", "failed"]
    assert lines[2].split()[:4] == ["*1", "4", "0.35", "ran"]
    assert "depth 99 is too deep" in err and "best: trial 1 (train.depth=4): acc=0.35" in err
    assert "error: 1 of 2 trials did not finish; trial 0: exit code 3" in err

    code, _, err = cli(project, capsys, "train", "-g", "oops")
    assert code == 2 and "not key=value" in err
    code, _, err = cli(project, capsys, "nope", "-g", "train.lr=1")
    assert code == 2 and "no stage 'nope'" in err
