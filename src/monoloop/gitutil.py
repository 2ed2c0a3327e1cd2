"""The few Git operations monoloop needs, through the `git` command itself."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from monoloop.errors import MonoloopError, WorkspaceError


class GitError(MonoloopError):
    """A git command failed."""


def git(
    args: Sequence[str],
    cwd: Path,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            env={**os.environ, **env} if env else None,
            check=False,
        )
    except FileNotFoundError as exc:
        if exc.filename != "git":  # the directory to run in is missing
            raise
        raise WorkspaceError(
            "git is not installed", hint="install Git and run the command again"
        ) from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {message}")
    return proc


def toplevel(path: Path) -> Path | None:
    """The root of the Git work tree containing `path`, or None outside one."""
    if not path.is_dir():
        return None
    proc = git(["rev-parse", "--show-toplevel"], path, check=False)
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.decode().strip())


def init(path: Path) -> None:
    git(["init", "--quiet"], path)


def config_get(key: str, cwd: Path) -> str | None:
    proc = git(["config", "--get", key], cwd, check=False)
    value = proc.stdout.decode().strip()
    return value or None


def head_commit(cwd: Path) -> str | None:
    proc = git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd, check=False)
    return proc.stdout.decode().strip() or None
