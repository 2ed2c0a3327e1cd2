"""`monoloop data ...` as a user types it: output, exit codes, and the Git side of it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from monoloop.cli.main import run


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def test_data_commands_round_trip(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    C = ["-C", str(repo)]
    assert cli(capsys, *C, "init")[0] == 0
    config = repo / "monoloop.yaml"
    remote = tmp_path / "remote"
    config.write_text(
        config.read_text()
        .replace("remotes: {}", f"remotes:\n  origin: file://{remote}")
        .replace("default_remote: null", "default_remote: origin")
    )
    (repo / "data").mkdir()
    (repo / "data" / "a.csv").write_text("x\n1\n")
    code, out, err = cli(capsys, *C, "data", "add", "data/a.csv")
    assert code == 0 and "added data/a.csv" in err and "git add data/a.csv.loop" in err

    code, out, _ = cli(capsys, *C, "data", "status")
    assert code == 0 and "unchanged  data/a.csv  (not pushed)" in out
    code, out, _ = cli(capsys, *C, "data", "push", "--json")
    assert code == 0 and json.loads(out)["transferred"] == 1
    code, out, _ = cli(capsys, *C, "data", "status", "--json")
    assert json.loads(out)[0]["pushed"] is True

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "data" / "a.csv").write_text("x\n2\n")
    code, out, _ = cli(capsys, *C, "data", "status")
    assert "modified  data/a.csv" in out
    code, out, err = cli(capsys, *C, "data", "checkout")
    assert code == 2 and "not saved anywhere" in err and "--force" in err
    assert (repo / "data" / "a.csv").read_text() == "x\n2\n"
    assert cli(capsys, *C, "data", "add", "data/a.csv")[0] == 0
    code, out, _ = cli(capsys, *C, "data", "diff", "--json")
    [change] = json.loads(out)
    assert change["path"] == "data/a.csv" and change["change"] == "modified"

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert cli(capsys, "-C", str(clone), "init")[0] == 0
    code, out, err = cli(capsys, "-C", str(clone), "data", "pull")
    assert code == 0, err
    assert (clone / "data" / "a.csv").read_text() == "x\n1\n"

    code, out, _ = cli(capsys, *C, "data", "gc", "--dry-run", "--grace", "0", "--json")
    assert code == 0 and json.loads(out)["removed"] == []  # v1 (HEAD) and v2 (tree) are live


def test_status_outside_a_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "-C", str(tmp_path), "data", "status")
    assert code == 2 and "monoloop init" in err


def test_add_nothing_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "-C", str(repo), "init")[0] == 0
    assert cli(capsys, "-C", str(repo), "data", "add")[0] == 2
