"""Moving objects between two stores: only the missing ones, verified, data before manifests.

Every copy is hashed on the way (the destination's put computes the id from the bytes it
writes), so a damaged source object is caught rather than spread. Objects become visible
on the destination only complete (temp + rename, or a single PUT), so an interrupted
transfer leaves nothing partial, and running it again finishes the job.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from monoloop.errors import CorruptObject, MonoloopError, UserError
from monoloop.store import packs
from monoloop.store.local import LocalStore
from monoloop.store.objects import ObjectStore, not_found
from monoloop.store.packed import PackedReads

Progress = Callable[[int], None]
# A batch is made durable with two file-system barriers and becomes visible all at once,
# so a killed transfer loses at most one batch: 10,000 objects or 256 MiB, whichever first.
BATCH_OBJECTS = 10_000
BATCH_BYTES = 256 << 20


class TransferError(UserError):
    """A remote could not be read or written."""


def present(store: ObjectStore, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the store holds (one listing for many ids on a network store)."""
    if not ids:
        return set()
    return store.present(ids)


def batches(ids: Sequence[str], sizes: Mapping[str, int]) -> Iterator[list[str]]:
    """`ids` in order, cut into batches of at most BATCH_OBJECTS objects or BATCH_BYTES."""
    batch: list[str] = []
    held = 0
    for content_id in ids:
        size = sizes.get(content_id, 0)
        if batch and (len(batch) >= BATCH_OBJECTS or held + size > BATCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(content_id)
        held += size
    if batch:
        yield batch


def copy_objects(
    src: ObjectStore,
    dst: ObjectStore,
    ids: Sequence[str],
    *,
    what: str,
    sizes: Mapping[str, int] | None = None,
    progress: Progress | None = None,
    pack: bool = False,
    keep_packs: bool = False,
    links: bool = True,
) -> None:
    """Copy `ids` (in order, batch by batch) from src to dst; `what` names dst in errors.

    `sizes` (from the manifests, where known) shape the batches and, with pack=True,
    choose the small objects that go into pack files on dst (see `store.packs`). With
    keep_packs=True, a pack of src that holds mostly wanted objects is kept as a pack in
    dst as it is: one file, not one per object. Every object is verified on the
    way: the destination hashes what it writes, or checks a pack's objects before
    keeping it.

    With links=True, objects and packs move between two local stores on one file
    system by hard link (as `git clone` does between local repositories), checked
    against their ids all the same; anything that cannot be linked is copied.
    """
    known = sizes or {}
    for batch in batches(ids, known):
        try:
            got = _copy_batch(
                src, dst, batch, known, progress, pack=pack, keep=keep_packs, links=links
            )
        except MonoloopError:
            raise
        except OSError as exc:
            raise _os_error(exc, what) from None
        for want, have in got:
            if want != have:
                raise CorruptObject(
                    f"object {want} in {src.url} is corrupt: its bytes hash to {have}",
                    hint="run `monoloop store fsck` on that store, then re-add the data",
                )


@runtime_checkable
class _KeepsPacks(Protocol):
    def in_packs(self, ids: Iterable[str]) -> set[str]: ...
    def adopt_pack(self, data: bytes, index: bytes, name: str, *, source: str) -> list[str]: ...


def _copy_batch(
    src: ObjectStore,
    dst: ObjectStore,
    batch: list[str],
    sizes: Mapping[str, int],
    progress: Progress | None,
    *,
    pack: bool,
    keep: bool,
    links: bool,
) -> list[tuple[str, str]]:
    """(wanted id, id of what landed) for every id of the batch."""
    pairs: list[tuple[str, str]] = []
    in_src_packs = src.in_packs(batch) if isinstance(src, PackedReads) else set()
    todo = batch
    if keep and in_src_packs and isinstance(dst, _KeepsPacks):
        # Packs made by `data add` or kept by a pull travel whole: one file, not thousands.
        packed = [i for i in batch if i in in_src_packs]
        left = set(_keep_packs(src, dst, packed, pairs, progress, links=links))
        todo = [i for i in batch if i not in in_src_packs or i in left]
    loose = todo
    if pack and isinstance(src, LocalStore) and hasattr(dst, "put_pack"):
        # Callers copy manifests in a later call than their data (see sync.push): within
        # one call, the order in which objects appear does not matter.
        groups, loose = packs.plan(todo, dict(sizes))
        for group in groups:
            # Objects the local store holds in packs come as bytes, checked against their
            # ids as they are read; the rest as files.
            held = dict(src.read_packed(i for i in group if i in in_src_packs))
            got = dst.put_pack([held[i] if i in held else src.path_of(i) for i in group])
            pairs.extend((want, have) for want, (have, _) in zip(group, got, strict=True))
            if progress is not None:
                progress(len(group))
    packed = [i for i in loose if i in in_src_packs]
    loose = [i for i in loose if i not in in_src_packs]
    if packed:
        pairs.extend(_from_packs(src, dst, packed, progress))
    if loose:
        if links and isinstance(src, LocalStore) and isinstance(dst, LocalStore):
            got = dst.put_links([(i, src.path_of(i)) for i in loose], progress=progress)
        elif isinstance(src, LocalStore):
            got = dst.put_sized([src.path_of(i) for i in loose], progress=progress)
        else:
            got = _via_temp_files(src, dst, loose, progress)
        pairs.extend((want, have) for want, (have, _) in zip(loose, got, strict=True))
    return pairs


def _keep_packs(
    src: ObjectStore,
    dst: _KeepsPacks,
    ids: list[str],
    pairs: list[tuple[str, str]],
    progress: Progress | None,
    *,
    links: bool,
) -> list[str]:
    """Copy whole the packs of src that hold at least half wanted objects (each object
    checked before the pack is kept); the wanted ids left to copy one by one."""
    assert isinstance(src, PackedReads)
    have = dst.in_packs(ids)  # kept with an earlier batch's pack
    pairs.extend((i, i) for i in ids if i in have)
    members = src.pack_members()
    pack_of = {cid: name for name, held in members.items() for cid in held}
    by_pack: dict[str, list[str]] = {}
    rest: list[str] = []  # ids no pack holds (said later) and those to copy one by one
    for cid in ids:
        if cid in have:
            continue
        if cid in pack_of:
            by_pack.setdefault(pack_of[cid], []).append(cid)
        else:
            rest.append(cid)
    for name, wanted in sorted(by_pack.items()):
        if 2 * len(wanted) < len(members.get(name, ())):
            rest.extend(wanted)
            continue
        linked = None
        if links and isinstance(src, LocalStore) and isinstance(dst, LocalStore):
            linked = dst.link_pack(src.pack_path(name), src.pack_index(name), name, url=src.url)
        if linked is None:
            data, index = src.pack_contents(name)
            linked = dst.adopt_pack(data, index, name, source=src.url)
        held = set(linked)
        pairs.extend((i, i) for i in wanted if i in held)
        rest.extend(i for i in wanted if i not in held)
        if progress is not None:
            progress(len(wanted))
    return rest


def _from_packs(
    src: ObjectStore, dst: ObjectStore, ids: list[str], progress: Progress | None
) -> list[tuple[str, str]]:
    """Objects held in src's packs, read pack by pack (verified) and stored loose in dst."""
    assert isinstance(src, PackedReads)
    read = list(src.read_packed(ids))  # each checked against its id as it is read
    if len(read) != len(ids):
        got = {cid for cid, _ in read}
        raise not_found(next(i for i in ids if i not in got), src.url)
    if isinstance(dst, LocalStore):
        dst.put_checked(read)
        pairs = [(cid, cid) for cid, _ in read]
    else:
        pairs = [(cid, dst.put_bytes(data)) for cid, data in read]
    if progress is not None:
        progress(len(ids))
    return pairs


def _via_temp_files(
    src: ObjectStore, dst: ObjectStore, batch: list[str], progress: Progress | None
) -> list[tuple[str, int]]:
    with tempfile.TemporaryDirectory(prefix="monoloop-transfer-") as scratch:
        paths = [os.path.join(scratch, cid.removeprefix("b3:")) for cid in batch]
        src.get_files(list(zip(batch, paths, strict=True)))
        return dst.put_sized(paths, progress=progress)


def _os_error(exc: OSError, what: str) -> TransferError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return TransferError(
            f"no space left writing to {what}: {exc.strerror}",
            hint="free some space (`monoloop data gc` removes unreferenced objects) and run "
            "the command again; it resumes where it stopped",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return TransferError(
            f"{what} is not writable: {exc.strerror}",
            hint="check the remote's permissions (or that it is not mounted read-only)",
        )
    return TransferError(f"cannot write to {what}: {exc}", hint="check that it is reachable")


def ordered(data_ids: Iterable[str], manifest_ids: Iterable[str]) -> list[str]:
    """Data objects first, manifests last: a manifest must never name a missing object."""
    manifests = list(dict.fromkeys(manifest_ids))
    skip = set(manifests)
    return [i for i in dict.fromkeys(data_ids) if i not in skip] + manifests
