"""The object store contract on the local and memory:// backends, and LocalStore specifics."""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import objects_fixtures as fx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monoloop.canonical import canonical_json
from monoloop.errors import ConfigError, CorruptObject, InvalidInput, PathOutsideRoot
from monoloop.hashing import hash_bytes
from monoloop.store.fsio import SMALL_FILE
from monoloop.store.local import LocalStore
from monoloop.store.objects import Manifest, ObjectStore, open_store
from monoloop.store.remote import FsspecStore

local_store = fx.local_store
memory_store = fx.memory_store
any_store = fx.any_store

AnyStore = tuple[ObjectStore, fx.Tamper]
reuse_store = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- the contract, on every backend --------------------------------------------------------


@reuse_store
@given(data=st.binary(max_size=5000))
def test_round_trip(any_store: AnyStore, data: bytes) -> None:
    fx.check_round_trip(any_store[0], data)


@reuse_store
@given(files=fx.trees)
def test_tree_round_trip(any_store: AnyStore, files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as where:
        fx.check_tree_round_trip(any_store[0], files, Path(where))


def test_large_object_round_trip(any_store: AnyStore, tmp_path: Path) -> None:
    store, tamper = any_store
    data = os.urandom(SMALL_FILE + 12345)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    content_id = store.put_file(source)
    assert content_id == hash_bytes(data)
    assert store.put_stream(io.BytesIO(data)) == content_id
    store.get_file(content_id, tmp_path / "out" / "big.bin")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data
    tamper(content_id, fx.flipped(data))
    with pytest.raises(CorruptObject):
        store.get_file(content_id, tmp_path / "out" / "big.bin")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data, "a bad get replaced a good file"
    assert sorted(os.listdir(tmp_path / "out")) == ["big.bin"]


def test_corruption_is_detected(any_store: AnyStore, tmp_path: Path) -> None:
    store, tamper = any_store
    fx.check_corruption(store, tamper, b"precious model weights" * 100, tmp_path)


def test_truncated_object_is_corrupt(any_store: AnyStore) -> None:
    store, tamper = any_store
    content_id = store.put_bytes(b"0123456789")
    tamper(content_id, b"01234")
    with pytest.raises(CorruptObject):
        store.get(content_id)
    with pytest.raises(CorruptObject), store.open(content_id) as reader:
        reader.read()


def test_reader_never_ends_cleanly_on_bad_bytes(any_store: AnyStore) -> None:
    store, tamper = any_store
    data = bytes(range(256)) * 64
    content_id = store.put_bytes(data)
    with store.open(content_id) as reader:
        assert reader.read(10) == data[:10]
        assert reader.read() == data[10:]
        assert reader.read() == b""
    tamper(content_id, fx.flipped(data))
    reader = store.open(content_id)
    pieces = []
    with pytest.raises(CorruptObject):
        while chunk := reader.read(1000):
            pieces.append(chunk)
    assert len(b"".join(pieces)) < len(data), "the last bytes were handed out unverified"
    reader.close()  # already reported: closing does not raise again
    partial = store.open(content_id)
    partial.read(5)
    with pytest.raises(CorruptObject):
        partial.close()


def test_missing_and_malformed_ids(any_store: AnyStore, tmp_path: Path) -> None:
    fx.check_missing_and_malformed(any_store[0], tmp_path)


def test_batch_progress(any_store: AnyStore, tmp_path: Path) -> None:
    fx.check_progress(any_store[0], tmp_path)


def test_put_stream_and_empty_object(any_store: AnyStore) -> None:
    store, _ = any_store
    assert store.put_stream(io.BytesIO(b"")) == hash_bytes(b"")
    assert store.get(hash_bytes(b"")) == b""
    assert store.put_stream(io.BytesIO(b"abc" * 1000)) == hash_bytes(b"abc" * 1000)


def test_get_tree_refuses_escaping_paths(any_store: AnyStore, tmp_path: Path) -> None:
    store, _ = any_store
    inside = store.put_bytes(b"payload")
    for bad in ("../x", "/etc/x", "a/../../x", "a/..", "..\\x", "C:x"):
        manifest = {
            "format": "monoloop.manifest/1",
            "entries": [
                {"path": "ok.txt", "size": 7, "id": inside},
                {"path": bad, "size": 7, "id": inside},
            ],
        }
        manifest_id = store.put_bytes(canonical_json(manifest))
        with pytest.raises(PathOutsideRoot) as caught:
            store.get_tree(manifest_id, tmp_path / "dest")
        assert repr(bad) in caught.value.message
        assert not (tmp_path / "dest").exists(), "a refused manifest wrote something"
    assert not (tmp_path / "x").exists()


def test_get_tree_refuses_symlinked_dirs_in_dest(any_store: AnyStore, tmp_path: Path) -> None:
    store, _ = any_store
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    entry = {"path": "sub/x", "size": 1, "id": store.put_bytes(b"x")}
    manifest_id = store.put_bytes(
        canonical_json({"format": "monoloop.manifest/1", "entries": [entry]})
    )
    with pytest.raises(PathOutsideRoot):
        store.get_tree(manifest_id, dest)
    assert list(outside.iterdir()) == []


def test_put_tree_refuses_symlinks(any_store: AnyStore, tmp_path: Path) -> None:
    store, _ = any_store
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.txt").write_text("fine")
    (tree / "link").symlink_to("/etc/hostname")
    with pytest.raises(InvalidInput, match="symbolic link") as caught:
        store.put_tree(tree)
    assert "link" in caught.value.message


def test_put_tree_refuses_names_that_are_paths_on_windows(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store, _ = any_store
    for name in ("..\\evil", "c:evil"):
        tree = tmp_path / f"tree{len(name)}"
        tree.mkdir()
        (tree / name).write_text("x")
        with pytest.raises(InvalidInput, match="Windows"):
            store.put_tree(tree)


def test_read_manifest_of_a_plain_object(any_store: AnyStore) -> None:
    store, _ = any_store
    for content in (b"not json", b'{"format": "other"}', b'{"format":"monoloop.manifest/1"}'):
        content_id = store.put_bytes(content)
        with pytest.raises(InvalidInput, match="not a monoloop manifest") as caught:
            store.read_manifest(content_id)
        assert content_id in caught.value.message


def test_manifest_is_canonical_and_sorted(any_store: AnyStore, tmp_path: Path) -> None:
    store, _ = any_store
    fx.write_tree(tmp_path / "t", {"b.txt": b"b", "a/z.txt": b"z", "a/y.txt": b"y"})
    manifest_id = store.put_tree(tmp_path / "t")
    raw = store.get(manifest_id)
    manifest = Manifest.from_bytes(raw)
    assert [e.path for e in manifest.entries] == ["a/y.txt", "a/z.txt", "b.txt"]
    assert (
        raw
        == manifest.to_bytes()
        == canonical_json(
            {
                "format": "monoloop.manifest/1",
                "entries": [{"path": e.path, "size": e.size, "id": e.id} for e in manifest.entries],
            }
        )
    )
    assert store.put_tree(tmp_path / "t") == manifest_id


def test_fsck_quarantine_lets_a_put_restore(any_store: AnyStore) -> None:
    store, tamper = any_store
    data = b"restore me" * 50
    content_id = store.put_bytes(data)
    tamper(content_id, fx.flipped(data))
    report = store.fsck(quarantine=True)
    assert report.corrupt == report.quarantined == [content_id]
    assert not store.exists(content_id)
    assert store.put_bytes(data) == content_id
    assert store.get(content_id) == data
    assert store.fsck().ok


# -- LocalStore specifics -----------------------------------------------------------------


def test_objects_are_read_only_and_fanned_out(local_store: LocalStore) -> None:
    content_id = local_store.put_bytes(b"read only")
    path = fx.object_path(local_store, content_id)
    assert path.parent.name == content_id[3:5]
    assert path.stat().st_mode & 0o777 == 0o444
    assert fx.temp_files(local_store.root) == []


def test_idempotent_put_does_not_rewrite(local_store: LocalStore, tmp_path: Path) -> None:
    content_id = local_store.put_bytes(b"same bytes")
    path = fx.object_path(local_store, content_id)
    before = path.stat()
    time.sleep(0.01)
    source = tmp_path / "same.txt"
    source.write_bytes(b"same bytes")
    assert local_store.put_bytes(b"same bytes") == content_id
    assert local_store.put_file(source) == content_id
    assert local_store.put_files([source, source]) == [content_id, content_id]
    assert local_store.put_stream(io.BytesIO(b"same bytes")) == content_id
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert fx.temp_files(local_store.root) == []


def _dead_pid() -> int:
    child = mp.get_context("fork").Process(target=os._exit, args=(0,))
    child.start()
    child.join()
    assert child.pid is not None
    return child.pid


def test_orphaned_temp_files_are_cleaned(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    LocalStore(root).put_bytes(b"layout")
    tmp = root / "tmp"
    host = socket.gethostname()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp / "0" / f"aaaa0.{_dead_pid()}.{host}"
        live = tmp / f"bbbb0.{sleeper.pid}.{host}"
        mine = tmp / f"cccc0.{os.getpid()}.{host}"
        foreign_old = tmp / "dddd0.123.other-host.example"
        foreign_new = tmp / "eeee0.123.other-host.example"
        for path in (dead, live, mine, foreign_old, foreign_new):
            path.write_bytes(b"partial")
        two_hours_ago = time.time() - 7200
        os.utime(foreign_old, (two_hours_ago, two_hours_ago))
        report = LocalStore(root).fsck()
        assert sorted(report.removed_temp) == sorted([str(dead), str(foreign_old)])
        assert {p.name for p in fx.temp_files(root)} == {live.name, mine.name, foreign_new.name}
        # A later write by a new store instance cleans up too.
        again = tmp / f"ffff0.{_dead_pid()}.{host}"
        again.write_bytes(b"partial")
        LocalStore(root).put_bytes(b"another")
        assert not again.exists()
        assert live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_fsck_reports_strays_and_leaves_them(local_store: LocalStore) -> None:
    local_store.put_bytes(b"x")
    stray = local_store.root / "ab" / "not-an-object"
    stray.parent.mkdir(exist_ok=True)  # fan-out directories are made as objects need them
    stray.write_text("?")
    report = local_store.fsck()
    assert report.stray == [str(stray)]
    assert report.ok and report.checked == 1
    assert stray.exists()
    assert list(local_store.iter()) == [hash_bytes(b"x")]


def test_get_file_replaces_atomically_and_refuses_directories(
    local_store: LocalStore, tmp_path: Path
) -> None:
    first = local_store.put_bytes(b"first")
    second = local_store.put_bytes(b"second")
    dest = tmp_path / "deep" / "dir" / "file.txt"
    local_store.get_file(first, dest)
    local_store.get_file(second, dest)
    assert dest.read_bytes() == b"second"
    assert sorted(os.listdir(dest.parent)) == ["file.txt"]
    with pytest.raises(InvalidInput, match="is a directory"):
        local_store.get_file(first, tmp_path / "deep")


def test_put_refuses_what_is_not_a_file(local_store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        local_store.put_file(tmp_path / "missing")
    with pytest.raises(InvalidInput, match="directory"):
        local_store.put_file(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InvalidInput, match="not a regular file"):
        local_store.put_file(tmp_path / "fifo")
    with pytest.raises(InvalidInput, match="not a directory"):
        local_store.put_tree(tmp_path / "missing")


def test_unwritable_store_root_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with pytest.raises(ConfigError, match="cannot create the object store") as caught:
        LocalStore(blocker / "objects").put_bytes(b"x")
    assert caught.value.hint


# -- open_store -----------------------------------------------------------------------------


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    default = open_store(None, default_root=tmp_path / "default")
    assert isinstance(default, LocalStore) and default.root == tmp_path / "default"
    plain = open_store(str(tmp_path / "plain"), default_root=tmp_path)
    assert isinstance(plain, LocalStore) and plain.root == tmp_path / "plain"
    uri = open_store((tmp_path / "uri").as_uri(), default_root=tmp_path)
    assert isinstance(uri, LocalStore) and uri.root == tmp_path / "uri"
    memory = open_store("memory://open-store-test", default_root=tmp_path)
    assert isinstance(memory, FsspecStore) and isinstance(memory, ObjectStore)
    assert memory.url == "memory://open-store-test"


def test_open_store_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("nosuch://bucket/x", default_root=tmp_path)
    assert "'nosuch'" in caught.value.message
    assert caught.value.hint and "s3" in caught.value.hint and "memory" in caught.value.hint


def test_open_store_missing_backend_package(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    if sys.modules.get("gcsfs") is not None:
        pytest.skip("gcsfs is installed")
    with pytest.raises(ConfigError) as caught:
        open_store("gs://bucket/prefix", default_root=tmp_path)
    assert caught.value.hint and "pip install gcsfs" in caught.value.hint


def test_open_store_s3_without_s3fs() -> None:
    # A fresh interpreter where importing s3fs fails, as on an install without the extra.
    script = (
        "import sys; sys.modules['s3fs'] = None\n"
        "from monoloop.errors import ConfigError\n"
        "from monoloop.store.objects import open_store\n"
        "try:\n"
        "    open_store('s3://bucket/prefix', default_root='.')\n"
        "except ConfigError as exc:\n"
        "    print(exc.message); print(exc.hint)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert "s3://bucket/prefix" in out
    assert "pip install 'monoloop[s3]'" in out


def test_present_answers_by_listing_or_by_stat(any_store: AnyStore) -> None:
    """`present` lists busy fan-out directories and stats sparse ones; same answer either
    way, for stored ids, absent ids in a directory that exists, and a missing directory."""
    store = any_store[0]
    stored = [store.put_bytes(b"obj %d" % i) for i in range(600)]  # ~2 per fan-out dir
    absent = [hash_bytes(b"absent %d" % i) for i in range(600)]
    assert store.present([]) == set()
    assert store.present(stored[:3] + absent[:3]) == set(stored[:3])
    busy = next(i[3:5] for i in stored)  # pile up ids in one directory: it gets listed
    same_dir = [i for i in absent if i[3:5] == busy] + [i for i in stored if i[3:5] == busy]
    extra = [f"b3:{busy}{n:062x}" for n in range(40)]
    assert store.present(same_dir + extra) == {i for i in same_dir if i in set(stored)}
    assert store.present(stored + absent) == set(stored)
    with pytest.raises(InvalidInput):
        store.present(["b3:nope"])


def test_present_in_a_store_never_written_to(tmp_path: Path) -> None:
    ids = [hash_bytes(b"%d" % i) for i in range(50)]
    assert LocalStore(tmp_path / "new").present(ids) == set()
    assert not (tmp_path / "new").exists()
