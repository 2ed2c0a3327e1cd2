"""Pipelines end to end: real processes, files, Git repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from monoloop.audit import service as audit
from monoloop.cli import main as cli_main
from monoloop.cli import run as run_cmd
from monoloop.cli.output import Output
from monoloop.errors import ConfigError, InvalidInput, MonoloopError, NotFound, UserError
from monoloop.pipelines.context import PipelineContext
from monoloop.pipelines.dag import PipelineError
from monoloop.pipelines.result import PipelineResult
from monoloop.pipelines.service import plan, run_pipeline
from monoloop.tracking import service as tracking
from monoloop.workspace import Workspace, open_workspace

PY = sys.executable

STEP = """\
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
params = json.loads(os.environ.get("MONOLOOP_PARAMS") or "{}")
with open("calls.log", "a") as f:
    f.write(os.environ["MONOLOOP_STAGE"] + "\\n")
if params.get("prepare.fail"):
    print("about to fail", flush=True)
    sys.exit("told to fail")
os.makedirs(os.path.dirname(dst), exist_ok=True)
with open(dst, "w") as out:
    out.write(open(src).read().upper() + json.dumps(params, sort_keys=True))
"""

TRAIN = """\
import json, os

def fit(params):
    with open("calls.log", "a") as f:
        f.write(os.environ["MONOLOOP_STAGE"] + "\\n")
    with open("seen_run_id.txt", "w") as f:
        f.write(os.environ["MONOLOOP_RUN_ID"] + " " + os.environ["MONOLOOP_WORKSPACE"])
    os.makedirs("out/model", exist_ok=True)
    text = open("out/prepared.txt").read()
    open("out/model/weights.txt", "w").write(text[::-1])
    open("out/model/config.json", "w").write(json.dumps(params, sort_keys=True))
    json.dump({"acc": 0.5 + len(text) / 1000, "loss": {"train": 0.25}, "note": "x"},
              open("out/metrics.json", "w"))
"""


def pipeline_yaml(prepare_cmd: str | None = None) -> str:
    step = f"{PY} src/step.py"
    prepare = prepare_cmd or f"{step} data/raw.txt out/prepared.txt"
    return f"""
pipelines:
  main:
    stages:
      prepare:
        cmd: {json.dumps(prepare)}
        deps: [data/raw.txt, src/step.py]
        params: [prepare.scale, prepare.fail]
        outs: [out/prepared.txt]
      train:
        call: pkg.train:fit
        deps: [out/prepared.txt]
        params: [train]
        outs: [out/model]
        metrics: [out/metrics.json]
      report:
        cmd: {json.dumps(f"{step} out/prepared.txt out/report.txt")}
        deps: [out/prepared.txt, src/step.py]
        outs: [out/report.txt]
