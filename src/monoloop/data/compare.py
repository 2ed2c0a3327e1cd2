"""`data diff`: which tracked paths, and which files inside them, changed between revisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monoloop.data import pointer, tracked
from monoloop.data.context import DataContext
from monoloop.data.history import pointers_at, pointers_in_worktree
from monoloop.data.state import FileChange, diff_manifests
from monoloop.errors import MonoloopError

WORKTREE = "worktree"


@dataclass
class PathDiff:
    path: str
    change: str  # "added" | "deleted" | "modified"
    old: pointer.Pointer | None
    new: pointer.Pointer | None
    files: list[FileChange] = field(default_factory=list)
    details: bool = True  # False when a manifest was in neither store

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change": self.change,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
            "size_change": (self.new.size if self.new else 0) - (self.old.size if self.old else 0),
            "files": [f.to_dict() for f in self.files],
            "details": self.details,
        }


def diff(ctx: DataContext, rev_a: str | None = None, rev_b: str | None = None) -> list[PathDiff]:
    """Compare pointer files at rev_a (default HEAD) with rev_b (default: the working tree)."""
    old = pointers_at(ctx.root, rev_a or "HEAD")
    if rev_b is None or rev_b == WORKTREE:
        new = pointers_in_worktree(ctx.root, tracked.pointer_files(ctx.root))
    else:
        new = pointers_at(ctx.root, rev_b)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a is not None and b is not None and a.id == b.id:
            continue
        change = "added" if a is None else "deleted" if b is None else "modified"
        item = PathDiff(path, change, a, b)
        if a is not None and b is not None and a.kind == b.kind == "dir":
            _file_details(ctx, item, a.id, b.id)
        changes.append(item)
    return changes


def _file_details(ctx: DataContext, item: PathDiff, old_id: str, new_id: str) -> None:
    try:
        before = ctx.objects.read_manifest(old_id)
        after = ctx.objects.read_manifest(new_id)
    except MonoloopError:
        item.details = False  # the manifests were never fetched here: `data pull` them
        return
    item.files = diff_manifests(before, after)
