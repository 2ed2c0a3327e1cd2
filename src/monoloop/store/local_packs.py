"""A local store's pack files (see `store.packs`): reading them for `store.packed`, and
writing, adopting, linking, rewriting and removing them.

A pack is made durable and renamed into place before its index is written, so its
objects appear together, complete, or not at all; a pack is removed index first, so no
object is ever named but missing.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
from collections.abc import Iterable, Sequence

from monoloop.store import packs
from monoloop.store.fsio import OPEN_NEW, OPEN_READ, FileSync, contents, read_all_at, write_all
from monoloop.store.objects import StrPath, not_found
from monoloop.store.packed import PackedReads

PACK_WRITE_CHUNK = 8 << 20
# A hard link between stores fails with these when the file system or its policy says
# no (another file system, fs.protected_hardlinks, too many links): copy instead.
NO_LINK = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTSUP}
)


class LocalPacks(PackedReads):
    """Pack files under `root/packs/`; mixed into LocalStore, which provides the rest."""

    _root: str
    _packs_dir: str
    _sync: FileSync

    def prepare(self) -> None:
        raise NotImplementedError

    def _temp_path(self) -> str:
        raise NotImplementedError

    def put_checked(self, items: Sequence[tuple[str, bytes]]) -> None:
        raise NotImplementedError

    def _packs_dir_ready(self) -> None:
        if not os.path.isdir(self._packs_dir):
            os.makedirs(self._packs_dir, exist_ok=True)
            self._sync.sync_dir(self._root)  # the new directory's own entry

    def link_pack(self, source: str, index: bytes, name: str, *, url: str) -> list[str] | None:
        """Keep another local store's pack (at `source`, with its index) by hard link,
        once every object in it is checked against its id; the ids it holds, or None if
        the file system cannot link it (the caller copies it instead)."""
        with open(source, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            held = packs.checked_members(m, index, name, source=url)  # hashed in place
        self.prepare()
        self._packs_dir_ready()
        try:
            os.link(source, self.pack_path(name))
        except FileExistsError:
            pass  # the same pack (same name, same bytes) is already here
        except OSError as exc:
            if exc.errno not in NO_LINK:
                raise
            return None
        self._sync.sync_dir(self._packs_dir)  # the pack is there before its index
        self._write_index(name, index)
        return held

    def pack_path(self, name: str) -> str:
        return os.path.join(self._packs_dir, name + packs.PACK_SUFFIX)

    def put_pack(self, items: Sequence[StrPath | bytes]) -> list[tuple[str, int]]:
        """Store small objects (files, or bytes) as one pack (see `store.packs`): (id, size)
        per item.

        The pack is made durable and renamed into place before its index, so the
        objects appear together, complete, or not at all.
        """
        built = packs.build(contents(item) for item in items)
        self._write_pack(built.chunks, built.index)
        return built.stored

    def adopt_pack(self, data: bytes, index: bytes, name: str, *, source: str) -> list[str]:
        """Keep a pack fetched from another store as it is, once every object in it has
        been checked against its id; the ids it holds. Nothing is written if one fails."""
        held = packs.checked_members(data, index, name, source=source)
        self._write_pack([data], index)
        return held

    def _write_pack(self, chunks: Sequence[bytes], index: bytes) -> None:
        self.prepare()
        self._packs_dir_ready()  # first, so a failure there leaves no temp file behind
        self._publish_pack(self._written_temp(chunks), index)

    def _publish_pack(self, temp: str, index: bytes) -> None:
        """Make a written temp pack durable and rename it into place, then write its index:
        its objects appear together, complete, or not at all."""
        self._packs_dir_ready()
        name = packs.index_name(index)
        self._place_durably(temp, self.pack_path(name))  # the pack before its index
        self._write_index(name, index)

    def _write_index(self, name: str, index: bytes) -> None:
        """Write a pack's index, durably: from now on its objects are in the store."""
        path = os.path.join(self._packs_dir, name + packs.INDEX_SUFFIX)
        self._place_durably(self._written_temp([index]), path)
        self._forget_packs()

    def _written_temp(self, chunks: Iterable[bytes]) -> str:
        """A new temp file holding `chunks`, joined 8 MiB at a time (one write call, not
        one per object); nothing is left if writing fails."""
        temp = self._temp_path()
        fd = os.open(temp, OPEN_NEW, 0o444)
        try:
            pending: list[bytes] = []
            held = 0
            for chunk in chunks:
                pending.append(chunk)
                held += len(chunk)
                if held >= PACK_WRITE_CHUNK:
                    write_all(fd, b"".join(pending))
                    pending, held = [], 0
            write_all(fd, b"".join(pending))
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        return temp

    def _place_durably(self, temp: str, dest: str) -> None:
        """fsync a written temp file, rename it to `dest` and make the rename durable; the
        temp file is removed if that fails."""
        try:
            fd = os.open(temp, OPEN_READ)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._sync.sync_dir(os.path.dirname(dest))

    def stray_pack_files(self) -> list[str]:
        """Paths in packs/ that are neither an index nor a pack an index names."""
        try:
            names = set(os.listdir(self._packs_dir))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [
            os.path.join(self._packs_dir, name)
            for name in sorted(names)
            if not (
                name.endswith(packs.PACK_SUFFIX)
                and name[: -len(packs.PACK_SUFFIX)] + packs.INDEX_SUFFIX in names
            )
            and packs.is_index_name(name) is None
        ]

    def remove_pack(self, name: str) -> int:
        """Delete a pack, index first (so no object is ever named but missing); its size."""
        base = os.path.join(self._packs_dir, name)
        size = os.stat(base + packs.PACK_SUFFIX).st_size
        os.unlink(base + packs.INDEX_SUFFIX)
        self._sync.sync_dir(self._packs_dir)
        os.unlink(base + packs.PACK_SUFFIX)
        self._forget_packs()
        return size

    def repack(self, name: str, keep: Sequence[str]) -> None:
        """Replace a pack by one holding only `keep` of its objects (loose if too few for
        a pack), each checked as it is read. The copies are durable before the old pack
        goes, so every kept object is always in the store."""
        items = list(self.read_packed(keep))
        if len(items) != len(set(keep)):
            got = {cid for cid, _ in items}
            raise not_found(next(i for i in keep if i not in got), self.url)
        if len(items) >= packs.MIN_OBJECTS:
            built = packs.build(data for _, data in items)
            self._write_pack(built.chunks, built.index)
        else:
            self.put_checked(items)
        self.remove_pack(name)

    def _pack_index_names(self) -> list[str]:
        try:
            names = os.listdir(self._packs_dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in map(packs.is_index_name, names) if n is not None)

    def _pack_index_bytes(self, name: str) -> bytes:
        with open(os.path.join(self._packs_dir, name + packs.INDEX_SUFFIX), "rb") as f:
            return f.read()

    def _pack_range(self, pack: str, offset: int, size: int) -> bytes:
        return self._pack_ranges(pack, [(offset, size)])[0]

    def _pack_ranges(self, pack: str, spans: list[tuple[int, int]]) -> list[bytes]:
        fd = os.open(os.path.join(self._packs_dir, pack + packs.PACK_SUFFIX), OPEN_READ)
        try:
            if len(spans) < 8:
                return [os.pread(fd, size, offset) for offset, size in spans]
            # Many objects of one pack (a checkout): copied straight out of a memory map,
            # not read into one buffer first and copied again. Past the end of a truncated
            # pack a slice comes back short, and the reader's check names the object.
            try:
                mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # empty, or a file system that cannot map
                start = min(offset for offset, _ in spans)
                end = max(offset + size for offset, size in spans)
                whole = memoryview(read_all_at(fd, start, end - start))
                return [bytes(whole[o - start : o - start + n]) for o, n in spans]
            with mapped:
                return [mapped[o : o + n] for o, n in spans]
        finally:
            os.close(fd)