"""


@pytest.fixture
def project(ws: Workspace) -> Path:
    return make_project(ws.root)


def make_project(root: Path) -> Path:
    """The three-stage project in a workspace: prepare (cmd), train (call), report (cmd)."""
    (root / "src").mkdir()
    (root / "src" / "step.py").write_text(STEP)
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "train.py").write_text(TRAIN)
    (root / "data").mkdir()
    (root / "data" / "raw.txt").write_text("hello\n")
    write_params(root, {"prepare": {"scale": 2, "fail": False}, "train": {"lr": 0.1}})
    set_pipelines(root, pipeline_yaml())
    with (root / ".gitignore").open("a") as f:
        f.write("calls.log\nseen_run_id.txt\n")
    return root


def write_params(root: Path, values: dict[str, Any]) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(values))


def set_pipelines(root: Path, text: str) -> None:
    config = root / "monoloop.yaml"
    base = config.read_text().split("\npipelines:", 1)[0].rstrip("\n")
    config.write_text(base + "\n" + text)


def run(root: Path, **kw: Any) -> PipelineResult:
    """As `monoloop run` does it: the light context, the DB opened only when needed."""
    ctx = PipelineContext.light(root)
    try:
        return run_pipeline(ctx, **kw)
    finally:
        ctx.close()


def statuses(result: PipelineResult) -> dict[str, str]:
    return {s.stage: s.status for s in result.stages}


def reasons(result: PipelineResult) -> dict[str, list[str]]:
    return {s.stage: s.reasons for s in result.stages}


def calls(root: Path) -> list[str]:
    path = root / "calls.log"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return lines


def lock_doc(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((root / "monoloop.lock").read_text())
    return doc


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def test_first_run_runs_and_tracks_then_everything_is_cached(ws: Workspace, project: Path) -> None:
    first = run(project)
    assert first.ok and statuses(first) == {"prepare": "ran", "train": "ran", "report": "ran"}
    assert reasons(first)["prepare"] == ["never run"]
    assert sorted(calls(project)) == ["prepare", "report", "train"]
    assert (project / "out" / "model" / "weights.txt").exists()

    lock = lock_doc(project)["pipelines"]["main"]
    assert lock["prepare"]["params"] == {"prepare.fail": False, "prepare.scale": 2}
    assert set(lock["train"]["outs"]) == {"out/model/", "out/metrics.json"}
    acc = 0.5 + len((project / "out" / "prepared.txt").read_text()) / 1000
    assert lock["train"]["metrics"] == {"out/metrics.json": {"acc": acc, "loss.train": 0.25}}
    # `call` stages depend on their module's file too.
    assert set(lock["train"]["deps"]) == {"out/prepared.txt", "pkg/train.py"}
    for entry in lock.values():
        for cid in entry["outs"].values():
            assert ws.objects.exists(cid)

    train = next(s for s in first.stages if s.stage == "train")
    assert train.run_id is not None
    seen_id, seen_root = (project / "seen_run_id.txt").read_text().split()
    assert (seen_id, seen_root) == (train.run_id, str(project))
    got = tracking.get_run(ws, train.run_id)
    assert (got.status, got.pipeline, got.stage) == ("finished", "main", "train")
    assert got.params == {"train": {"lr": 0.1}}
    assert got.metrics == {"acc": pytest.approx(acc), "loss.train": 0.25}
    assert got.inputs["out/prepared.txt"] == lock["train"]["deps"]["out/prepared.txt"]
    assert got.outputs == {
        "out/model": lock["train"]["outs"]["out/model/"],
        "out/metrics.json": lock["train"]["outs"]["out/metrics.json"],
    }
    assert got.log_id is not None and ws.objects.exists(got.log_id)
    [event] = audit.log(ws, audit.EventFilter(kind="pipeline.run"))
    assert event.payload["ok"] is True and set(event.payload["runs"]) == {
        "main:prepare",
        "main:train",
        "main:report",
    }
    # Outputs are ignored by Git (they live in the store); metrics files are not.
    assert git(project, "check-ignore", "out/model", "out/prepared.txt").split() == [
        "out/model",
        "out/prepared.txt",
    ]

    lock_bytes = (project / "monoloop.lock").read_bytes()
    again = run(project)
    assert statuses(again) == {"prepare": "skipped", "train": "skipped", "report": "skipped"}
    assert calls(project) == [] and not again.lock_changed
    assert (project / "monoloop.lock").read_bytes() == lock_bytes
    assert len(audit.log(ws, audit.EventFilter(kind="pipeline.run"))) == 1  # no-op: no DB write


def test_each_kind_of_change_runs_again_and_says_why(project: Path) -> None:
    assert run(project).ok
    calls(project)

    (project / "data" / "raw.txt").write_text("hello again\n")
    result = run(project)
    assert reasons(result)["prepare"] == ["dep data/raw.txt changed"]
    assert reasons(result)["train"] == ["dep out/prepared.txt changed"]
    assert statuses(result) == {"prepare": "ran", "train": "ran", "report": "ran"}
    calls(project)

    write_params(project, {"prepare": {"scale": 3, "fail": False}, "train": {"lr": 0.1}})
    result = run(project)
    assert reasons(result)["prepare"] == ["param prepare.scale changed: 2 -> 3"]
    calls(project)

    # A param only `train` reads: the others stay cached.
    write_params(project, {"prepare": {"scale": 3, "fail": False}, "train": {"lr": 0.2}})
    result = run(project)
    assert statuses(result) == {"prepare": "skipped", "train": "ran", "report": "skipped"}
    assert reasons(result)["train"] == ['param train changed: {"lr":0.1} -> {"lr":0.2}']
    assert calls(project) == ["train"]

    # The command changes (same effect): prepare runs; its output is identical, so the
    # stages after it stay cached.
    set_pipelines(project, pipeline_yaml(f"{PY}  src/step.py data/raw.txt out/prepared.txt"))
    result = run(project)
    assert reasons(result)["prepare"] == ["command changed"]
    assert statuses(result) == {"prepare": "ran", "train": "skipped", "report": "skipped"}
    calls(project)

    # The function's code changes.
    (project / "pkg" / "train.py").write_text(TRAIN + "\n# tweak\n")
    assert reasons(run(project))["train"] == ["dep pkg/train.py changed"]
    calls(project)

    # The definition changes: a new output.
    text = pipeline_yaml().replace("outs: [out/report.txt]", "outs: [out/report.txt, out/x.txt]")
    set_pipelines(project, text.replace('out/report.txt"', 'out/report.txt && touch out/x.txt"'))
    result = run(project)
    assert reasons(result)["report"][-1] == "outputs changed in the stage definition"


def test_deleted_outputs_are_restored_not_recomputed(ws: Workspace, project: Path) -> None:
    assert run(project).ok
    calls(project)
    weights = (project / "out" / "model" / "weights.txt").read_text()
    (project / "out" / "prepared.txt").unlink()
    import shutil

    shutil.rmtree(project / "out" / "model")
    dry = plan(PipelineContext.light(project))
    assert statuses(dry) == {
        "prepare": "would restore",
        "train": "would restore",
        "report": "skipped",
    }
    assert reasons(dry)["train"] == ["outputs missing: out/model"]
    result = run(project)
    assert statuses(result) == {"prepare": "restored", "train": "restored", "report": "skipped"}
    assert calls(project) == []
    assert (project / "out" / "model" / "weights.txt").read_text() == weights

    # An output changed by hand is put back too; the edited bytes are kept in the store.
    report = (project / "out" / "report.txt").read_text()
    (project / "out" / "report.txt").write_text("edited by hand")
    result = run(project)
    assert statuses(result)["report"] == "restored" and calls(project) == []
    assert reasons(result)["report"] == ["outputs differ from the recorded ones: out/report.txt"]
    assert (project / "out" / "report.txt").read_text() == report
    from monoloop.hashing import hash_bytes

    assert ws.objects.exists(hash_bytes(b"edited by hand"))
    # --force runs it anyway.
    assert statuses(run(project, stage="report", force=True))["report"] == "ran"


def test_a_failing_stage_stops_what_needs_it_and_keeps_the_rest(
    ws: Workspace, project: Path
) -> None:
    assert run(project).ok
    good = lock_doc(project)
    write_params(project, {"prepare": {"scale": 2, "fail": True}, "train": {"lr": 0.1}})
    result = run(project)
    assert not result.ok
    assert statuses(result) == {"prepare": "failed", "train": "blocked", "report": "blocked"}
    [failed] = result.failed
    assert failed.exit_code == 1 and failed.error == "exit code 1"
    assert failed.log_tail[-2:] == ["about to fail", "told to fail"]
    assert failed.log_id is not None
    assert b"told to fail" in ws.objects.get(failed.log_id)
    assert tracking.get_run(ws, failed.run_id or "").status == "failed"
    # The lock still records the last good outputs; nothing of the failed run is in it.
    assert lock_doc(project) == good
    assert (project / "out" / "model" / "weights.txt").exists()

    # Independent stages keep running when one fails.
    write_params(project, {"prepare": {"scale": 2, "fail": False}, "train": {"lr": 0.1}})
    assert run(project).ok
    (project / "data" / "raw.txt").write_text("changed\n")
    set_pipelines(project, pipeline_yaml().replace("call: pkg.train:fit", "call: pkg.train:nope"))
    result = run(project)
    assert statuses(result) == {"prepare": "ran", "train": "failed", "report": "ran"}
    assert "AttributeError" in "\n".join(result.failed[0].log_tail)


def test_param_overrides_reach_the_stage_and_the_lock(ws: Workspace, project: Path) -> None:
    assert run(project).ok
    result = run(project, params={"prepare.scale": 7})
    assert statuses(result)["prepare"] == "ran"
    assert result.params == {"prepare.scale": 7}
    assert '"prepare.scale": 7' in (project / "out" / "prepared.txt").read_text()
    assert lock_doc(project)["pipelines"]["main"]["prepare"]["params"]["prepare.scale"] == 7
    run_id = result.stages[0].run_id
    assert tracking.get_run(ws, run_id or "").params["prepare.scale"] == 7
    # Without the override the value in params.yaml counts again: that ran before, so its
    # outputs come back from the store (the run cache) instead of running again.
    calls(project)
    back = run(project)
    assert statuses(back)["prepare"] == "restored" and calls(project) == []
    assert reasons(back)["prepare"] == [
        "param prepare.scale changed: 7 -> 2",
        "an earlier run had the same inputs",
    ]
    assert lock_doc(project)["pipelines"]["main"]["prepare"]["params"]["prepare.scale"] == 2
    assert '"prepare.scale": 2' in (project / "out" / "prepared.txt").read_text()
    with pytest.raises(InvalidInput, match=r"did you mean 'prepare\.scale'"):
        run(project, params={"prepare.scal": 1})


def test_stage_selection_runs_what_it_needs_only(project: Path) -> None:
    result = run(project, stage="train")
    assert statuses(result) == {"prepare": "ran", "train": "ran"}
    assert sorted(calls(project)) == ["prepare", "train"]
    assert statuses(run(project, stage="main:train", force=True)) == {
        "prepare": "ran",
        "train": "ran",
    }
    with pytest.raises(PipelineError, match="no stage 'nope'"):
        run(project, stage="nope")
    with pytest.raises(NotFound, match="no pipeline 'other'"):
        run(project, pipeline="other")


def test_dry_run_says_why_and_changes_nothing(project: Path) -> None:
    dry = run(project, dry_run=True)
    assert dry.dry_run and statuses(dry) == {
        "prepare": "would run",
        "train": "would run",
        "report": "would run",
    }
    assert reasons(dry)["prepare"] == ["never run"]
    assert not (project / "monoloop.lock").exists() and not (project / "out").exists()
    assert run(project).ok
    calls(project)
    assert statuses(run(project, dry_run=True)) == {
        "prepare": "skipped",
        "train": "skipped",
        "report": "skipped",
    }
    (project / "src" / "step.py").write_text(STEP + "\n")
    dry = run(project, dry_run=True)
    assert reasons(dry) == {
        "prepare": ["dep src/step.py changed"],
        "train": ["upstream 'main:prepare' runs"],
        "report": ["upstream 'main:prepare' runs"],
    }
    assert reasons(run(project, dry_run=True, force=True, stage="prepare")) == {
        "prepare": ["forced"]
    }
    assert calls(project) == []


def test_lock_file_is_sorted_stable_and_reproducible(project: Path) -> None:
    assert run(project).ok
    text = (project / "monoloop.lock").read_text()
    assert text.startswith("# monoloop.lock") and "\nversion: 1\npipelines:\n" in text
    stages = lock_doc(project)["pipelines"]["main"]
    assert list(stages) == sorted(stages)
    for entry in stages.values():
        assert list(entry) == sorted(entry)
        assert "time" not in json.dumps(entry)
    # Run from scratch: the same inputs give byte-identical lock files.
    import shutil

    shutil.rmtree(project / "out")
    (project / "monoloop.lock").unlink()
    assert run(project).ok
    assert (project / "monoloop.lock").read_text() == text
    # A stage removed from monoloop.yaml leaves the lock when the lock is next written.
    set_pipelines(project, pipeline_yaml().split("      report:")[0])
    assert run(project, force=True).ok
    assert set(lock_doc(project)["pipelines"]["main"]) == {"prepare", "train"}


def test_the_lock_in_git_brings_back_old_outputs_without_running(project: Path) -> None:
    assert run(project).ok
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "v1")
    v1 = (project / "out" / "prepared.txt").read_text()
    (project / "data" / "raw.txt").write_text("version two\n")
    assert run(project).ok
    git(project, "commit", "-q", "-am", "v2")
    calls(project)

    git(project, "checkout", "-q", "HEAD~1")
    assert (project / "data" / "raw.txt").read_text() == "hello\n"
    result = run(project)
    # The outputs in the working tree are v2's; the v1 lock names v1's, which are stored.
    assert statuses(result) == {"prepare": "restored", "train": "restored", "report": "restored"}
    assert calls(project) == []
    assert (project / "out" / "prepared.txt").read_text() == v1
    assert statuses(run(project)) == {"prepare": "skipped", "train": "skipped", "report": "skipped"}


def test_independent_stages_run_in_parallel(project: Path) -> None:
    barrier = (
        "import os, sys, time; open(sys.argv[1], 'w').close(); t = time.time() + 20\n"
        "while not os.path.exists(sys.argv[2]):\n"
        "    time.sleep(0.01)\n"
        "    if time.time() > t: sys.exit('the other stage never started')\n"
    )
    (project / "src" / "barrier.py").write_text(barrier)
    set_pipelines(
        project,
        f"""
