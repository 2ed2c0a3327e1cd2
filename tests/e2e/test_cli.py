"""The CLI as a user meets it: help everywhere, JSON output, one-line errors with hints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from monoloop import __version__
from monoloop.cli.main import app, run

Group = typer.core.TyperGroup

BIN = Path(sys.executable).parent / "monoloop"


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def invoke(*args: str, cwd: Path | None = None) -> Result:
        argv = (["-C", str(cwd)] if cwd else []) + list(args)
        code = run(argv)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def leaf_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(cmd: typer.core.TyperCommand | Group, path: list[str]) -> None:
        if isinstance(cmd, Group):
            found.append(path)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found.append(path)

    walk(typer.main.get_command(app), [])
    return found


@pytest.mark.parametrize("path", leaf_commands(), ids=lambda p: " ".join(p) or "monoloop")
def test_every_command_has_help(cli, path: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*path, "--help")
    assert result.code == 0
    assert "Usage:" in result.out
    command = typer.main.get_command(app)
    for name in path:
        assert isinstance(command, Group)
        command = command.commands[name]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


# They print raw bytes or JSON lines already, or (server) run until stopped, printing no result.
NO_JSON = {("store", "cat"), ("audit", "export"), ("server",)}


def test_every_result_printing_command_takes_json() -> None:
    root = typer.main.get_command(app)
    for path in leaf_commands():
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if isinstance(command, Group) or tuple(path) in NO_JSON:
            continue
        opts = {o for p in command.params for o in getattr(p, "opts", [])}
        assert "--json" in opts, f"{' '.join(path)} lacks --json"


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--version")
    assert result.code == 0 and result.out.strip() == f"monoloop {__version__}"


def test_init_then_audit(cli, repo: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", "--json", cwd=repo)
    assert result.code == 0, result.err
    assert "monoloop.yaml" in result.json()["created"]  # type: ignore[index]
    again = cli("init", cwd=repo)
    assert again.code == 0 and "nothing changed" in again.err
    log = cli("audit", "log", "--json", cwd=repo)
    assert [e["kind"] for e in log.json()] == ["workspace.init"]  # type: ignore[union-attr]
    verify = cli("audit", "verify", "--json", cwd=repo)
    assert verify.code == 0 and verify.json()["ok"] is True  # type: ignore[index]
    anchored = cli("audit", "anchor", "--json", cwd=repo)
    assert anchored.code == 0 and anchored.json()["seq"] == 1  # type: ignore[index]
    out = repo / "audit.jsonl"
    assert cli("audit", "export", "--format", "jsonl", "-o", str(out), cwd=repo).code == 0
    assert json.loads(out.read_text().splitlines()[0])["seq"] == 1


def test_init_outside_git_fails_with_hint(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", cwd=tmp_path)
    assert result.code == 2
    assert "error:" in result.err and "hint:" in result.err and "git init" in result.err
    assert "Traceback" not in result.err
    assert list(tmp_path.iterdir()) == []


def test_tampered_ledger_fails_verify(cli, repo: Path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    assert cli("init", cwd=repo).code == 0
    conn = sqlite3.connect(repo / ".monoloop" / "monoloop.db")
    conn.execute("UPDATE events SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    conn.close()
    result = cli("audit", "verify", "--json", cwd=repo)
    assert result.code == 1
    assert result.json()["first_bad_seq"] == 1  # type: ignore[index]
    human = cli("audit", "verify", cwd=repo)
    assert human.code == 1 and "BROKEN at seq 1" in human.out


# Caches that only ever record facts (a config hash that validated, file stats) may be written.
CACHES = ("config.valid", "statcache.db", "statcache.clock")


def snapshot(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file()
        and ".git" not in p.parts
        and not p.name.endswith(("-wal", "-shm"))
        and not p.name.startswith(CACHES)
    }


def event_count(repo: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(repo / ".monoloop" / "monoloop.db")
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("yaml:version: 1\nproject: [oops\n", ["audit", "log"], "not valid YAML"),
        ("yaml:version: 1\nproject: p\nextra: 1\n", ["audit", "log"], "unknown key 'extra'"),
        ("yaml:version: 1\nproject: p\ndb: 5\n", ["audit", "log"], "'db'"),
        (
            "env:MONOLOOP_DB_URL=postgresql://postgres@127.0.0.1:1/x",
            ["audit", "log"],
            "cannot connect",
        ),
        ("env:MONOLOOP_STORE_URL=nope://b/x", ["store", "ls"], "nope"),
        ("", ["store", "get", "b3:" + "0" * 64, "-o", "out.bin"], "b3:" + "0" * 64),
        ("", ["store", "verify", "b3:xyz"], "b3:xyz"),
        ("", ["store", "put", "/etc/hostname"], "outside the workspace"),
        ("", ["store", "get", "b3:" + "0" * 64, "-o", "../escape.bin"], "outside the workspace"),
        ("", ["audit", "export", "--format", "xml"], "unknown export format"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(  # type: ignore[no-untyped-def]
    cli, repo: Path, monkeypatch: pytest.MonkeyPatch, setup: str, args: list[str], message: str
) -> None:
    assert cli("init", cwd=repo).code == 0
    if setup.startswith("yaml:"):
        (repo / "monoloop.yaml").write_text(setup[5:])
    elif setup.startswith("env:"):
        key, value = setup[4:].split("=", 1)
        monkeypatch.setenv(key, value)
    before, events = snapshot(repo), event_count(repo)
    result = cli(*args, cwd=repo)
    assert result.code == 2, result.err
    assert message in result.err
    assert "hint:" in result.err or "error:" in result.err
    assert "Traceback" not in result.err
    assert snapshot(repo) == before
    assert event_count(repo) == events
    assert not (repo.parent / "escape.bin").exists()


def test_errors_as_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("audit", "log", "--json", cwd=tmp_path)
    assert result.code == 2
    body = result.json()
    assert body["error"] == "WorkspaceError" and body["hint"]  # type: ignore[index]


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("--debug", "audit", "log", cwd=tmp_path)
    assert result.code == 2 and "Traceback" in result.err


def test_usage_errors_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("no-such-command").code == 2
    assert cli("audit", "log", "--limit", "many").code == 2


def test_console_script_runs(repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONOLOOP_")}
    proc = subprocess.run(
        [str(BIN), "-C", str(repo), "init"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [str(BIN), "-C", str(repo.parent), "audit", "log"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_cli_reference_is_current() -> None:
    from monoloop.cli.reference import render

    doc = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert doc.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date with the CLI: run `make docs` and commit it"
    )
