"""Data versioning end to end, on real Git repositories and both metadata databases."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import monoloop.data as data
from monoloop.audit import service as audit
from monoloop.data import pointer
from monoloop.data.context import DataContext
from monoloop.data.state import status as raw_status
from monoloop.errors import Conflict, InvalidInput, NotFound, PathOutsideRoot
from monoloop.workspace import Workspace


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def make_tree(root: Path, n: int = 20, *, seed: str = "") -> Path:
    d = root / "data" / "events"
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sub = d / f"part{i % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{i:03d}.txt").write_text(f"event {i} {seed}\n" * (i + 1))
    return d


def age(path: Path, seconds: int = 10) -> None:
    """Backdate files so the stat cache trusts them (it distrusts files younger than a tick)."""
    targets = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in targets:
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns - seconds * 10**9, st.st_mtime_ns - seconds * 10**9))


def states(ws: Workspace) -> dict[str, str]:
    return {s.path: s.state for s in data.status(workspace=ws.root)}


def test_add_file_writes_pointer_gitignore_and_event(ws: Workspace) -> None:
    csv = ws.root / "data" / "raw.csv"
    csv.parent.mkdir()
    csv.write_text("a,b\n1,2\n")
    [added] = data.add(csv, workspace=ws.root)
    ptr = pointer.read(ws.root / "data" / "raw.csv.loop")
    assert (ptr.kind, ptr.size, ptr.files, ptr.id) == ("file", 8, 1, added.id)
    assert ws.objects.get(added.id) == b"a,b\n1,2\n"
    assert "/raw.csv" in (ws.root / "data" / ".gitignore").read_text().splitlines()
    assert git(ws.root, "check-ignore", "data/raw.csv").strip() == "data/raw.csv"
    events = audit.log(ws, audit.EventFilter(kind="data.add"))
    assert [e.subject for e in events] == ["data/raw.csv"]
    again = data.add(csv, workspace=ws.root)
    assert not again[0].changed
    assert len(audit.log(ws, audit.EventFilter(kind="data.add"))) == 1


def test_add_directory_and_status(ws: Workspace) -> None:
    tree = make_tree(ws.root)
    [added] = data.add(tree, workspace=ws.root)
    assert added.kind == "dir" and added.files == 20
    manifest = ws.objects.read_manifest(added.id)
    assert [e.path for e in manifest.entries][:2] == ["part0/f000.txt", "part0/f003.txt"]
    assert states(ws) == {"data/events": "unchanged"}

    (tree / "part1" / "f001.txt").write_text("changed\n")
    (tree / "part2" / "new.txt").write_text("new\n")
    (tree / "part0" / "f000.txt").unlink()
    [st] = data.status(workspace=ws.root, verbose=True)
    assert st.state == "modified"
    assert {(f.path, f.change) for f in st.files} == {
        ("part1/f001.txt", "modified"),
        ("part2/new.txt", "added"),
        ("part0/f000.txt", "deleted"),
    }
    import shutil

    shutil.rmtree(tree)
    assert states(ws) == {"data/events": "missing"}


def test_stat_cache_means_unchanged_files_are_not_reread(ws: Workspace) -> None:
    tree = make_tree(ws.root)
    age(tree)
    data.add(tree, workspace=ws.root)
    ctx = DataContext.of(ws)
    try:
        [first] = raw_status(ctx)
        assert first.hashed == 0, "add filled the cache"
        target = tree / "part1" / "f004.txt"
        st = target.stat()
        # Same bytes, new mtime: hashed once, then cached again.
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns - 5 * 10**9))
        [second] = raw_status(ctx)
        assert second.state == "unchanged" and second.hashed == 1
        [third] = raw_status(ctx)
        assert third.hashed == 0
        target.write_text("different bytes, same size?\n")
        age(target)
        [fourth] = raw_status(ctx)
        assert fourth.state == "modified" and fourth.hashed == 1
    finally:
        ctx.close()


def test_directory_listing_cache_still_sees_every_change(ws: Workspace) -> None:
    """A no-op status answers from one digest of the directory listing; anything a stat
    shows (bytes rewritten with the mtime put back, files added or removed) misses it."""
    tree = make_tree(ws.root)
    age(tree)
    data.add(tree, workspace=ws.root)
    ctx = DataContext.of(ws)

    def check() -> tuple[str, int]:
        [found] = raw_status(ctx)
        return found.state, found.hashed

    try:
        assert check() == ("unchanged", 0)
        target = tree / "part1" / "f001.txt"
        before = target.stat()
        original = target.read_bytes()
        target.write_bytes(original.upper())  # same size
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime restored
        assert check() == ("modified", 1)
        [verbose] = raw_status(ctx, verbose=True)  # the listing is cached by now
        assert [(f.path, f.change) for f in verbose.files] == [("part1/f001.txt", "modified")]
        target.write_bytes(original)
        age(target)
        assert check() == ("unchanged", 1)
        assert check() == ("unchanged", 0)
        (tree / "part0" / "extra.txt").write_text("x\n")
        assert check()[0] == "modified"
        (tree / "part0" / "extra.txt").unlink()
        assert check() == ("unchanged", 0)
        (tree / "part2" / "f002.txt").unlink()
        assert check()[0] == "modified"
    finally:
        ctx.close()


def test_young_files_are_rehashed_not_trusted(ws: Workspace) -> None:
    csv = ws.root / "x.csv"
    csv.write_text("1\n")
    data.add(csv, workspace=ws.root)
    ctx = DataContext.of(ws)
    try:
        # Written just now: a same-tick rewrite could keep its stat, so it is re-read.
        assert raw_status(ctx)[0].hashed == 1
    finally:
        ctx.close()


def test_diff_between_commits(ws: Workspace) -> None:
    tree = make_tree(ws.root)
    data.add(tree, workspace=ws.root)
    commit(ws.root, "v1")
    (tree / "part1" / "f001.txt").write_text("v2\n")
    (tree / "part0" / "added.txt").write_text("hello\n")
    extra = ws.root / "data" / "labels.csv"
    extra.write_text("y\n1\n")
    data.add(tree, extra, workspace=ws.root)
    commit(ws.root, "v2")
    changes = {d.path: d for d in data.diff("HEAD~1", "HEAD", workspace=ws.root)}
    assert changes["data/labels.csv"].change == "added"
    events = changes["data/events"]
    assert events.change == "modified"
    assert {(f.path, f.change) for f in events.files} == {
        ("part1/f001.txt", "modified"),
        ("part0/added.txt", "added"),
    }
    assert events.to_dict()["size_change"] == len("hello\n") + len("v2\n") - len("event 1 \n" * 2)
    assert data.diff(workspace=ws.root) == []  # HEAD vs working tree pointers
    with pytest.raises(NotFound):
        data.diff("no-such-rev", workspace=ws.root)


def remote_config(root: Path, url: str) -> None:
    config = root / "monoloop.yaml"
    config.write_text(
        config.read_text()
        .replace("remotes: {}", f"remotes:\n  origin: {url}")
        .replace("default_remote: null", "default_remote: origin")
    )


def test_round_trip_through_a_remote(
    ws: Workspace, tmp_path: Path, workspace_env: dict[str, str]
) -> None:
    from monoloop.workspace import init_workspace

    remote_dir = tmp_path / "remote"
    remote_config(ws.root, f"file://{remote_dir}")
    tree = make_tree(ws.root, 30)
    big = ws.root / "data" / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    data.add(tree, big, workspace=ws.root)
    commit(ws.root, "data")
    pushed = data.push(workspace=ws.root)
    assert pushed.transferred == 30 + 1 + 1 and not pushed.missing
    # The pack `data add` made travels whole: the remote holds the very same files.
    local_packs = sorted(p.name for p in (ws.objects.root / "packs").iterdir())
    assert len(local_packs) == 2  # a pack and its index
    assert sorted(p.name for p in (remote_dir / "packs").iterdir()) == local_packs
    assert {s.path: s.pushed for s in data.status(workspace=ws.root)} == {
        "data/big.bin": True,
        "data/events": True,
    }
    assert data.push(workspace=ws.root).transferred == 0

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(ws.root), str(clone))
    init_workspace(clone, env=workspace_env)
    assert {s.state for s in data.status(workspace=clone)} == {"missing"}
    pulled = data.pull(workspace=clone)
    assert pulled.transferred == 32 and not pulled.missing
    assert (clone / "data" / "big.bin").read_bytes() == big.read_bytes()
    for original in tree.rglob("*.txt"):
        copy = clone / original.relative_to(ws.root)
        assert copy.read_bytes() == original.read_bytes()
    assert {s.state for s in data.status(workspace=clone)} == {"unchanged"}


def test_checkout_remembers_what_it_wrote_so_status_does_not_rehash(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monoloop.data import statcache
    from monoloop.data.statcache import StatCache

    # A test writes its files within the cache's racy margin of reading the clock, which
    # would rightly keep every one of them out: no margin here.
    monkeypatch.setattr(statcache, "RACY_MARGIN_NS", 0)
    tree = make_tree(ws.root, 12)
    [added] = data.add(tree, workspace=ws.root)
    ids = {f"data/events/{e.path}": e.id for e in ws.objects.read_manifest(added.id).entries}
    import shutil

    shutil.rmtree(tree)
    (ws.root / ".monoloop" / "statcache.db").unlink()
    done = data.checkout(workspace=ws.root)
    assert len(done.written) == 12
    remembered = StatCache(ws.root / ".monoloop").under("data/events")
    assert {path: cid for path, (_, cid) in remembered.items()} == ids
    for path, (st, _) in remembered.items():
        assert st == statcache.Stat.of(os.lstat(ws.root / path))
    # A file changed after the checkout is still seen: its stat no longer matches.
    (tree / "part1" / "f001.txt").write_text("changed\n")
    assert states(ws) == {"data/events": "modified"}


def test_a_new_directory_is_checked_out_whole_and_stale_staging_is_cleared(
    ws: Workspace,
) -> None:
    import shutil

    tree = make_tree(ws.root, 20)
    originals = {p.relative_to(tree): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    data.add(tree, workspace=ws.root)
    shutil.rmtree(tree)
    parent = tree.parent
    # Left by checkouts that were killed (a pid no process has) or are running (ours).
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = parent / f".events.{dead.pid}-0000.monoloop-tmp"
    running = parent / f".events.{os.getpid()}-1111.monoloop-tmp"
    for where in (stale, running):
        (where / "part0").mkdir(parents=True)
        (where / "part0" / "half.txt").write_text("half")
    done = data.checkout(workspace=ws.root)
    assert len(done.written) == 20
    assert {p.relative_to(tree): p.read_bytes() for p in tree.rglob("*") if p.is_file()} == (
        originals
    )
    assert not stale.exists() and running.exists()
    assert sorted(p.name for p in parent.iterdir()) == [
        running.name,
        ".gitignore",
        "events",
        "events.loop",
    ]
    # An existing directory is updated in place, file by file, leaving no temp file.
    (tree / "part1" / "f001.txt").unlink()
    assert data.checkout(workspace=ws.root).written == ["data/events/part1/f001.txt"]
    assert not [p for p in tree.rglob("*monoloop-tmp*")]


def test_checkout_never_discards_unsaved_changes(ws: Workspace) -> None:
    csv = ws.root / "data.csv"
    csv.write_text("v1\n")
    data.add(csv, workspace=ws.root)
    commit(ws.root, "v1")
    csv.write_text("unsaved edit\n")
    with pytest.raises(Conflict) as info:
        data.checkout(workspace=ws.root)
    assert "data.csv" in info.value.message and "--force" in (info.value.hint or "")
    assert csv.read_text() == "unsaved edit\n"
    data.checkout(force=True, workspace=ws.root)
    assert csv.read_text() == "v1\n"
    # A version that is saved in the store may be replaced without --force.
    csv.write_text("v2\n")
    data.add(csv, workspace=ws.root)
    commit(ws.root, "v2")
    data.checkout(rev="HEAD~1", workspace=ws.root)
    assert csv.read_text() == "v1\n"
    assert os.access(csv, os.W_OK), "a checked-out copy is the user's to edit"


def test_checkout_restores_deleted_files_and_removes_saved_extras(ws: Workspace) -> None:
    tree = make_tree(ws.root, 6)
    data.add(tree, workspace=ws.root)
    (tree / "part0" / "f000.txt").unlink()
    done = data.checkout(workspace=ws.root)
    assert done.written == ["data/events/part0/f000.txt"]
    extra = tree / "part0" / "scratch.txt"
    extra.write_text("mine\n")
    with pytest.raises(Conflict):
        data.checkout(workspace=ws.root)
    assert extra.exists()


def test_checkout_copies_or_links_whole_files(ws: Workspace) -> None:
    """Copies are the user's own files (umask applies); --link shares the store's read-only
    object; either way nothing but the target appears in the directory."""
    tree = make_tree(ws.root, 4)
    data.add(tree, workspace=ws.root)
    target = tree / "part1" / "f001.txt"
    expected = target.read_bytes()
    target.unlink()
    done = data.checkout(workspace=ws.root)
    assert done.method == "copy" and done.written == ["data/events/part1/f001.txt"]
    st = target.stat()
    assert target.read_bytes() == expected and st.st_nlink == 1
    umask = os.umask(0)
    os.umask(umask)
    assert st.st_mode & 0o777 == 0o666 & ~umask
    target.unlink()
    assert data.checkout(workspace=ws.root, link=True).method == "link"
    object_path = ws.objects.object_path(pointer_id_of(ws, "data/events", "part1/f001.txt"))
    assert os.path.samefile(target, object_path) and target.stat().st_mode & 0o222 == 0
    assert [p.name for p in target.parent.iterdir()] == ["f001.txt"]


def pointer_id_of(ws: Workspace, rel: str, inner: str) -> str:
    manifest = ws.objects.read_manifest(pointer.read(ws.root / f"{rel}.loop").id)
    return next(e.id for e in manifest.entries if e.path == inner)


def test_open_reads_any_revision(ws: Workspace) -> None:
    tree = make_tree(ws.root, 4)
    data.add(tree, workspace=ws.root)
    commit(ws.root, "v1")
    (tree / "part1" / "f001.txt").write_text("v2\n")
    data.add(tree, workspace=ws.root)
    commit(ws.root, "v2")
    with data.open("data/events/part1/f001.txt", rev="HEAD~1", workspace=ws.root) as f:
        assert f.read() == b"event 1 \n" * 2
    with data.open("data/events/part1/f001.txt", workspace=ws.root) as f:
        assert f.read() == b"v2\n"
    with pytest.raises(NotFound):
        data.open("data/events/nope.txt", workspace=ws.root)


def test_gc_removes_only_unreferenced(ws: Workspace) -> None:
    from monoloop.data import service

    csv = ws.root / "d.csv"
    csv.write_text("v1\n")
    [v1] = data.add(csv, workspace=ws.root)
    commit(ws.root, "v1")
    csv.write_text("v2\n")
    [v2] = data.add(csv, workspace=ws.root)
    commit(ws.root, "v2")
    csv.write_text("v3 uncommitted\n")
    [v3] = data.add(csv, workspace=ws.root)
    stray = ws.objects.put_bytes(b"nobody refers to me")
    dry = service.gc(ws, dry_run=True, grace_seconds=0)
    assert set(dry.removed) == {v1.id, stray} and ws.objects.exists(stray)
    kept_history = service.gc(ws, all_commits=True, grace_seconds=0)
    assert kept_history.removed == [stray]
    assert ws.objects.exists(v1.id)
    done = service.gc(ws, grace_seconds=0)
    assert done.removed == [v1.id]
    assert ws.objects.exists(v2.id) and ws.objects.exists(v3.id)
    assert [e.kind for e in audit.log(ws, audit.EventFilter(kind="data.gc"))] == ["data.gc"] * 2
    young = service.gc(ws)
    assert young.removed == []


def test_add_packs_small_files_and_gc_repacks_a_partly_dead_pack(ws: Workspace) -> None:
    from monoloop.data import service
    from monoloop.store import packs

    tree = make_tree(ws.root, 40)
    originals = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    [v1] = data.add(tree, workspace=ws.root)
    entries = ws.objects.read_manifest(v1.id).entries
    ids = {e.id for e in entries}
    # One pack for the 40 objects; only the manifest is a file of its own.
    assert len(ws.objects.pack_members()) == 1
    assert set(ws.objects.iter_loose()) == {v1.id}
    assert ws.objects.present(ids) == ids
    assert states(ws) == {"data/events": "unchanged"}
    for path in list(originals)[:3]:
        path.unlink()
    data.checkout(workspace=ws.root)
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == originals
    commit(ws.root, "v1")

    # 30 of the 40 change: their new objects make a second pack; v1's pack is 3/4 dead.
    changed = sorted(originals)[:30]
    for path in changed:
        path.write_text(f"v2 of {path.name}\n" * 50)
    [v2] = data.add(tree, workspace=ws.root)
    commit(ws.root, "v2")
    live = {e.id for e in ws.objects.read_manifest(v2.id).entries}
    dead = ids - live
    assert len(dead) == 30 and len(ws.objects.pack_members()) == 2
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}

    dry = service.gc(ws, dry_run=True, grace_seconds=0)
    assert set(dry.removed) == dead | {v1.id}
    assert ws.objects.present(ids) == ids  # a dry run changes nothing
    done = service.gc(ws, grace_seconds=0)
    assert set(done.removed) == dead | {v1.id}
    assert done.freed_bytes >= sum(e.size for e in entries if e.id in dead)
    assert ws.objects.present(ids | live) == live
    # The 10 survivors were too few for a pack: they are loose now, and v1's pack is gone.
    assert len(ws.objects.pack_members()) == 1
    [v2_pack] = ws.objects.pack_members().values()
    assert live - set(ws.objects.iter_loose()) == set(v2_pack)
    assert ws.objects.fsck().ok
    import shutil

    shutil.rmtree(tree)
    data.checkout(workspace=ws.root)
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before
    assert not list((ws.objects.root / packs.DIR).glob("*.pack.*"))


def test_gc_leaves_a_few_dead_objects_in_a_pack_until_they_are_a_quarter(
    ws: Workspace,
) -> None:
    from monoloop.data import service

    tree = ws.root / "data" / "same"
    tree.mkdir(parents=True)
    for i in range(40):  # equal sizes: the share of bytes is the share of files
        (tree / f"f{i:02d}").write_bytes(os.urandom(1000))
    [v1] = data.add(tree, workspace=ws.root)
    commit(ws.root, "v1")
    [first_pack] = ws.objects.pack_members()

    def change(names: range, tag: str) -> set[str]:
        for i in names:
            (tree / f"f{i:02d}").write_bytes(os.urandom(1000))
        [version] = data.add(tree, workspace=ws.root)
        commit(ws.root, tag)
        return {e.id for e in ws.objects.read_manifest(version.id).entries}

    live = change(range(3), "v2")  # 3 of 40 dead: 7.5% of the pack
    kept = service.gc(ws, grace_seconds=0)
    assert kept.waiting_in_packs == 3 and set(kept.removed) == {v1.id}
    assert first_pack in ws.objects.pack_members()
    live = change(range(3, 10), "v3")  # 10 of 40 dead: 25%, rewritten now
    done = service.gc(ws, grace_seconds=0)
    assert done.waiting_in_packs == 0 and len(done.removed) == 10 + 1
    assert first_pack not in ws.objects.pack_members()
    assert ws.objects.present(live) == live and ws.objects.fsck().ok


def test_gc_removes_a_pack_its_writer_never_indexed(ws: Workspace) -> None:
    from monoloop.data import service
    from monoloop.store import packs

    tree = make_tree(ws.root, 20)
    data.add(tree, workspace=ws.root)
    where = ws.objects.root / packs.DIR
    orphan = where / (64 * "0" + packs.PACK_SUFFIX)  # killed before its index was written
    orphan.write_bytes(b"x" * 1000)
    assert str(orphan) in ws.objects.fsck().stray
    assert service.gc(ws).freed_bytes == 0 and orphan.exists()  # young: maybe still writing
    age(orphan, 7200)
    assert service.gc(ws, grace_seconds=3600).freed_bytes == 1000
    assert not orphan.exists() and ws.objects.fsck().ok
    assert states(ws) == {"data/events": "unchanged"}


def test_bad_paths_are_refused_before_anything_is_written(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("x\n")
    inside = ws.root / "ok.csv"
    inside.write_text("y\n")
    with pytest.raises(PathOutsideRoot):
        data.add(inside, outside, workspace=ws.root)
    assert not (ws.root / "ok.csv.loop").exists()
    loop = ws.root / "loopdir"
    loop.mkdir()
    (loop / "a").symlink_to(loop / "b")
    (loop / "b").symlink_to(loop / "a")
    with pytest.raises(InvalidInput, match="symbolic link"):
        data.add(loop, workspace=ws.root)
    with pytest.raises(NotFound):
        data.add(ws.root / "missing.csv", workspace=ws.root)
    with pytest.raises(InvalidInput, match="belongs to Git or monoloop"):
        data.add(ws.root / ".monoloop", workspace=ws.root)
    (ws.root / "tracked.txt").write_text("t\n")
    commit(ws.root, "t")
    with pytest.raises(InvalidInput, match="tracked by Git") as info:
        data.add(ws.root / "tracked.txt", workspace=ws.root)
    assert "git rm -r --cached tracked.txt" in (info.value.hint or "")
    assert list(ws.root.glob("*.loop")) == []


def test_links_and_pipes_deep_in_a_tracked_directory_are_named(ws: Workspace) -> None:
    tree = make_tree(ws.root)
    [added] = data.add(tree, workspace=ws.root)
    assert added.size == sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    link = tree / "part2" / "deeper" / "link.txt"
    link.parent.mkdir()
    link.symlink_to(tree / "part0" / "f000.txt")
    with pytest.raises(InvalidInput, match=f"{link} is a symbolic link"):
        data.status(workspace=ws.root)
    link.unlink()
    fifo = link.parent / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match=f"{fifo} is not a regular file"):
        data.add(tree, workspace=ws.root)


def test_garbage_pointer_is_a_clear_error(ws: Workspace) -> None:
    csv = ws.root / "d.csv"
    csv.write_text("1\n")
    data.add(csv, workspace=ws.root)
    (ws.root / "d.csv.loop").write_text("format: 1\nkind: file\nid: not-an-id\nsize: 2\nfiles: 1\n")
    with pytest.raises(pointer.PointerError) as info:
        data.status(workspace=ws.root)
    assert "d.csv.loop" in info.value.message and "git checkout" in (info.value.hint or "")
    (ws.root / "d.csv.loop").write_text("{{{ not yaml")
    with pytest.raises(pointer.PointerError, match="not valid YAML"):
        data.status(workspace=ws.root)


def test_checkout_refuses_a_manifest_that_escapes_its_directory(ws: Workspace) -> None:
    """A pulled manifest is anyone's: a path with '..' must not write outside the data."""
    from monoloop.canonical import canonical_json

    content = ws.objects.put_bytes(b"owned\n")
    manifest = canonical_json(
        {
            "format": "monoloop.manifest/1",
            "entries": [{"path": "../../escape.txt", "size": 6, "id": content}],
        }
    )
    bad = pointer.Pointer(ws.objects.put_bytes(manifest), "dir", 6, 1)
    (ws.root / "data").mkdir()
    (ws.root / "data" / "evil.loop").write_text(bad.to_text())
    with pytest.raises(PathOutsideRoot):
        data.checkout(workspace=ws.root)
    assert not (ws.root / "escape.txt").exists()
    assert not (ws.root / "data" / "evil").exists()


