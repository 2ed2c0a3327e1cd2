"""What a run ran on: the Git commit and whether the tree was dirty, Python, installed packages."""

from __future__ import annotations

import functools
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import blake3

from monoloop import gitutil
from monoloop.errors import WorkspaceError
from monoloop.hashing import id_from_digest


@dataclass(frozen=True)
class Environment:
    git_commit: str | None
    git_dirty: bool | None
    python: str
    packages_hash: str


def capture(root: Path) -> Environment:
    commit, dirty = git_state(root)
    return Environment(commit, dirty, python_version(), packages_hash())


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """HEAD and whether tracked files differ from it, from one `git status` call.

    Untracked files do not make the tree dirty: scratch outputs would flag every run.
    """
    try:
        proc = gitutil.git(
            ["status", "--porcelain=v2", "--branch", "--untracked-files=no"], root, check=False
        )
    except (WorkspaceError, OSError):  # no git here: the run records no commit
        return None, None
    if proc.returncode != 0:
        return None, None
    commit: str | None = None
    dirty = False
    for line in proc.stdout.decode(errors="replace").splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = None if oid == "(initial)" else oid
        elif line and not line.startswith("#"):
            dirty = True
    return commit, dirty


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


@functools.cache
def packages_hash() -> str:
    """BLAKE3 of the sorted `name-version` of every installed distribution.

    Read from the `*.dist-info` / `*.egg-info` directory names on sys.path rather than
    from each package's METADATA: the same fingerprint for a fraction of the cost, which
    matters to every stage process and to run creation in a loop. Cached per process.
    """
    found: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                found.add(name.rsplit(".", 1)[0].lower())
    lines = sorted(found)
    return id_from_digest(blake3.blake3("\n".join(lines).encode()).hexdigest())
