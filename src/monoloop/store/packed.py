"""Reading packed objects: the part of pack support every store shares.

A store provides three primitives (list its index names, read an index, read a range
of a pack); this mixin keeps the table of what its packs hold and answers lookups.
The table is loaded on first need and refreshed when an id is asked for that it lacks
and the set of indexes may have changed (another process pushed a pack), so a store
without packs pays one directory look per refresh and nothing per object.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from monoloop.errors import CorruptObject
from monoloop.hashing import hash_bytes
from monoloop.store import packs
from monoloop.store.objects import corrupt


class PackedReads:
    url: str

    # -- what a store provides ------------------------------------------------------------

    def _pack_index_names(self) -> list[str]:
        """The names of the pack indexes in the store now (empty without a packs/ dir)."""
        raise NotImplementedError

    def _pack_index_bytes(self, name: str) -> bytes:
        raise NotImplementedError

    def _pack_range(self, pack: str, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def _pack_ranges(self, pack: str, spans: list[tuple[int, int]]) -> list[bytes]:
        """Several ranges of one pack, in the order given; stores override to batch."""
        return [self._pack_range(pack, offset, size) for offset, size in spans]

    # -- the table ------------------------------------------------------------------------

    _pack_table: dict[str, packs.Located] | None = None
    _pack_loaded: frozenset[str] = frozenset()
    _pack_lock = threading.Lock()

    def _packs(self, *, refresh: bool = False) -> dict[str, packs.Located]:
        with self._pack_lock:
            table = self._pack_table
            if table is not None and not refresh:
                return table
            table = dict(table or {})
            names = self._pack_index_names()
            for name in names:
                if name not in self._pack_loaded:
                    data = self._pack_index_bytes(name)
                    table.update(packs.decode_index(data, name, where=self.url))
            self._pack_loaded = self._pack_loaded | frozenset(names)
            self._pack_table = table
            return table

    def _forget_packs(self) -> None:
        with self._pack_lock:
            self._pack_table, self._pack_loaded = None, frozenset()

    def _locate(self, content_id: str) -> packs.Located | None:
        found = self._packs().get(content_id)
        if found is None:
            found = self._packs(refresh=True).get(content_id)
        return found

    def packed_ids(self) -> Iterator[str]:
        """Every id held in the store's packs."""
        yield from sorted(self._packs(refresh=True))

    def in_packs(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the store's packs hold (one refresh for all of them)."""
        table = self._packs(refresh=True)
        return {i for i in ids if i in table}

    def pack_table(self) -> dict[str, packs.Located]:
        """Where each packed object is (read afresh)."""
        return dict(self._packs(refresh=True))

    def pack_members(self) -> dict[str, list[str]]:
        """Each pack's name with the ids it holds."""
        members: dict[str, list[str]] = {}
        for cid, where in self._packs(refresh=True).items():
            members.setdefault(where.pack, []).append(cid)
        return members

    def pack_index(self, name: str) -> bytes:
        """A pack's index, as stored (unverified: the receiver checks)."""
        return self._pack_index_bytes(name)

    def pack_contents(self, name: str) -> tuple[bytes, bytes]:
        """A whole pack and its index, as stored (unverified: the receiver checks)."""
        index = self._pack_index_bytes(name)
        spans = [(w.offset, w.size) for _, w in packs.decode_index(index, name, where=self.url)]
        end = max((offset + size for offset, size in spans), default=0)
        return (self._pack_range(name, 0, end) if end else b""), index

    # -- reading --------------------------------------------------------------------------

    def _packed_bytes(self, content_id: str, where: packs.Located) -> bytes:
        data = self._pack_range(where.pack, where.offset, where.size)
        return self._checked(content_id, where, data)

    def _checked(self, content_id: str, where: packs.Located, data: bytes) -> bytes:
        if len(data) != where.size or hash_bytes(data) != content_id:
            raise corrupt(content_id, self.url, f"its bytes in pack {where.pack} do not match")
        return data

    def read_packed_one(self, content_id: str) -> bytes | None:
        """A packed object's verified bytes, or None if no pack holds it."""
        where = self._locate(content_id)
        return None if where is None else self._packed_bytes(content_id, where)

    def read_packed(self, ids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(id, verified bytes) for those of `ids` held in packs, pack by pack in offset
        order (one read per pack where a store can); ids not packed are skipped."""
        wanted = list(dict.fromkeys(ids))
        table = self._packs()
        if any(i not in table for i in wanted):  # a pack added since: look once more
            table = self._packs(refresh=True)
        located = [(i, table[i]) for i in wanted if i in table]
        for items, chunks in self._by_pack(located):
            for (cid, where), data in zip(items, chunks, strict=True):
                yield cid, self._checked(cid, where, data)

    def fsck_packs(self) -> tuple[int, int, list[str], list[str]]:
        """Verify every packed object: (checked, bytes, corrupt ids, damaged index names).

        Indexes are read afresh, and one that is damaged is reported rather than raised."""
        checked = total = 0
        bad: list[str] = []
        damaged: list[str] = []
        table: dict[str, packs.Located] = {}
        for name in self._pack_index_names():
            try:
                table.update(packs.decode_index(self._pack_index_bytes(name), name, where=self.url))
            except CorruptObject:
                damaged.append(name)
        for items, chunks in self._by_pack(table.items(), unreadable_as_empty=True):
            for (cid, where), data in zip(items, chunks, strict=True):
                checked += 1
                if len(data) == where.size and hash_bytes(data) == cid:
                    total += len(data)
                else:
                    bad.append(cid)
        return checked, total, sorted(bad), damaged

    def _by_pack(
        self,
        located: Iterable[tuple[str, packs.Located]],
        *,
        unreadable_as_empty: bool = False,
    ) -> Iterator[tuple[list[tuple[str, packs.Located]], list[bytes]]]:
        """Entries grouped by pack, in offset order, each group with its objects' bytes."""
        by_pack: dict[str, list[tuple[str, packs.Located]]] = {}
        for cid, where in located:
            by_pack.setdefault(where.pack, []).append((cid, where))
        for pack, items in sorted(by_pack.items()):
            items.sort(key=lambda item: item[1].offset)
            try:
                chunks = self._pack_ranges(pack, [(w.offset, w.size) for _, w in items])
            except OSError:
                if not unreadable_as_empty:
                    raise
                chunks = [b""] * len(items)  # a pack file that is gone: all of it corrupt
            yield items, chunks
