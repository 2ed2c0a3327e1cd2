"""`data add`: store a file or directory and write its pointer file beside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monoloop.data import pointer, scan, tracked
from monoloop.data.context import DataContext
from monoloop.errors import PathOutsideRoot, UserError
from monoloop.fsutil import atomic_write_text

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Added:
    path: str
    pointer: str
    id: str
    kind: str
    size: int
    files: int
    changed: bool
    hashed: int
    previous: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def add(
    ctx: DataContext, paths: Sequence[Path], *, progress: Progress | None = None
) -> list[Added]:
    """Track each path. Every path is checked before anything is stored or written."""
    if not paths:
        raise UserError("no paths given", hint="name the files or directories to track")
    rels = [tracked.trackable(ctx.root, p) for p in paths]
    # Missing paths, links and loops fail here, before anything is written; each walk is
    # then reused by the scan.
    walked = [scan.files_of(ctx.root / rel) for rel in rels]
    if len(set(rels)) != len(rels):
        raise UserError("the same path is named twice", hint="name each path once")
    results = [_add_one(ctx, rel, found, progress) for rel, found in zip(rels, walked, strict=True)]
    ctx.record([("data.add", r.path, r.to_dict()) for r in results if r.changed])
    return results


def _add_one(
    ctx: DataContext, rel: str, walked: tuple[str, list[scan.File]], progress: Progress | None
) -> Added:
    objects = ctx.objects

    def store(paths: Sequence[str]) -> list[str]:
        # Small files go into pack files: one file created per pack, not one per object.
        return objects.put_files(paths, progress=progress, pack=True)

    data = ctx.root / rel
    ptr_path = pointer.pointer_path(data)
    previous = _previous_id(ptr_path, rel)
    clock = ctx.cache.clock()
    found = scan.scan(data, rel, ctx.cache, hasher=store, walked=walked)
    if (
        found.kind == "dir"
        and found.manifest is None
        and (found.id != previous or not objects.exists(found.id))
    ):
        found = scan.scan(data, rel, ctx.cache, hasher=store, need_manifest=True, walked=walked)
    # Ids that came from the stat cache may name objects this store has never seen
    # (status caches ids too, and the store may have been gc'ed): store those now.
    stored_now = {cid for _, _, cid in found.fresh}
    if found.manifest is not None:
        lacking = [
            str(data / e.path)
            for e in found.manifest.entries
            if e.id not in stored_now and not objects.exists(e.id)
        ]
        if lacking:
            store(lacking)
        objects.put_bytes(found.manifest.to_bytes())
    elif found.id not in stored_now and not objects.exists(found.id):
        store([str(data)])
    ctx.cache.put(found.fresh, clock_ns=clock)
    if found.listing is not None:
        ctx.cache.put_directory(found.listing, clock_ns=clock)

    new = pointer.Pointer(found.id, found.kind, found.size, found.files)
    changed = previous != found.id
    if changed or not ptr_path.exists():
        atomic_write_text(ptr_path, new.to_text())
    ignored = tracked.ignore(ctx.root, rel)
    return Added(
        rel,
        rel + pointer.SUFFIX,
        found.id,
        found.kind,
        found.size,
        found.files,
        changed or ignored,
        found.hashed,
        previous,
    )


def _previous_id(ptr_path: Path, rel: str) -> str | None:
    if not ptr_path.exists():
        return None
    try:
        return pointer.read(ptr_path, source=rel + pointer.SUFFIX).id
    except (pointer.PointerError, PathOutsideRoot):
        # A garbled pointer is replaced: adding the data again is how it is repaired.
        return None
