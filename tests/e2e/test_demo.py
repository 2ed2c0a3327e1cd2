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
    assert (target / "churn" / "monoloop.yaml").is_file()
    assert run(["-C", str(target / "churn"), "audit", "verify"]) == 0


def test_demo_refuses_a_non_empty_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("x")
    assert run(["demo", "--dir", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["something"]
