"""Remotes under stress: S3 on loopback, a killed push, a full disk, read-only and dead remotes."""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

import monoloop.data as data
from monoloop.data.transfer import TransferError
from monoloop.errors import ConnectionFailed, CorruptObject, MonoloopError
from monoloop.store.local import LocalStore
from monoloop.workspace import Workspace

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
BIN = Path(sys.executable).parent / "monoloop"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def set_remote(root: Path, spec: object) -> None:
    path = root / "monoloop.yaml"
    config = yaml.safe_load(path.read_text())
    config["remotes"] = {"origin": spec}
    config["default_remote"] = "origin"
    path.write_text(yaml.safe_dump(config))


def fill(root: Path, files: int = 60, big_mib: int = 0) -> Path:
    d = root / "data" / "set"
    for i in range(files):
        sub = d / f"s{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i}.bin").write_bytes(os.urandom(2048 + i))
    if big_mib:
        (d / "big.bin").write_bytes(os.urandom(big_mib << 20))
    return d


def clone_of(ws: Workspace, tmp_path: Path, name: str = "clone") -> Path:
    from monoloop.workspace import init_workspace

    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-q", "--allow-empty", "-m", "data")
    target = tmp_path / name
    git(tmp_path, "clone", "-q", str(ws.root), str(target))
    init_workspace(target)
    return target


def same_tree(a: Path, b: Path) -> bool:
    files_a = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    return files_a == files_b


def test_push_pull_through_s3(
    ws: Workspace, tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"monoloop-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    set_remote(ws.root, {"url": f"s3://{bucket}/store", "options": options})
    tree = fill(ws.root, 40)
    data.add(tree, workspace=ws.root)
    pushed = data.push(workspace=ws.root)
    assert pushed.transferred == 41
    listed = client.list_objects_v2(Bucket=bucket, Prefix="store/")["Contents"]
    keys = sorted(item["Key"] for item in listed)
    # 40 small files in one pack and its index (two PUTs, not 40), then the manifest.
    assert len(keys) == 3
    assert [k.rsplit(".", 1)[-1] for k in keys if k.startswith("store/packs/")] == ["idx", "pack"]
    assert data.push(workspace=ws.root).transferred == 0

    clone = clone_of(ws, tmp_path)
    pulled = data.pull(workspace=clone)
    assert pulled.transferred == 41 and not pulled.missing
    assert same_tree(tree, clone / "data" / "set")

    # A damaged object in the remote's pack is refused, and nothing of it lands locally.
    [pack_key] = [k for k in keys if k.endswith(".pack")]
    packed = bytearray(client.get_object(Bucket=bucket, Key=pack_key)["Body"].read())
    packed[len(packed) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=pack_key, Body=bytes(packed))
    other = clone_of(ws, tmp_path, "other")
    with pytest.raises(CorruptObject, match="pack"):
        data.pull(workspace=other)
    local = LocalStore(other / ".monoloop" / "objects")
    assert [i for i in local.iter() if i != pulled_manifest(other)] == []
    assert local.fsck().ok


def pulled_manifest(clone: Path) -> str:
    pointer = yaml.safe_load((clone / "data" / "set.loop").read_text())
    return str(pointer["id"])


def test_unreachable_remote_is_a_clear_error(ws: Workspace) -> None:
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
    }
    set_remote(ws.root, {"url": "s3://nobucket/x", "options": options})
    data.add(fill(ws.root, 3), workspace=ws.root)
    start = time.monotonic()
    with pytest.raises((ConnectionFailed, TransferError)) as info:
        data.push(workspace=ws.root)
    assert time.monotonic() - start < 60
    assert "nobucket" in info.value.message or "127.0.0.1" in info.value.message
    assert info.value.hint


