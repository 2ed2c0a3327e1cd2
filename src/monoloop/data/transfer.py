"""Moving objects between two stores: only the missing ones, verified, data before manifests.

Every copy is hashed on the way (the destination's put computes the id from the bytes it
writes), so a damaged source object is caught rather than spread. Objects become visible
on the destination only complete (temp + rename, or a single PUT), so an interrupted
transfer leaves nothing partial, and running it again finishes the job.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from monoloop.errors import CorruptObject, MonoloopError, UserError
from monoloop.store.local import LocalStore
from monoloop.store.objects import ObjectStore

Progress = Callable[[int], None]
BATCH = 2000


class TransferError(UserError):
    """A remote could not be read or written."""


def present(store: ObjectStore, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the store holds: one listing for many ids, else one check each."""
    if not ids:
        return set()
    if len(ids) > 256 and not isinstance(store, LocalStore):
        wanted = set(ids)
        return {i for i in store.iter() if i in wanted}
    with ThreadPoolExecutor(max_workers=16) as pool:
        flags = list(pool.map(store.exists, ids))
    return {i for i, there in zip(ids, flags, strict=True) if there}


def copy_objects(
    src: ObjectStore,
    dst: ObjectStore,
    ids: Sequence[str],
    *,
    what: str,
    progress: Progress | None = None,
) -> None:
    """Copy `ids` (in order, batch by batch) from src to dst; `what` names dst in errors."""
    for start in range(0, len(ids), BATCH):
        batch = list(ids[start : start + BATCH])
        try:
            if isinstance(src, LocalStore):
                got = dst.put_sized([src.object_path(i) for i in batch], progress=progress)
            else:
                got = _via_temp_files(src, dst, batch, progress)
        except MonoloopError:
            raise
        except OSError as exc:
            raise _os_error(exc, what) from None
        for want, (have, _size) in zip(batch, got, strict=True):
            if want != have:
                raise CorruptObject(
                    f"object {want} in {src.url} is corrupt: its bytes hash to {have}",
                    hint="run `monoloop store fsck` on that store, then re-add the data",
                )


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