pipelines:
  par:
    stages:
      a: {{cmd: "{PY} src/barrier.py a.flag b.flag", outs: [a.flag]}}
      b: {{cmd: "{PY} src/barrier.py b.flag a.flag", outs: [b.flag]}}
""",
    )
    result = run(project, jobs=2)
    assert statuses(result) == {"a": "ran", "b": "ran"}, result.failed


def test_tracked_data_is_checked_out_for_the_stage(ws: Workspace, project: Path) -> None:
    import monoloop.data as data

    data.add(project / "data" / "raw.txt", workspace=project)
    (project / "data" / "raw.txt").unlink()
    result = run(project, stage="prepare")
    assert statuses(result) == {"prepare": "ran"}
    assert (project / "data" / "raw.txt").read_text() == "hello\n"


def test_bad_definitions_are_clear_errors_that_change_nothing(project: Path) -> None:
    def refused(text: str, error: type[MonoloopError], match: str) -> None:
        set_pipelines(project, text)
        with pytest.raises(error, match=match):
            run(project)
        assert not (project / "monoloop.lock").exists() and not (project / "out").exists()

    step = f"{PY} src/step.py"
    refused(
        f"""
pipelines:
  main:
    stages:
      a: {{cmd: "{step} nothing.txt out/a.txt", deps: [nothing.txt], outs: [out/a.txt]}}
