"""Which paths are tracked data, and which paths may be: checks made before anything is written."""

from __future__ import annotations

from pathlib import Path

from monoloop import gitutil
from monoloop.data import pointer
from monoloop.errors import InvalidInput, PathOutsideRoot
from monoloop.root import CONFIG_FILE, STATE_DIR


def relative(root: Path, path: Path) -> str:
    """`path` as a workspace-relative POSIX path; PathOutsideRoot when it leaves the root.

    The last component is not resolved, so a link is judged by where it is, not where it
    points (a link is then refused by the scanner).
    """
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        parent = absolute.parent.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on Python < 3.13
        raise InvalidInput(
            f"cannot resolve {path}: {exc}", hint="check for a symlink loop"
        ) from None
    candidate = (
        parent / absolute.name if absolute.name not in ("", ".", "..") else absolute.resolve()
    )
    try:
        rel = candidate.relative_to(root)
    except ValueError:
        raise PathOutsideRoot(
            f"{path} is outside the workspace {root}",
            hint="move or copy the data into the workspace, then track it from there",
        ) from None
    return rel.as_posix()


def trackable(root: Path, path: Path) -> str:
    """Check that `path` may be tracked; returns its workspace-relative path."""
    rel = relative(root, path)
    parts = rel.split("/")
    if rel in ("", "."):
        raise InvalidInput(
            "cannot track the whole workspace", hint="track a data file or directory inside it"
        )
    if parts[0] in (".git", STATE_DIR) or rel == CONFIG_FILE:
        raise InvalidInput(f"{rel} belongs to Git or monoloop and cannot be tracked as data")
    if rel.endswith(pointer.SUFFIX):
        raise InvalidInput(
            f"{rel} is a pointer file", hint=f"track the data path without {pointer.SUFFIX}"
        )
    for i in range(1, len(parts)):
        outer = "/".join(parts[:i])
        if (root / (outer + pointer.SUFFIX)).is_file():
            raise InvalidInput(
                f"{rel} is inside {outer}, which is already tracked as a whole",
                hint=f"re-add {outer} to record the change",
            )
    if _tracked_by_git(root, rel):
        raise InvalidInput(
            f"{rel} is tracked by Git itself",
            hint=f"stop tracking it in Git first: git rm -r --cached {rel}",
        )
    return rel


def _tracked_by_git(root: Path, rel: str) -> bool:
    proc = gitutil.git(["ls-files", "--cached", "--", rel], root, check=False)
    return bool(proc.stdout.strip())


def pointer_files(root: Path, rels: list[str] | None = None) -> list[str]:
    """Workspace-relative paths of the pointer files, committed or not (sorted)."""
    if rels:
        return sorted(r + pointer.SUFFIX for r in rels)
    proc = gitutil.git(
        [
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            f"*{pointer.SUFFIX}",
        ],
        root,
    )
    found = {p for p in proc.stdout.decode().split("\0") if p.endswith(pointer.SUFFIX)}
    return sorted(found)


def ignore(root: Path, rel: str) -> bool:
    """Add `/name` to the .gitignore beside the data; True when the file changed."""
    from monoloop.fsutil import atomic_write_text

    data = root / rel
    gitignore = data.parent / ".gitignore"
    entry = "/" + data.name
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if entry in lines:
        return False
    atomic_write_text(gitignore, "\n".join([*lines, entry]) + "\n")
    return True
