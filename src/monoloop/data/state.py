"""`data status`: how each tracked path in the working tree compares with its pointer file.

Kept light on imports: it runs without the metadata DB, and with the stat cache it
reads no file that did not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monoloop.data import pointer, scan, tracked
from monoloop.data.context import DataContext
from monoloop.data.remote_index import RemoteIndex
from monoloop.data.statcache import DirEntry, Stat
from monoloop.errors import NotFound
from monoloop.store.objects import Manifest


@dataclass
class FileChange:
    path: str
    change: str  # "added" | "deleted" | "modified"
    size: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "size": self.size}


@dataclass
class PathStatus:
    path: str
    state: str  # "unchanged" | "modified" | "missing"
    id: str
    current: str | None
    in_store: bool
    pushed: bool | None  # None: no remote to compare with
    hashed: int = 0
    files: list[FileChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "state": self.state,
            "id": self.id,
            "current": self.current,
            "in_store": self.in_store,
            "pushed": self.pushed,
            "hashed": self.hashed,
            "files": [f.to_dict() for f in self.files],
        }


def status(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    verbose: bool = False,
    remote: str | None = None,
) -> list[PathStatus]:
    pointers = tracked.pointer_files(ctx.root, rels)
    index = None
    if remote is not None or ctx.default_remote is not None or len(ctx.remotes) == 1:
        index = RemoteIndex(ctx.state_dir, ctx.remote(remote).url)
    results = []
    fresh_all: list[tuple[str, Stat, str]] = []
    listings: list[DirEntry] = []
    # The clock is read only when something is hashed (before it, as the cache requires)
    # or remembered: a no-op status writes nothing at all.
    clock: list[int] = []

    def hasher(paths: Sequence[str]) -> list[str]:
        if not clock:
            clock.append(ctx.cache.clock())
        return scan.hash_only(paths)

    try:
        for ptr_rel in pointers:
            rel = ptr_rel[: -len(pointer.SUFFIX)]
            ptr = pointer.read(ctx.root / ptr_rel, source=ptr_rel)
            in_store = ctx.objects.exists(ptr.id)
            pushed = index.has(ptr.id) if index is not None else None
            data = ctx.root / rel
            if not data.exists():
                results.append(PathStatus(rel, "missing", ptr.id, None, in_store, pushed))
                continue
            found = scan.scan(data, rel, ctx.cache, hasher=hasher, expected=ptr.files)
            if verbose and found.id != ptr.id and found.kind == "dir" and found.manifest is None:
                # The listing cache gave the id alone; listing the changed files needs ids.
                found = scan.scan(data, rel, ctx.cache, hasher=hasher, need_manifest=True)
            fresh_all.extend(found.fresh)
            if found.listing is not None:
                listings.append(found.listing)
            state = "unchanged" if found.id == ptr.id else "modified"
            item = PathStatus(rel, state, ptr.id, found.id, in_store, pushed, found.hashed)
            if verbose and state == "modified" and found.manifest is not None:
                item.files = _file_changes(ctx, ptr.id, found.manifest)
            results.append(item)
    finally:
        if index is not None:
            index.close()
    if fresh_all or listings:
        if not clock:
            clock.append(ctx.cache.clock())
        ctx.cache.put(fresh_all, clock_ns=clock[0])
        for listing in listings:
            ctx.cache.put_directory(listing, clock_ns=clock[0])
    return results


def _file_changes(ctx: DataContext, old_id: str, new: Manifest) -> list[FileChange]:
    try:
        old = ctx.objects.read_manifest(old_id)
    except NotFound:
        return []
    return diff_manifests(old, new)


def diff_manifests(old: Manifest, new: Manifest) -> list[FileChange]:
    before = {e.path: e for e in old.entries}
    after = {e.path: e for e in new.entries}
    changes = [FileChange(p, "deleted", before[p].size) for p in before.keys() - after.keys()]
    changes += [FileChange(p, "added", after[p].size) for p in after.keys() - before.keys()]
    changes += [
        FileChange(p, "modified", after[p].size)
        for p in before.keys() & after.keys()
        if before[p].id != after[p].id
    ]
    return sorted(changes, key=lambda c: c.path)
