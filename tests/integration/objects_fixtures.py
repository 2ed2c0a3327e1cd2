"""Object store fixtures and contract checks shared by the local, memory and S3 tests.

Test modules import this by name (pytest puts their directory on sys.path) and bind the
fixtures they use as module attributes, since conftest.py belongs to another area.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import strategies as st

from monoloop.errors import CorruptObject, InvalidInput, ObjectNotFound
from monoloop.hashing import hash_bytes
from monoloop.store.local import LocalStore
from monoloop.store.objects import ObjectStore
from monoloop.store.remote import FsspecStore

Tamper = Callable[[str, bytes], None]
MISSING_ID = "b3:" + "0" * 64


def object_path(store: LocalStore, content_id: str) -> Path:
    hexdigits = content_id.removeprefix("b3:")
    return store.root / hexdigits[:2] / hexdigits[2:]


def temp_files(root: Path) -> list[Path]:
    """Files under a LocalStore's tmp/ (its lane directories are not temp files)."""
    return [path for path in (root / "tmp").rglob("*") if path.is_file()]


def tamper_local(store: LocalStore) -> Tamper:
    def tamper(content_id: str, data: bytes) -> None:
        path = object_path(store, content_id)
        path.chmod(0o644)
        path.write_bytes(data)
        path.chmod(0o444)

    return tamper


def tamper_fsspec(store: FsspecStore) -> Tamper:
    def tamper(content_id: str, data: bytes) -> None:
        store._fs.pipe_file(store._key(content_id), data)

    return tamper


def flipped(data: bytes) -> bytes:
    """The same bytes with one bit changed in the middle."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


@pytest.fixture
def memory_store() -> Iterator[FsspecStore]:
    import fsspec

    root = f"/monoloop-test-{uuid.uuid4().hex}"
    yield FsspecStore(f"memory://{root}")
    with contextlib.suppress(FileNotFoundError):
        fsspec.filesystem("memory").rm(root, recursive=True)


@pytest.fixture(params=["local", "memory"])
def any_store(request: pytest.FixtureRequest) -> tuple[ObjectStore, Tamper]:
    """Each store kind with a way to overwrite an object's stored bytes behind its back."""
    if request.param == "local":
        local: LocalStore = request.getfixturevalue("local_store")
        return local, tamper_local(local)
    memory: FsspecStore = request.getfixturevalue("memory_store")
    return memory, tamper_fsspec(memory)


# -- generated trees ----------------------------------------------------------------------

_names = st.text(alphabet="abcXYZ019_- .", min_size=1, max_size=8).filter(
    lambda name: name not in (".", "..") and name.strip() == name
)


def _no_file_dir_clash(files: dict[str, bytes]) -> bool:
    dirs = {"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)}
    return not dirs & files.keys()


trees = st.dictionaries(
    st.lists(_names, min_size=1, max_size=3).map("/".join),
    st.binary(max_size=3000),
    max_size=8,
).filter(_no_file_dir_clash)


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


# -- contract checks, run against every backend -------------------------------------------


def check_round_trip(store: ObjectStore, data: bytes) -> None:
    content_id = store.put_bytes(data)
    assert content_id == hash_bytes(data)
    assert store.get(content_id) == data
    assert store.exists(content_id)
    assert store.size(content_id) == len(data)
    with store.open(content_id) as reader:
        assert reader.read() == data
    store.verify(content_id)
    assert content_id in set(store.iter())


def check_tree_round_trip(store: ObjectStore, files: dict[str, bytes], where: Path) -> None:
    write_tree(where / "src", files)
    manifest_id = store.put_tree(where / "src")
    manifest = store.read_manifest(manifest_id)
    assert [e.path for e in manifest.entries] == sorted(files)
    assert {e.path: e.size for e in manifest.entries} == {k: len(v) for k, v in files.items()}
    store.get_tree(manifest_id, where / "out")
    assert read_tree(where / "out") == files


def check_corruption(store: ObjectStore, tamper: Tamper, data: bytes, where: Path) -> None:
    content_id = store.put_bytes(data)
    tamper(content_id, flipped(data))
    for action in (
        lambda: store.get(content_id),
        lambda: store.open(content_id).read(),
        lambda: store.verify(content_id),
        lambda: store.get_file(content_id, where / "dest.bin"),
    ):
        with pytest.raises(CorruptObject) as caught:
            action()
        assert content_id in caught.value.message
        assert caught.value.hint
    assert not (where / "dest.bin").exists()
    assert not list(where.glob(".*monoloop-tmp")), "a rejected checkout left its temp file"
    report = store.fsck()
    assert report.corrupt == [content_id]
    assert not report.ok


def check_missing_and_malformed(store: ObjectStore, where: Path) -> None:
    calls: list[Callable[[str], object]] = [
        store.get,
        store.open,
        store.size,
        store.verify,
        store.read_manifest,
        lambda cid: store.get_file(cid, where / "x"),
        lambda cid: store.get_tree(cid, where / "tree"),
    ]
    for call in calls:
        with pytest.raises(ObjectNotFound) as missing:
            call(MISSING_ID)
        assert MISSING_ID in missing.value.message
        assert missing.value.hint
        with pytest.raises(InvalidInput) as malformed:
            call("b3:not-hex")
        assert "b3:not-hex" in malformed.value.message
    assert not store.exists(MISSING_ID)
    with pytest.raises(InvalidInput):
        store.exists("sha256:abc")


def check_progress(store: ObjectStore, where: Path) -> None:
    paths = []
    for i in range(40):
        path = where / f"p{i}.txt"
        path.write_bytes(f"file {i}".encode())
        paths.append(path)
    seen: list[int] = []
    ids = store.put_files(paths, progress=seen.append)
    assert sum(seen) == len(paths)
    assert ids == [hash_bytes(p.read_bytes()) for p in paths]
    got: list[int] = []
    store.get_files(
        [(cid, where / "back" / p.name) for cid, p in zip(ids, paths, strict=True)],
        progress=got.append,
    )
    assert sum(got) == len(paths)
    assert all((where / "back" / p.name).read_bytes() == p.read_bytes() for p in paths)