def test_gc_keeps_what_runs_refer_to(ws: Workspace) -> None:
    from monoloop.data import service
    from monoloop.tracking import service as tracking

    model = ws.root / "model.bin"
    model.write_bytes(b"weights")
    run_id = tracking.create_run(ws, name="keep-me")
    artifact = tracking.log_artifact(ws, run_id, model)
    tracking.finish_run(ws, run_id)
    stray = ws.objects.put_bytes(b"nobody")
    done = service.gc(ws, grace_seconds=0)
    assert done.removed == [stray]
    assert ws.objects.exists(artifact)


def test_gc_keeps_model_versions_and_the_prediction_log(ws: Workspace) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from monoloop.data import service
    from monoloop.predictions import log
    from monoloop.registry.export import export_version
    from monoloop.registry.service import register_model

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    model = LogisticRegression().fit(frame[["x"]], frame.y)
    mv = register_model(ws, "m", model, sample_input=frame[["x"]], holdout=frame, target="y")
    exported = export_version(ws, mv.ref).object_id
    logged = log.append(
        ws,
        "api",
        pd.DataFrame(
            {"request_id": ["r1"], "time": [1.7e9], "deployment": ["api"], "model": ["m"],
             "version": [1], "role": ["primary"], "latency_ms": [1.0], "in.x": [1.0]}
        ),
    )  # fmt: skip
    stray = ws.objects.put_bytes(b"nobody")
    done = service.gc(ws, grace_seconds=0)
    assert done.removed == [stray]
    kept = [mv.object_id, mv.card_id, mv.profile_id, mv.holdout_id, mv.companion_id, exported]
    for oid in [*kept, *logged]:
        assert oid is not None and ws.objects.exists(oid)
