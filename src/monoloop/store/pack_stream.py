"""Packing small objects as they are stored: the write side of `store.packs` for a batch
whose objects arrive one by one (`data add` of a directory).

Storing 10,000 small files as 10,000 objects costs 10,000 file creations, and creating a
file is by far the dearest part of storing 10 KiB on a local disk. A PackStream appends
each object's bytes to a temp pack file as it comes (so memory stays bounded, whatever
the batch), starts a new pack at packs.MAX_OBJECTS or packs.MAX_BYTES, and at the end
hands each finished pack to the store to publish: made durable and renamed into place,
then indexed. Until its index is published an object is not in the store, so a crash
leaves only temp files (removed by the store's temp clean-up) and never a partial object.

Thread-safe: run_split may spread a batch over threads on a slow disk.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from monoloop.store import packs
from monoloop.store.fsio import OPEN_NEW, FileSync, read_all_at, write_all


@dataclass
class _Open:
    path: str
    fd: int
    entries: list[tuple[str, int, int]] = field(default_factory=list)
    size: int = 0


@dataclass(frozen=True)
class Finished:
    """A written, not yet durable, temp pack and its index."""

    path: str
    index: bytes
    entries: list[tuple[str, int, int]]  # (id, offset, size)


class PackStream:
    def __init__(self, temp_path: Callable[[], str], sync: FileSync) -> None:
        self._temp_path = temp_path
        self._sync = sync
        self._lock = threading.Lock()
        self._current: _Open | None = None
        self._finished: list[Finished] = []
        self._seen: set[str] = set()

    def add(self, content_id: str, data: bytes | bytearray | memoryview) -> None:
        """Append an object (its id already computed from `data`); a repeat is ignored."""
        with self._lock:
            if content_id in self._seen:
                return
            self._seen.add(content_id)
            current = self._current
            if current is None:
                path = self._temp_path()
                current = self._current = _Open(path, os.open(path, OPEN_NEW, 0o444))
            write_all(current.fd, data)
            current.entries.append((content_id, current.size, len(data)))
            current.size += len(data)
            if len(current.entries) >= packs.MAX_OBJECTS or current.size >= packs.MAX_BYTES:
                self._close_current()

    def _close_current(self) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        try:
            # The disk starts writing now, while the batch goes on; the final fsync then
            # has little left to wait for.
            self._sync.start_writeback(current.fd, 0, current.size)
        finally:
            os.close(current.fd)
        index = packs.encode_index(current.entries)
        self._finished.append(Finished(current.path, index, current.entries))

    def finish(self) -> list[Finished]:
        """The packs written, closed; the caller publishes them (or reads back the objects
        of one too small to be worth a pack) and then calls discard()."""
        with self._lock:
            self._close_current()
            return list(self._finished)

    @staticmethod
    def read_back(done: Finished) -> list[tuple[str, bytes]]:
        """The objects of a finished temp pack, as (id, bytes) written."""
        fd = os.open(done.path, os.O_RDONLY)
        try:
            return [(cid, read_all_at(fd, off, size)) for cid, off, size in done.entries]
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Remove every temp file still there (published packs were renamed away)."""
        with self._lock:
            self._close_current()
            finished, self._finished = self._finished, []
        for done in finished:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(done.path)
