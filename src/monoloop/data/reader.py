"""Reading tracked data at any revision straight from the object store."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from monoloop.data import pointer, tracked
from monoloop.data.context import DataContext
from monoloop.data.history import pointers_at, pointers_in_worktree
from monoloop.errors import NotFound
from monoloop.store.objects import Manifest


def open_tracked(ctx: DataContext, path: Path, *, rev: str | None = None) -> BinaryIO:
    """A verified reader of `path` as recorded at `rev` (default: the working tree's pointers).

    `path` is a tracked file, or a file inside a tracked directory.
    """
    rel = tracked.relative(ctx.root, path if path.is_absolute() else ctx.root / path)
    rel = rel.removesuffix(pointer.SUFFIX)
    if rev is None:
        pointers = pointers_in_worktree(ctx.root, tracked.pointer_files(ctx.root))
    else:
        pointers = pointers_at(ctx.root, rev)
    where = f"at {rev}" if rev else "in the working tree"
    if rel in pointers:
        ptr = pointers[rel]
        if ptr.kind == "dir":
            raise NotFound(
                f"{rel} is a tracked directory", hint="open a file inside it, e.g. {rel}/NAME"
            )
        return _open_object(ctx, ptr.id, rel)
    for tracked_rel, ptr in pointers.items():
        if ptr.kind == "dir" and rel.startswith(tracked_rel + "/"):
            inner = rel[len(tracked_rel) + 1 :]
            for entry in _manifest(ctx, ptr.id, tracked_rel).entries:
                if entry.path == inner:
                    return _open_object(ctx, entry.id, rel)
            raise NotFound(f"{rel} is not in {tracked_rel} {where}")
    raise NotFound(f"{rel} is not tracked data {where}", hint="see `monoloop data status`")


def _manifest(ctx: DataContext, cid: str, rel: str) -> Manifest:
    if not ctx.objects.exists(cid):
        _fetch(ctx, cid, rel)
    return ctx.objects.read_manifest(cid)


def _open_object(ctx: DataContext, cid: str, rel: str) -> BinaryIO:
    if not ctx.objects.exists(cid):
        _fetch(ctx, cid, rel)
    return ctx.objects.open(cid)


def _fetch(ctx: DataContext, cid: str, rel: str) -> None:
    """Bring one object from the default remote, when there is one."""
    from monoloop.data.sync import remote_store
    from monoloop.data.transfer import copy_objects

    if not ctx.remotes:
        raise NotFound(
            f"the bytes of {rel} ({cid}) are not in the local store and no remote is configured",
            hint="add a remote to monoloop.yaml, or `monoloop data add` the data again",
        )
    remote = ctx.remote(None)
    copy_objects(remote_store(ctx, remote), ctx.objects, [cid], what="the local store")
