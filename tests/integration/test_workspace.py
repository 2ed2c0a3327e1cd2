from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from monoloop.errors import ConfigError, ConnectionFailed, WorkspaceError
from monoloop.workspace import find_root, init_workspace, open_workspace


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_init_creates_config_state_and_gitignore(repo: Path, workspace_env: dict[str, str]) -> None:
    result = init_workspace(repo, env=workspace_env)
    assert result.changed
    assert (repo / "monoloop.yaml").read_text().startswith("# monoloop workspace")
    assert (repo / ".monoloop").is_dir()
    assert ".monoloop/" in (repo / ".gitignore").read_text().splitlines()
    ignored = subprocess.run(
        ["git", "check-ignore", ".monoloop/monoloop.db"], cwd=repo, capture_output=True
    )
    assert ignored.returncode == 0


def test_init_is_idempotent(repo: Path, workspace_env: dict[str, str]) -> None:
    init_workspace(repo, env=workspace_env)
    before = tree(repo)
    again = init_workspace(repo, env=workspace_env)
    assert not again.changed
    after = tree(repo)
    assert {k: v for k, v in before.items() if not k.startswith(".monoloop")} == {
        k: v for k, v in after.items() if not k.startswith(".monoloop")
    }


def test_init_keeps_an_existing_gitignore(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.pyc\n")
    init_workspace(repo)
    assert (repo / ".gitignore").read_text() == "*.pyc\n.monoloop/\n"


def test_init_outside_git_refuses_and_writes_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorkspaceError) as info:
        init_workspace(plain)
    assert "git init" in (info.value.hint or "") and "--git-init" in (info.value.hint or "")
    assert list(plain.iterdir()) == []


def test_init_with_git_init(tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = init_workspace(target, git_init=True)
    assert result.git_initialized
    assert (target / ".git").is_dir() and (target / "monoloop.yaml").is_file()


def test_init_with_an_unreachable_db_writes_nothing(repo: Path) -> None:
    with pytest.raises(ConnectionFailed):
        init_workspace(repo, env={"MONOLOOP_DB_URL": "postgresql://postgres@127.0.0.1:1/x"})
    assert sorted(p.name for p in repo.iterdir()) == [".git"]


def test_init_with_an_unknown_store_scheme_writes_nothing(repo: Path) -> None:
    with pytest.raises(ConfigError, match="nosuchscheme"):
        init_workspace(repo, env={"MONOLOOP_STORE_URL": "nosuchscheme://bucket/x"})
    assert sorted(p.name for p in repo.iterdir()) == [".git"]


def test_init_refuses_a_broken_existing_config(repo: Path) -> None:
    (repo / "monoloop.yaml").write_text("version: 1\nproject: p\nbogus: 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        init_workspace(repo)
    assert not (repo / ".monoloop").exists()


def test_find_root_walks_up(repo: Path) -> None:
    init_workspace(repo)
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(deep) == repo.resolve()


def test_open_outside_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not inside a monoloop workspace"):
        open_workspace(tmp_path)


def test_actor_comes_from_env_then_git_then_os(repo: Path) -> None:
    init_workspace(repo)
    with open_workspace(repo, env={"MONOLOOP_ACTOR": "ci-bot"}) as ws:
        assert ws.actor == "ci-bot"
    with open_workspace(repo, env={}) as ws:
        assert ws.actor == "tester@example.com"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "config", "--unset-all", "user.email"], cwd=repo, env=env, check=False)
    old = os.environ["GIT_CONFIG_GLOBAL"]
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    try:
        with open_workspace(repo, env={}) as ws:
            assert ws.actor and "@example.com" not in ws.actor
    finally:
        os.environ["GIT_CONFIG_GLOBAL"] = old
