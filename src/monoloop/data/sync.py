"""`data push` and `data pull`: move the objects that tracked data needs, and only those."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monoloop.data import pointer, tracked
from monoloop.data.context import DataContext, Remote
from monoloop.data.remote_index import RemoteIndex
from monoloop.data.transfer import TransferError, copy_objects, ordered, present
from monoloop.errors import ConnectionFailed, NotFound
from monoloop.store.objects import ObjectStore, open_store

Progress = Callable[[int], None]


@dataclass
class SyncResult:
    remote: str
    url: str
    transferred: int = 0
    already_there: int = 0
    missing: list[str] = field(default_factory=list)  # ids neither side has
    paths: list[str] = field(default_factory=list)
    # push: the remote had lost objects this machine recorded as pushed; all were re-checked
    index_was_stale: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def remote_store(ctx: DataContext, remote: Remote) -> ObjectStore:
    return open_store(
        remote.url, default_root=ctx.state_dir / "objects", options=dict(remote.options)
    )


def _selected(ctx: DataContext, rels: list[str] | None) -> dict[str, pointer.Pointer]:
    from monoloop.data.history import pointers_in_worktree

    found = pointers_in_worktree(ctx.root, tracked.pointer_files(ctx.root, rels))
    if rels:
        for rel in rels:
            if rel not in found:
                raise NotFound(
                    f"{rel} is not tracked (no {rel}{pointer.SUFFIX})",
                    hint="track it with `monoloop data add`",
                )
    return found


def push(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    remote: str | None = None,
    progress: Progress | None = None,
    links: bool = True,
) -> SyncResult:
    target = ctx.remote(remote)
    dst = remote_store(ctx, target)
    result = SyncResult(target.name, target.url)
    data_ids: list[str] = []
    manifest_ids: list[str] = []
    file_ids: list[str] = []
    sizes: dict[str, int] = {}
    for rel, ptr in _selected(ctx, rels).items():
        result.paths.append(rel)
        if ptr.kind == "file":
            file_ids.append(ptr.id)
            sizes[ptr.id] = ptr.size
        elif not ctx.objects.exists(ptr.id):
            result.missing.append(ptr.id)
        else:
            entries = ctx.objects.read_manifest(ptr.id).entries
            sizes.update((e.id, e.size) for e in entries)
            ids = [e.id for e in entries]
            lacking = set(ids) - ctx.objects.present(ids)
            data_ids.extend(i for i in ids if i not in lacking)
            if lacking:
                # Never push a manifest whose data is not all there.
                result.missing.extend(sorted(lacking))
            else:
                manifest_ids.append(ptr.id)
    stored_files = ctx.objects.present(file_ids)
    result.missing.extend(i for i in file_ids if i not in stored_files)
    data_ids.extend(i for i in file_ids if i in stored_files)
    wanted = ordered(data_ids, manifest_ids)
    index = RemoteIndex(ctx.state_dir, target.url)
    try:
        known = index.known(wanted)
        # Each path's last object (a manifest goes after its data; a file is one object):
        # one look each tells whether the remote still holds what the record says it does.
        roots = [i for i in manifest_ids if i in known]
        roots += [i for i in file_ids if i in known and i in stored_files]
        if roots and len(_present(dst, roots, target)) < len(roots):
            index.forget()
            known = set()
            result.index_was_stale = True
        unknown = [i for i in wanted if i not in known]
        there = _present(dst, unknown, target)
        todo = [i for i in unknown if i not in there]
        result.already_there = len(wanted) - len(todo)
        # Data (small objects in packs), then the manifests that name it: a manifest on
        # the remote never names an object that is not there yet.
        manifests = set(manifest_ids)
        what = f"remote {target.name!r} ({target.url})"
        data_todo = [i for i in todo if i not in manifests]
        copy_objects(
            ctx.objects,
            dst,
            data_todo,
            what=what,
            sizes=sizes,
            progress=progress,
            pack=True,
            keep_packs=True,
            links=links,
        )
        manifest_todo = [i for i in todo if i in manifests]
        copy_objects(
            ctx.objects,
            dst,
            manifest_todo,
            what=what,
            sizes=sizes,
            progress=progress,
            links=links,
        )
        result.transferred = len(todo)
        index.record(wanted)
    finally:
        index.close()
    return result


def pull(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    remote: str | None = None,
    progress: Progress | None = None,
    links: bool = True,
) -> SyncResult:
    source = ctx.remote(remote)
    src = remote_store(ctx, source)
    result = SyncResult(source.name, source.url)
    selected = _selected(ctx, rels)
    manifests = [p.id for p in selected.values() if p.kind == "dir"]
    sizes = {p.id: p.size for p in selected.values() if p.kind == "file"}
    result.paths = sorted(selected)
    where = f"the local store ({ctx.objects.url})"
    have_manifests = ctx.objects.present(manifests)
    lacking_manifests = [i for i in manifests if i not in have_manifests]
    on_remote = _present(src, lacking_manifests, source)
    result.missing.extend(i for i in lacking_manifests if i not in on_remote)
    fetched = [i for i in lacking_manifests if i in on_remote]
    # Manifests first, to learn which data objects the directories need.
    copy_objects(src, ctx.objects, fetched, what=where, links=links)
    data_ids = list(sizes)
    for mid in [i for i in manifests if i in have_manifests or i in fetched]:
        entries = ctx.objects.read_manifest(mid).entries
        sizes.update((e.id, e.size) for e in entries)
        data_ids.extend(e.id for e in entries)
    data_ids = list(dict.fromkeys(data_ids))
    local = ctx.objects.present(data_ids)
    needed = [i for i in data_ids if i not in local]
    there = _present(src, needed, source)
    result.missing.extend(i for i in needed if i not in there)
    todo = [i for i in needed if i in there]
    copy_objects(
        src,
        ctx.objects,
        todo,
        what=where,
        sizes=sizes,
        progress=progress,
        keep_packs=True,
        links=links,
    )
    result.transferred = len(todo) + len(fetched)
    result.already_there = len(data_ids) - len(needed)
    index = RemoteIndex(ctx.state_dir, source.url)
    try:
        index.record(todo + fetched)
    finally:
        index.close()
    return result


def _present(store: ObjectStore, ids: list[str], remote: Remote) -> set[str]:
    try:
        return present(store, ids)
    except ConnectionFailed:
        raise
    except OSError as exc:
        raise TransferError(
            f"cannot reach remote {remote.name!r} ({remote.url}): {exc.strerror or exc}",
            hint="check the URL in monoloop.yaml and that the remote is up",
        ) from None
