"""Pack files in a store: every read path finds packed objects, verified; damage is named.

Run on the local and memory:// backends (S3 is covered by test_data_remote)."""

from __future__ import annotations

import os
from pathlib import Path

import objects_fixtures as fx
import pytest

from monoloop.errors import CorruptObject, ObjectNotFound
from monoloop.hashing import hash_bytes
from monoloop.store import packs
from monoloop.store.local import LocalStore
from monoloop.store.objects import ObjectStore
from monoloop.store.remote import FsspecStore

local_store = fx.local_store
memory_store = fx.memory_store


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest) -> LocalStore | FsspecStore:
    found: LocalStore | FsspecStore = request.getfixturevalue(f"{request.param}_store")
    return found


def small_files(where: Path, count: int = 40) -> list[tuple[Path, bytes]]:
    where.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        data = os.urandom(100 + i) if i != 7 else b""  # an empty object packs too
        path = where / f"f{i}"
        path.write_bytes(data)
        made.append((path, data))
    made.append((where / "again", made[3][1]))  # the same bytes twice: stored once
    (where / "again").write_bytes(made[3][1])
    return made


def pack_paths(store: ObjectStore) -> dict[str, bytes]:
    if isinstance(store, LocalStore):
        where = store.root / packs.DIR
        return {p.name: p.read_bytes() for p in sorted(where.iterdir())}
    fs, root = store._fs, store._root
    return {k.rsplit("/", 1)[-1]: fs.cat_file(k) for k in sorted(fs.find(f"{root}/packs"))}


def rewrite(store: ObjectStore, name: str, data: bytes) -> None:
    if isinstance(store, LocalStore):
        path = store.root / packs.DIR / name
        path.chmod(0o644)
        path.write_bytes(data)
    else:
        store._fs.pipe_file(f"{store._root}/packs/{name}", data)


def test_packed_objects_answer_every_read(store: LocalStore | FsspecStore, tmp_path: Path) -> None:
    made = small_files(tmp_path / "src")
    got = store.put_pack([path for path, _ in made])
    assert got == [(hash_bytes(data), len(data)) for _, data in made]
    files = pack_paths(store)
    assert sorted(name.rsplit(".", 1)[1] for name in files) == ["idx", "pack"]
    ids = [cid for cid, _ in got]
    assert store.present([*ids, fx.MISSING_ID]) == set(ids)
    assert sorted(store.iter()) == sorted(set(ids))
    for (_, data), cid in zip(made, ids, strict=True):
        assert store.exists(cid) and store.size(cid) == len(data)
        assert store.get(cid) == data
        with store.open(cid) as f:
            assert f.read() == data
        store.verify(cid)
    targets = [(cid, tmp_path / "out" / f"{i}") for i, cid in enumerate(ids)]
    store.get_files(targets)
    assert [p.read_bytes() for _, p in targets] == [data for _, data in made]
    report = store.fsck()
    assert report.ok and report.checked == len(set(ids)) and report.stray == []
    # A fresh handle on the same store (another process) sees them too.
    again = LocalStore(store.root) if isinstance(store, LocalStore) else FsspecStore(store.url)
    assert again.present(ids) == set(ids) and again.get(ids[0]) == made[0][1]


def test_a_damaged_packed_object_is_refused_and_reported(
    store: LocalStore | FsspecStore, tmp_path: Path
) -> None:
    made = small_files(tmp_path / "src")
    ids = [cid for cid, _ in store.put_pack([path for path, _ in made])]
    [pack_name] = [n for n in pack_paths(store) if n.endswith(packs.PACK_SUFFIX)]
    victim = ids[10]  # 110 bytes, somewhere in the middle of the pack
    where = store._packs()[victim]
    damaged = bytearray(pack_paths(store)[pack_name])
    damaged[where.offset + 5] ^= 0x01
    rewrite(store, pack_name, bytes(damaged))
    with pytest.raises(CorruptObject, match=victim):
        store.get(victim)
    with pytest.raises(CorruptObject):
        store.get_files([(victim, tmp_path / "out" / "v")])
    assert not (tmp_path / "out" / "v").exists()
    assert store.get(ids[11]) == made[11][1]  # its neighbours are fine
    report = store.fsck()
    assert not report.ok and report.corrupt_packed == [victim]


def test_a_damaged_index_is_named_with_a_fix(
    store: LocalStore | FsspecStore, tmp_path: Path
) -> None:
    made = small_files(tmp_path / "src")
    ids = [cid for cid, _ in store.put_pack([path for path, _ in made])]
    [index_name] = [n for n in pack_paths(store) if n.endswith(packs.INDEX_SUFFIX)]
    rewrite(store, index_name, pack_paths(store)[index_name][:-7])
    fresh = LocalStore(store.root) if isinstance(store, LocalStore) else FsspecStore(store.url)
    with pytest.raises(CorruptObject, match="pack index") as info:
        fresh.get(ids[0])
    assert info.value.hint and "push" in info.value.hint
    report = fresh.fsck()
    assert not report.ok and report.damaged_pack_indexes == [index_name.split(".")[0]]


def test_a_pack_without_its_index_is_invisible_and_reported(
    store: LocalStore | FsspecStore, tmp_path: Path
) -> None:
    made = small_files(tmp_path / "src")
    ids = [cid for cid, _ in store.put_pack([path for path, _ in made])]
    [index_name] = [n for n in pack_paths(store) if n.endswith(packs.INDEX_SUFFIX)]
    if isinstance(store, LocalStore):
        (store.root / packs.DIR / index_name).unlink()  # as if killed before the index
    else:
        store._fs.rm(f"{store._root}/packs/{index_name}")
    fresh = LocalStore(store.root) if isinstance(store, LocalStore) else FsspecStore(store.url)
    assert fresh.present(ids) == set() and list(fresh.iter()) == []
    with pytest.raises(ObjectNotFound):
        fresh.get(ids[0])
    report = fresh.fsck()
    assert report.ok and len(report.stray) == 1 and report.stray[0].endswith(packs.PACK_SUFFIX)
    # Pushing the same batch again writes the same pack under the same name.
    fresh.put_pack([path for path, _ in made])
    assert fresh.present(ids) == set(ids) and fresh.fsck().stray == []


def test_a_pack_written_meanwhile_is_found_by_a_store_already_open(
    local_store: LocalStore, tmp_path: Path
) -> None:
    reader = LocalStore(local_store.root)
    assert reader.present([fx.MISSING_ID]) == set()  # its (empty) table is loaded now
    made = small_files(tmp_path / "src")
    ids = [cid for cid, _ in local_store.put_pack([path for path, _ in made])]
    assert reader.exists(ids[0]) and reader.get(ids[1]) == made[1][1]
