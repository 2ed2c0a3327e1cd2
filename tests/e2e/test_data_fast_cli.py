"""The hot data commands' fast path (cli/fast.py): same options, same behaviour as typer.

`monoloop data add|status|push|pull|checkout` skip typer when their arguments are plain;
these tests hold the fast parser to the typer commands it stands in for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from monoloop.cli import app as typer_app
from monoloop.cli import fast
from monoloop.cli.main import run


def typer_command(name: str) -> Any:
    group: Any = typer.main.get_command(typer_app.app)
    return group.commands[fast.GROUP].commands[name]


@pytest.mark.parametrize("name", sorted(fast.COMMANDS))
def test_fast_spellings_are_the_typer_commands_options(name: str) -> None:
    command, spec = typer_command(name), fast.COMMANDS[name]
    options = {
        spelling: param
        for param in command.params
        if param.param_type_name == "option"
        for spelling in param.opts
    }
    taken = {**spec.flags, **spec.values, fast.JSON: "json"}
    # Every option typer declares (but --help) is understood, with the same meaning.
    assert set(options) - {"--help", "-h"} == set(taken)
    for spelling, keyword in taken.items():
        param = options[spelling]
        assert param.name == keyword
        assert param.is_flag == (spelling not in spec.values), spelling
    [paths] = [p for p in command.params if p.param_type_name == "argument"]
    assert paths.name == "paths" and paths.required == spec.needs_paths


@pytest.mark.parametrize(
    "args",
    [
        ["data", "status", "--help"],
        ["data", "status", "--remote=origin"],
        ["data", "status", "-vr", "origin"],
        ["data", "status", "--remote"],
        ["data", "status", "--", "x"],
        ["data", "add"],
        ["data", "add", "--json"],
        ["data", "diff"],
        ["data"],
        ["--version"],
        ["-C"],
        ["runs", "ls"],
    ],
)
def test_anything_unusual_goes_to_typer(args: list[str]) -> None:
    assert fast.parse(args) is None


def both_ways(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    """Run `args` through main.run (fast path) and through typer; both must agree."""
    assert fast.parse(args) is not None
    code = run(args)
    fast_out = capsys.readouterr()
    slow_code = run(args, fast_path=False)
    slow_out = capsys.readouterr()
    assert (code, fast_out.out, fast_out.err) == (slow_code, slow_out.out, slow_out.err)
    return code, fast_out.out, fast_out.err


def backdate(directory: Path) -> None:
    """Files older than the stat cache's racy margin, so each run hashes the same files."""
    for path in directory.iterdir():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 10**10))


def test_fast_and_typer_paths_agree(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    C = ["-C", str(repo)]
    assert run([*C, "-q", "init"]) == 0
    config = repo / "monoloop.yaml"
    config.write_text(
        config.read_text()
        .replace("remotes: {}", f"remotes:\n  origin: file://{tmp_path / 'remote'}")
        .replace("default_remote: null", "default_remote: origin")
    )
    (repo / "d").mkdir()
    (repo / "d" / "a.txt").write_text("a\n")
    (repo / "d" / "b.txt").write_text("b\n")
    backdate(repo / "d")
    assert run([*C, "-q", "data", "add", "d"]) == 0
    capsys.readouterr()
    # Re-adding unchanged data is a no-op on both paths, so their output must be equal.
    assert '"changed": false' in both_ways(capsys, [*C, "data", "add", "d", "--json"])[1]
    assert "unchanged  d  (not pushed)" in both_ways(capsys, [*C, "data", "status"])[1]
    (repo / "d" / "b.txt").write_text("B\n")
    backdate(repo / "d")
    code, out, _ = both_ways(capsys, [*C, "data", "status", "-v", "d.loop"])
    assert code == 0 and "modified  d" in out and "modified: d/b.txt" in out
    both_ways(capsys, [*C, "data", "status", "--json", "--remote", "origin", "d"])
    code, _, err = both_ways(capsys, [*C, "data", "status", "nope"])
    assert code == 2 and "nope.loop does not exist" in err
    code, _, err = both_ways(capsys, [*C, "data", "status", "-r", "elsewhere"])
    assert code == 2 and "unknown remote 'elsewhere'" in err
    code, _, err = both_ways(capsys, [*C, "data", "checkout", "--rev", "HEAD"])
    assert code == 2 and "'HEAD' is not a commit" in err  # no commit yet
    code, out, _ = both_ways(capsys, [*C, "data", "checkout", "--json"])
    assert code == 2 and "not saved anywhere" in out  # errors are JSON on stdout too
    assert run([*C, "-q", "data", "push"]) == 0
    assert "pushed 0 object(s)" in both_ways(capsys, [*C, "data", "push"])[2]


def test_status_imports_no_heavy_module(repo: Path) -> None:
    """`data status` runs without typer, click, rich, YAML, pydantic or SQLAlchemy."""
    assert run(["-C", str(repo), "-q", "init"]) == 0
    (repo / "f.csv").write_text("x\n1\n")
    assert run(["-C", str(repo), "-q", "data", "add", "f.csv"]) == 0
    code = (
        "import sys\n"
        "from monoloop.cli.main import run\n"
        f"assert run(['-C', {str(repo)!r}, 'data', 'status']) == 0\n"
        "heavy = ('typer', 'click', 'rich', 'yaml', 'pydantic', 'sqlalchemy', 'fsspec')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == ["unchanged  f.csv", ""]
