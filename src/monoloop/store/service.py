"""Workspace-level object operations: paths are checked against the root, puts are audited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monoloop.errors import InvalidInput, NotFound, PathOutsideRoot
from monoloop.hashing import parse_id
from monoloop.workspace import Workspace

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Stored:
    path: str
    id: str
    kind: str  # "file" | "tree"
    size: int
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "id": self.id,
            "kind": self.kind,
            "size": self.size,
            "files": self.files,
        }


def workspace_path(ws: Workspace, path: Path, *, must_exist: bool) -> Path:
    """Resolve a user-given path and refuse it when it leaves the workspace root."""
    resolved = path.resolve()
    try:
        resolved.relative_to(ws.root)
    except ValueError:
        raise PathOutsideRoot(
            f"{path} is outside the workspace root {ws.root}",
            hint="give a path inside the workspace (copy the data into it first)",
        ) from None
    if must_exist and not resolved.exists():
        raise NotFound(f"{path} does not exist", hint="check the path")
    return resolved


def count_files(ws: Workspace, paths: Sequence[Path]) -> int:
    total = 0
    for path in paths:
        resolved = workspace_path(ws, path, must_exist=True)
        total += sum(1 for p in resolved.rglob("*") if p.is_file()) if resolved.is_dir() else 1
    return total


def put_paths(
    ws: Workspace, paths: Sequence[Path], *, progress: Progress | None = None
) -> list[Stored]:
    """Store files and directories (as manifests) and record one audit event per path.

    Every path is checked before any byte is stored, so bad input stores nothing.
    """
    if not paths:
        raise InvalidInput("no paths given", hint="name at least one file or directory")
    resolved = [workspace_path(ws, p, must_exist=True) for p in paths]
    for path in resolved:
        if not (path.is_file() or path.is_dir()):
            raise InvalidInput(f"{path} is neither a file nor a directory")
    results = []
    for path in resolved:
        rel = path.relative_to(ws.root).as_posix() or "."
        if path.is_dir():
            tree_id = ws.objects.put_tree(path, progress=progress)
            manifest = ws.objects.read_manifest(tree_id)
            size = sum(e.size for e in manifest.entries)
            results.append(Stored(rel, tree_id, "tree", size, len(manifest.entries)))
        else:
            file_id = ws.objects.put_file(path)
            if progress is not None:
                progress(1)
            results.append(Stored(rel, file_id, "file", path.stat().st_size, 1))
    with ws.db.write() as conn:
        for item in results:
            ws.record(conn, "store.put", item.path, item.to_dict())
    return results


def get_to_path(
    ws: Workspace,
    object_id: str,
    dest: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write an object (a file, or a tree for a manifest) to a path inside the workspace."""
    oid = parse_id(object_id)
    target = workspace_path(ws, dest, must_exist=False)
    if target.exists() and not force:
        raise InvalidInput(
            f"{dest} already exists", hint="choose another path, or pass --force to replace it"
        )
    if is_manifest(ws, oid):
        ws.objects.get_tree(oid, target, progress=progress)
    else:
        ws.objects.get_file(oid, target)
    return target


# A manifest lists ~150 bytes per file: 256 MiB is well over a million files. Anything
# larger is a plain object, known without reading (and hashing) all of it twice.
MANIFEST_MAX_BYTES = 256 << 20


def is_manifest(ws: Workspace, object_id: str) -> bool:
    if ws.objects.size(object_id) > MANIFEST_MAX_BYTES:
        return False
    try:
        ws.objects.read_manifest(object_id)
    except (InvalidInput, ValueError):
        return False
    return True
