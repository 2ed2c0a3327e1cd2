"""Pack indexes and the packing plan: round trips and damage, by property."""

from __future__ import annotations

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monoloop.errors import CorruptObject
from monoloop.store import packs

ids = st.binary(min_size=32, max_size=32).map(lambda d: "b3:" + d.hex())
entries = st.dictionaries(
    ids, st.tuples(st.integers(0, 2**40), st.integers(0, 2**30)), max_size=60
).map(lambda found: [(cid, off, size) for cid, (off, size) in found.items()])


@given(entries)
def test_an_index_reads_back_what_was_written(written: list[tuple[str, int, int]]) -> None:
    index = packs.encode_index(written)
    name = packs.index_name(index)
    read = {cid: (w.offset, w.size) for cid, w in packs.decode_index(index, name, where="x")}
    assert read == {cid: (off, size) for cid, off, size in written}
    assert all(w.pack == name for _, w in packs.decode_index(index, name, where="x"))
    assert packs.is_index_name(name + packs.INDEX_SUFFIX) == name
    # The same entries in any order make the same index, so the same pack name.
    assert packs.encode_index(list(reversed(written))) == index


@given(entries, st.data())
def test_any_damage_to_an_index_is_refused(
    written: list[tuple[str, int, int]], data: st.DataObject
) -> None:
    index = bytearray(packs.encode_index(written))
    name = packs.index_name(bytes(index))
    at = data.draw(st.integers(0, len(index) - 1))
    index[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CorruptObject, match=name):
        list(packs.decode_index(bytes(index), name, where="x"))
    # Renamed to match its new bytes, it still fails its own checksum (or its framing).
    with pytest.raises(CorruptObject):
        list(packs.decode_index(bytes(index), packs.index_name(bytes(index)), where="x"))


@given(entries, st.integers(1, 40))
def test_a_truncated_index_is_refused(written: list[tuple[str, int, int]], cut: int) -> None:
    index = packs.encode_index(written)[:-cut]
    body = index[: max(0, len(index) - 32)]
    forged = body + blake3.blake3(body).digest()  # consistent checksum, records missing
    for data in (index, forged):
        with pytest.raises(CorruptObject):
            list(packs.decode_index(data, packs.index_name(data), where="x"))


def test_names_that_are_not_indexes() -> None:
    assert packs.is_index_name("a" * 64 + ".pack") is None
    assert packs.is_index_name("A" * 64 + ".idx") is None
    assert packs.is_index_name("a" * 63 + ".idx") is None
    assert packs.is_index_name("../" + "a" * 61 + ".idx") is None


sizes = st.lists(
    st.sampled_from([0, 10, 10_240, packs.OBJECT_MAX, packs.OBJECT_MAX + 1, 30 << 20]),
    max_size=400,
)


@given(sizes)
def test_the_plan_packs_small_objects_within_bounds_and_keeps_the_rest(
    object_sizes: list[int],
) -> None:
    order = [f"b3:{i:064x}" for i in range(len(object_sizes))]
    known = dict(zip(order, object_sizes, strict=True))
    groups, loose = packs.plan(order, known)
    placed = [cid for group in groups for cid in group] + loose
    assert sorted(placed) == sorted(order)  # each id once
    for group in groups:
        assert packs.MIN_OBJECTS <= len(group) <= packs.MAX_OBJECTS
        assert sum(known[cid] for cid in group) <= packs.MAX_BYTES
        assert all(known[cid] <= packs.OBJECT_MAX for cid in group)
        assert group == sorted(group, key=order.index)  # in the order asked
    small = [cid for cid in order if known[cid] <= packs.OBJECT_MAX]
    if len(small) < packs.MIN_OBJECTS:
        assert groups == []


def test_unknown_sizes_stay_loose() -> None:
    order = [f"b3:{i:064x}" for i in range(40)]
    groups, loose = packs.plan(order, {})
    assert groups == [] and loose == order
