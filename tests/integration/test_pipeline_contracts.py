"""Data contracts on pipeline stages: bad inputs stop a stage before it runs, bad outputs
are refused before anything after them uses them; both recorded on the run and in the
ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import yaml

from monoloop.audit import service as audit
from monoloop.pipelines import lock
from monoloop.pipelines.service import run_pipeline
from monoloop.tracking import service as tracking
from monoloop.workspace import Workspace, open_workspace

GOOD = "id,age\n1,34\n2,29\n"
BAD = "id,age\n1,34\n2,250\n"
CONTRACT = """\
version: 1
columns:
  id: {type: integer, unique: true}
  age: {type: integer, min: 0, max: 120}
"""
COPY = "import sys; open(sys.argv[2], 'w').write(open(sys.argv[1]).read(){extra})"


def setup(ws: Workspace, *, data: str, out_extra: str = "") -> Workspace:
    root = ws.root
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "people.csv").write_text(data)
    (root / "contracts").mkdir(exist_ok=True)
    (root / "contracts" / "people.yaml").write_text(CONTRACT)
    (root / "copy.py").write_text(COPY.format(extra=out_extra))
    config = yaml.safe_load((root / "monoloop.yaml").read_text())
    config["pipelines"] = {
        "p": {
            "stages": {
                "clean": {
                    "cmd": "python copy.py data/people.csv data/clean.csv",
                    "deps": ["data/people.csv", "copy.py"],
                    "outs": ["data/clean.csv"],
                    "validate": {"input": "people", "output": {"data/clean.csv": "people"}},
                },
                "use": {
                    "cmd": "python copy.py data/clean.csv data/used.csv",
                    "deps": ["data/clean.csv", "copy.py"],
                    "outs": ["data/used.csv"],
                },
            }
        }
    }
    (root / "monoloop.yaml").write_text(yaml.safe_dump(config))
    return open_workspace(root)


def checks(ws: Workspace) -> list[str]:
    return [e.subject for e in audit.log(ws, audit.EventFilter(kind="validation.check"))]


def test_good_data_passes_both_contracts(ws: Workspace) -> None:
    with setup(ws, data=GOOD) as w:
        result = run_pipeline(w, "p")
        assert result.ok, result.to_dict()
        assert {s.stage: s.status for s in result.stages} == {"clean": "ran", "use": "ran"}
        assert len(checks(w)) == 2  # the input, then the output


def test_bad_input_stops_the_stage_before_it_runs(ws: Workspace) -> None:
    with setup(ws, data=BAD) as w:
        result = run_pipeline(w, "p")
        statuses = {s.stage: s.status for s in result.stages}
        assert statuses == {"clean": "failed", "use": "blocked"}
        clean = next(s for s in result.stages if s.stage == "clean")
        assert "input data/people.csv broke data contract 'people'" in (clean.error or "")
        assert "columns.age.max" in (clean.error or "")
        assert not (w.root / "data" / "clean.csv").exists(), "the stage must not have run"
        run = tracking.get_run(w, clean.run_id or "")
        assert run.status == "failed" and "broke data contract" in (run.error or "")
        assert checks(w) == ["data/people.csv"]
        assert run_cli(["-C", str(w.root), "runs", "show", clean.run_id or ""]) == 0


def run_cli(args: list[str]) -> int:
    import contextlib
    import io

    from monoloop.cli.main import run

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run(args)
    assert "broke data contract 'people'" in out.getvalue()
    return code


def test_bad_output_is_refused_before_anything_uses_it(ws: Workspace) -> None:
    with setup(ws, data=GOOD, out_extra=" + '3,999\\n'") as w:
        result = run_pipeline(w, "p")
        statuses = {s.stage: s.status for s in result.stages}
        assert statuses == {"clean": "failed", "use": "blocked"}
        clean = next(s for s in result.stages if s.stage == "clean")
        assert "output data/clean.csv broke data contract 'people'" in (clean.error or "")
        assert not (w.root / "data" / "used.csv").exists()
        assert ("p", "clean") not in lock.read(w.root, w.state_dir).entries
        assert tracking.get_run(w, clean.run_id or "").status == "failed"


def test_changing_a_contract_reference_reruns_the_stage(ws: Workspace) -> None:
    with setup(ws, data=GOOD) as w:
        assert run_pipeline(w, "p").ok
        config = yaml.safe_load((w.root / "monoloop.yaml").read_text())
        config["pipelines"]["p"]["stages"]["clean"]["validate"] = {"input": "people"}
        (w.root / "monoloop.yaml").write_text(yaml.safe_dump(config))
    with open_workspace(ws.root) as again:
        result = run_pipeline(again, "p")
        assert {s.stage: s.status for s in result.stages}["clean"] == "ran"