""",
        PipelineError,
        r"stage 'main:a' needs nothing.txt, which no stage writes",
    )
    refused(
        f"""
pipelines:
  main:
    stages:
      a: {{cmd: "{step}", params: [prepare.scael], outs: [out/a.txt]}}
""",
        PipelineError,
        r"stage 'main:a' uses param 'prepare.scael'.*did you mean 'prepare.scale'",
    )
    refused(
        """
pipelines:
  one:
    stages:
      a: {cmd: "true", outs: [out/x.txt]}
  two:
    stages:
      b: {cmd: "true", outs: [out/x.txt]}
""",
        PipelineError,
        r"stages 'one:a' and 'two:b' both write it",
    )
    refused(
        """
pipelines:
  main:
    stages:
      a: {cmd: "true", deps: [b.txt], outs: [a.txt]}
      b: {cmd: "true", deps: [a.txt], outs: [b.txt]}
""",
        ConfigError,
        r"'pipelines.main.stages' \(line \d+\): pipeline stages form a cycle",
    )
    refused(
        "pipelines:\n  main:\n    stages:\n      a: {cmd: x, call: 'a:b'}\n",
        ConfigError,
        "exactly one of 'cmd'",
    )
    outside = project.parent / "elsewhere"
    outside.mkdir()
    (project / "link").symlink_to(outside)
    refused(
        "pipelines:\n  main:\n    stages:\n      a: {cmd: 'true', outs: [link/x.txt]}\n",
        PipelineError,
        "leads outside the workspace",
    )
    (project / "params.yaml").unlink()
    refused(
        "pipelines:\n  main:\n    stages:\n      a: {cmd: 'true', params: [x], outs: [o]}\n",
        PipelineError,
        "there is no params.yaml",
    )


def test_a_workspace_object_works_too(project: Path) -> None:
    with open_workspace(project) as opened:
        result = run_pipeline(opened, "main", stage="prepare")
        assert statuses(result) == {"prepare": "ran"}
        assert tracking.get_run(opened, result.stages[0].run_id or "").status == "finished"
        again = run_pipeline(opened, "main", stage="prepare", dry_run=True)
    assert statuses(again) == {"prepare": "skipped"}


# -- the command ---------------------------------------------------------------------------------


def cli(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`monoloop -C ROOT run ...` through an app like cli/main.py's, errors shown the same way."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.callback()(cli_main.root)
    app.command("run")(run_cmd.run)
    try:
        code = app(args=["-C", str(project), "run", *args], standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except MonoloopError as error:
        Output(json="--json" in args).error(error)
        code = error.exit_code
    except typer.Exit as stop:
        code = stop.exit_code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(project, capsys, "--dry-run")
    assert code == 0 and "would run  main:prepare" in out and "never run" in out
    code, out, err = cli(project, capsys, "main", "--json", "-j", "2")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = cli(project, capsys)
    assert code == 0 and out.count("up to date") == 3
    code, out, err = cli(project, capsys, "-p", "prepare.fail=true")
    assert code == 1
    assert "failed  main:prepare" in out and "blocked  main:train" in out
    assert "told to fail" in err and "error: stage main:prepare failed: exit code 1" in err
    assert ".monoloop/pipelines/logs/main/prepare.log" in err
    code, out, _ = cli(project, capsys, "-p", "prepare.fail=true", "--json")
    assert code == 1 and json.loads(out)["stages"][0]["status"] == "failed"
    code, _, err = cli(project, capsys, "-p", "oops")
    assert code == 2 and "not key=value" in err
    code, _, err = cli(project, capsys, "--stage", "zzz")
    assert code == 2 and "no stage 'zzz'" in err
    assert isinstance(UserError("x"), MonoloopError)
    assert os.path.isdir(project / ".monoloop" / "pipelines" / "logs" / "main")


def test_an_interrupted_run_stops_its_stages_and_keeps_what_finished(
    ws: Workspace, project: Path
) -> None:
    set_pipelines(
        project,
        """