def test_read_only_remote_is_refused_cleanly(ws: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "ro-remote"
    LocalStore(remote).prepare()
    set_remote(ws.root, f"file://{remote}")
    data.add(fill(ws.root, 5), workspace=ws.root)
    dirs = [remote, *[p for p in remote.rglob("*") if p.is_dir()]]
    lock = ["chattr", "+i"] if os.geteuid() == 0 else ["chmod", "a-w"]
    unlock = ["chattr", "-i"] if os.geteuid() == 0 else ["chmod", "u+w"]
    subprocess.run([*lock, *map(str, dirs)], check=True)
    try:
        with pytest.raises(TransferError) as info:
            data.push(workspace=ws.root)
        assert "not writable" in info.value.message and "origin" in info.value.message
    finally:
        subprocess.run([*unlock, *map(str, dirs)], check=True)
    assert list(LocalStore(remote).iter()) == []
    assert data.push(workspace=ws.root).transferred == 6


def _limit_file_size() -> None:
    # A file-size limit makes writes fail the way a full disk does (EFBIG instead of ENOSPC).
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _pull_on_a_full_disk(ws: Workspace, tmp_path: Path, *flags: str) -> tuple[Path, Path, str]:
    """A pushed tree of 20 small files and a 3 MiB one; a clone's `data pull` with
    writes over 1 MiB failing: (tree, clone, stderr), once it has exited 2."""
    set_remote(ws.root, f"file://{tmp_path / 'remote'}")
    tree = fill(ws.root, 20, big_mib=3)
    data.add(tree, workspace=ws.root)
    data.push(workspace=ws.root)
    clone = clone_of(ws, tmp_path)
    proc = subprocess.run(
        [str(BIN), "-C", str(clone), "data", "pull", *flags],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        env={**os.environ},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
    return tree, clone, proc.stderr


def test_disk_filling_during_pull_leaves_nothing_partial(ws: Workspace, tmp_path: Path) -> None:
    # Copies, not links: the store's own writes fill the disk.
    tree, clone, stderr = _pull_on_a_full_disk(ws, tmp_path, "--no-hardlinks")
    assert "no space left" in stderr
    local = LocalStore(clone / ".monoloop" / "objects")
    report = local.fsck()
    assert report.ok and not report.removed_temp, "no partial or temp object may be left"
    assert not (clone / "data" / "set").exists(), "nothing was checked out"
    # With room again, the same command finishes the job.
    data.pull(workspace=clone)
    assert same_tree(tree, clone / "data" / "set")


def test_disk_filling_during_checkout_leaves_only_whole_files(
    ws: Workspace, tmp_path: Path
) -> None:
    # The objects are linked in; the 3 MiB working file cannot fit.
    tree, clone, stderr = _pull_on_a_full_disk(ws, tmp_path)
    assert "no space left writing the working tree" in stderr
    assert LocalStore(clone / ".monoloop" / "objects").fsck().ok
    written = [p for p in (clone / "data").rglob("*") if p.is_file() and p.suffix != ".loop"]
    assert not any("monoloop-tmp" in p.name for p in written), "a temp file was left"
    for path in written:  # what is there is whole
        assert path.read_bytes() == (ws.root / path.relative_to(clone)).read_bytes()
    # The new directory was staged whole: none of it appeared, and the staging is gone.
    assert not (clone / "data" / "set").exists()
    assert sorted(p.name for p in (clone / "data").iterdir()) == [".gitignore", "set.loop"]
    data.pull(workspace=clone)
    assert same_tree(tree, clone / "data" / "set")


def test_killed_push_resumes_and_never_shows_partial_objects(ws: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    tree = fill(ws.root, 400, big_mib=24)
    data.add(tree, workspace=ws.root)
    rng = random.Random(7)
    for _ in range(5):
        proc = subprocess.Popen(
            [str(BIN), "-C", str(ws.root), "-q", "data", "push"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = LocalStore(remote)
        visible = list(store.iter())
        report = store.fsck()
        assert report.ok, f"corrupt objects after a kill: {report.corrupt}"
        assert report.checked == len(visible)
    finished = data.push(workspace=ws.root)
    assert len(list(LocalStore(remote).iter())) == 402
    assert finished.transferred + finished.already_there == 402
    clone = clone_of(ws, tmp_path)
    data.pull(workspace=clone)
    assert same_tree(tree, clone / "data" / "set")


def test_push_to_a_wiped_remote_uploads_everything_again(ws: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    tree = fill(ws.root, 30)
    one = ws.root / "one.csv"
    one.write_text("a,b\n1,2\n")
    data.add(tree, workspace=ws.root)
    data.add(one, workspace=ws.root)
    first = data.push(workspace=ws.root)
    assert first.transferred == 32 and not first.index_was_stale
    again = data.push(workspace=ws.root)  # the local record answers: nothing to send
    assert (again.transferred, again.already_there, again.index_was_stale) == (0, 32, False)
    shutil.rmtree(remote)  # wiped, then recreated empty at the same URL
    remote.mkdir()
    refilled = data.push(workspace=ws.root)
    assert refilled.index_was_stale and refilled.transferred == 32
    assert len(list(LocalStore(remote).iter())) == 32
    clone = clone_of(ws, tmp_path)
    data.pull(workspace=clone)
    assert same_tree(tree, clone / "data" / "set")
    assert (clone / "one.csv").read_text() == "a,b\n1,2\n"


def test_push_notices_a_lost_file_object_too(ws: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    one = ws.root / "one.csv"
    one.write_text("x\n")
    [added] = data.add(one, workspace=ws.root)
    data.push(workspace=ws.root)
    LocalStore(remote).remove(added.id)
    result = data.push(workspace=ws.root)
    assert result.index_was_stale and result.transferred == 1
    assert LocalStore(remote).exists(added.id)


def test_push_of_data_missing_locally_reports_it(ws: Workspace, tmp_path: Path) -> None:
    set_remote(ws.root, f"file://{tmp_path / 'remote'}")
    csv = ws.root / "x.csv"
    csv.write_text("1\n")
    [added] = data.add(csv, workspace=ws.root)
    LocalStore(ws.root / ".monoloop" / "objects").remove(added.id)
    result = data.push(workspace=ws.root)
    assert result.missing == [added.id] and result.transferred == 0


def test_unknown_remote_name(ws: Workspace) -> None:
    with pytest.raises(MonoloopError, match="no data remotes"):
        data.push(workspace=ws.root)
    set_remote(ws.root, "file:///tmp/x")
    with pytest.raises(MonoloopError, match="unknown remote 'nope'"):
        data.push(remote="nope", workspace=ws.root)


def test_a_remote_with_packs_serves_as_a_clones_own_store(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team may point MONOLOOP_STORE_URL at the shared directory it pushes to: checkout,
    open and gc then meet packed objects in the local store."""
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    tree = fill(ws.root, 30)
    data.add(tree, workspace=ws.root)
    data.push(workspace=ws.root)
    assert list((remote / "packs").glob("*.pack"))
    clone = clone_of(ws, tmp_path)
    monkeypatch.setenv("MONOLOOP_STORE_URL", f"file://{remote}")
    done = data.checkout(workspace=clone)
    assert len(done.written) == 30
    assert same_tree(tree, clone / "data" / "set")
    with data.open(clone / "data" / "set" / "s1" / "1.bin", workspace=clone) as f:
        assert f.read() == (tree / "s1" / "1.bin").read_bytes()
    # Nothing references the data any more (gc once failed on the deleted pointer file).
    (clone / "data" / "set.loop").unlink()
    git(clone, "commit", "-q", "-am", "drop the data")
    old = time.time() - 7200  # past gc's grace period
    for path in remote.rglob("*"):
        os.utime(path, (old, old))
    result = data.gc(workspace=clone)
    # The manifest (loose) and the pack, whole, since nothing in it is referenced.
    assert len(result.removed) == 31
    assert list((remote / "packs").iterdir()) == []


def test_pull_keeps_packs_whole_and_checks_out_from_them(ws: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    tree = fill(ws.root, 60)
    data.add(tree, workspace=ws.root)
    data.push(workspace=ws.root)
    clone = clone_of(ws, tmp_path)
    pulled = data.pull(workspace=clone)
    assert pulled.transferred == 61 and same_tree(tree, clone / "data" / "set")
    local = LocalStore(clone / ".monoloop" / "objects")
    assert len(list((local.root / "packs").glob("*.pack"))) == 1  # one file, not 60
    assert local.fsck().ok and local.fsck().checked == 61
    shutil.rmtree(clone / "data" / "set")
    done = data.checkout(workspace=clone)  # from the kept pack, verified
    assert len(done.written) == 60 and same_tree(tree, clone / "data" / "set")
    assert data.pull(workspace=clone).transferred == 0
    # The clone pushes what it holds in packs on to another remote.
    set_remote(clone, f"file://{tmp_path / 'second'}")
    assert data.push(workspace=clone).transferred == 61
    assert LocalStore(tmp_path / "second").fsck().checked == 61
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(clone), str(other))
    from monoloop.workspace import init_workspace

    init_workspace(other)
    set_remote(other, f"file://{tmp_path / 'second'}")  # not the first remote
    assert data.pull(workspace=other).transferred == 61
    assert same_tree(tree, other / "data" / "set")
    # gc keeps a pack something references, whatever its age.
    old = time.time() - 7200
    for path in local.root.rglob("*"):
        os.utime(path, (old, old))
    assert data.gc(workspace=clone).removed == []
    assert local.in_packs(local.packed_ids()) and same_tree(tree, clone / "data" / "set")


def test_pull_of_a_few_files_from_a_big_pack_takes_only_those(
    ws: Workspace, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    big = fill(ws.root, 60)
    small = ws.root / "data" / "small"
    small.mkdir()
    for i in range(3):
        (small / f"{i}.txt").write_bytes((big / "s0" / f"{4 * i}.bin").read_bytes())
    data.add(big, workspace=ws.root)
    data.push(workspace=ws.root)
    data.add(small, workspace=ws.root)
    data.push(workspace=ws.root)  # its 3 objects are in the big pack already
    clone = clone_of(ws, tmp_path)
    (clone / "data" / "set.loop").unlink()  # this clone wants only the small directory
    data.pull(workspace=clone)
    local = LocalStore(clone / ".monoloop" / "objects")
    assert not (local.root / "packs").exists()  # 3 of 60: taken out, not the whole pack
    assert sorted(p.name for p in (clone / "data" / "small").iterdir()) == [
        "0.txt",
        "1.txt",
        "2.txt",
    ]
    assert local.fsck().ok


def _object_file(store_root: Path, content_id: str) -> Path:
    digest = content_id.removeprefix("b3:")
    return store_root / digest[:2] / digest[2:]


def test_a_remote_on_the_same_file_system_shares_objects_by_hard_link(
    ws: Workspace, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    set_remote(ws.root, f"file://{remote}")
    tree = fill(ws.root, 40, big_mib=2)  # 40 small objects (a pack) and one loose one
    data.add(tree, workspace=ws.root)
    local = LocalStore(ws.root / ".monoloop" / "objects")
    big_id = next(e.id for e in local.read_manifest(_tree_id(ws)).entries if e.size > 1 << 20)
    assert data.push(workspace=ws.root).transferred == 42
    [pack] = (local.root / "packs").glob("*.pack")
    pushed_pack = remote / "packs" / pack.name
    assert pushed_pack.stat().st_ino == pack.stat().st_ino
    big = _object_file(remote, big_id)
    assert big.stat().st_ino == _object_file(local.root, big_id).stat().st_ino

    clone = clone_of(ws, tmp_path)
    assert data.pull(workspace=clone).transferred == 42
    assert same_tree(tree, clone / "data" / "set")
    cloned = LocalStore(clone / ".monoloop" / "objects")
    assert (cloned.root / "packs" / pack.name).stat().st_ino == pack.stat().st_ino
    assert big.stat().st_nlink == 3  # this store, the remote, the clone's store
    assert (clone / "data" / "set" / "big.bin").stat().st_nlink == 1  # a copy to edit
    assert cloned.fsck().ok

    # --no-hardlinks copies; and a damaged object is never linked, nor copied, onward.
    copied = tmp_path / "copied"
    set_remote(clone, f"file://{copied}")
    assert data.push(workspace=clone, hardlinks=False).transferred == 42
    assert (copied / "packs" / pack.name).stat().st_ino != pack.stat().st_ino
    assert _object_file(copied, big_id).stat().st_nlink == 1
    # A damaged pack is refused before anything is linked to it.
    damaged = copied / "packs" / pack.name
    damaged.chmod(0o644)
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    other = clone_of(ws, tmp_path, "other")
    set_remote(other, f"file://{copied}")
    with pytest.raises(CorruptObject, match="pack"):
        data.pull(workspace=other)
    assert not (other / ".monoloop" / "objects" / "packs").exists() or not any(
        (other / ".monoloop" / "objects" / "packs").iterdir()
    )
    assert damaged.stat().st_nlink == 1
    mine = _object_file(cloned.root, big_id)
    os.unlink(mine)  # this clone's own link, so the shared bytes are not touched
    mine.write_bytes(b"not the bytes of that id")
    set_remote(clone, f"file://{tmp_path / 'third'}")
    with pytest.raises(CorruptObject, match=big_id):
        data.push(workspace=clone)
    assert not _object_file(tmp_path / "third", big_id).exists()
    assert big.read_bytes() == (tree / "big.bin").read_bytes()


def test_a_remote_on_another_file_system_gets_copies(ws: Workspace, tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own, to make links fail (EXDEV)")
    remote = Path(tempfile.mkdtemp(dir=shm, prefix="monoloop-test-remote-"))
    try:
        set_remote(ws.root, f"file://{remote}")
        tree = fill(ws.root, 20, big_mib=2)
        data.add(tree, workspace=ws.root)
        assert data.push(workspace=ws.root).transferred == 22
        assert all(p.stat().st_nlink == 1 for p in remote.rglob("*") if p.is_file())
        clone = clone_of(ws, tmp_path)
        assert data.pull(workspace=clone).transferred == 22
        assert same_tree(tree, clone / "data" / "set")
        assert LocalStore(remote).fsck().ok
    finally:
        shutil.rmtree(remote, ignore_errors=True)


def _tree_id(ws: Workspace) -> str:
    from monoloop.data import pointer

    return pointer.read(ws.root / "data" / "set.loop").id