pipelines:
  p:
    stages:
      a: {cmd: "echo a > a.txt", outs: [a.txt]}
      b: {cmd: "echo $$ > b.pid; sleep 60; echo b > b.txt", deps: [a.txt], outs: [b.txt]}
""",
    )
    shim = (
        "import sys; from monoloop.cli import main, run; "
        "names = [c.name for c in main.app.registered_commands]; "
        "'run' in names or main.app.command('run')(run.run); sys.exit(main.run())"
    )
    proc = subprocess.Popen(
        [PY, "-c", shim, "-C", str(project), "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    pid_file = project / "b.pid"
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
    assert set(lock_doc(project)["pipelines"]["p"]) == {"a"}
    [event] = audit.log(ws, audit.EventFilter(kind="run.finish", limit=1))
    assert tracking.get_run(ws, event.subject).status == "killed"
    [summary] = audit.log(ws, audit.EventFilter(kind="pipeline.run"))
    assert summary.payload["interrupted"] is True
    assert summary.payload["stages"] == {"p:a": "ran", "p:b": "killed"}


def test_one_run_at_a_time_changes_a_workspace(project: Path) -> None:
    import fcntl

    from monoloop.errors import Conflict

    folder = project / ".monoloop" / "pipelines"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "run.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(Conflict, match="another `monoloop run`"):
            run(project)
        assert statuses(run(project, dry_run=True))["prepare"] == "would run"
    assert run(project).ok
