"""The stat walk under data status and add: the same files in the same order, shared or not."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from monoloop.data import scan
from monoloop.errors import InvalidInput

MAY_FORK = scan._may_fork  # the module's own, which the fixture below replaces
needs_fork = pytest.mark.skipif(sys.platform != "linux", reason="the walk is shared only by fork")


@pytest.fixture(autouse=True)
def single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a CLI process. Earlier tests in the same pytest process may have left threads
    running, which would keep the walk from forking (see the test just below)."""
    monkeypatch.setattr(scan, "_may_fork", lambda: sys.platform == "linux")


def test_a_process_with_other_threads_does_not_fork() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not MAY_FORK()
    finally:
        stop.set()
        other.join()


def make_tree(root: Path) -> Path:
    """Files at every depth, directories of uneven sizes, a level of fewer than SHARE_MIN."""
    top = root / "tree"
    (top / "a" / "b").mkdir(parents=True)
    (top / "top.txt").write_text("top\n")
    (top / "a" / "mid.txt").write_text("mid\n")
    for i in range(3 * scan.SHARE_MIN):
        sub = top / "a" / "b" / f"d{i:02d}"
        (sub / "deep").mkdir(parents=True)
        for j in range(i % 5):
            (sub / f"f{j}").write_bytes(b"x" * j)
            (sub / "deep" / f"g{j}").write_bytes(b"y" * i)
    (top / "a" / "empty").mkdir()
    return top


def stats_of(top: Path) -> list[scan.File]:
    found = []
    for path in top.rglob("*"):
        if path.is_file():
            st = path.lstat()
            rel = path.relative_to(top).as_posix()
            found.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return found


@needs_fork
def test_shared_walk_finds_the_same_files_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = make_tree(tmp_path)
    alone = scan.walk(top)
    assert sorted(alone) == sorted(stats_of(top))
    forks = []
    fork = os.fork

    def counted() -> int:
        pid = fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    assert scan.walk(top, share=True) == alone
    assert len(forks) == 2
    # The helpers' shares stay as the bytes they sent until the files are asked for.
    shared = scan._walk_tree(top, share=True)
    assert shared.count() == len(alone)
    assert shared.digest() == scan.listing_digest(alone)
    assert shared.files() == alone
    assert shared.digest() == scan.listing_digest(alone)
    kind, files = scan.files_of(top, expected=scan.SHARE_FILES)
    assert (kind, files) == ("dir", alone)


@needs_fork
def test_a_link_in_the_helpers_share_is_refused_by_name(tmp_path: Path) -> None:
    top = make_tree(tmp_path)
    dealt = list((top / "a" / "b").iterdir())
    for where in dealt:  # every directory dealt out, so both walkers' shares
        link = where / "deep" / "link"
        link.symlink_to(top / "top.txt")
        with pytest.raises(InvalidInput, match=f"{link} is a symbolic link"):
            scan.walk(top, share=True)
        link.unlink()
        fifo = where / "pipe"
        os.mkfifo(fifo)
        with pytest.raises(InvalidInput, match=f"{fifo} is not a regular file"):
            scan.walk(top, share=True)
        fifo.unlink()


@needs_fork
def test_a_helper_that_dies_costs_time_not_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = make_tree(tmp_path)
    alone = scan.walk(top)
    helper = scan._helper
    started = []

    def second_dies(places: list[scan.Place], write_end: int, read_ends: list[int]) -> None:
        if len(read_ends) > 1:
            os._exit(1)
        helper(places, write_end, read_ends)

    monkeypatch.setattr(scan, "_helper", second_dies)
    assert scan.walk(top, share=True) == alone
    tree = scan._walk_tree(top, share=True)
    assert tree.digest() == scan.listing_digest(alone) and tree.count() == len(alone)
    fork = os.fork

    def no_second_fork() -> int:
        if started:
            raise BlockingIOError("Resource temporarily unavailable")
        started.append(1)
        return fork()

    monkeypatch.setattr(scan, "_helper", helper)
    monkeypatch.setattr(os, "fork", no_second_fork)
    assert scan.walk(top, share=True) == alone


def test_small_trees_and_shallow_trees_walk_alone(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(5):
        (flat / f"f{i}").write_text(str(i))
    assert scan.walk(flat, share=True) == scan.walk(flat)
    assert sorted(scan.walk(flat)) == sorted(stats_of(flat))
    (tmp_path / "empty").mkdir()
    assert scan.walk(tmp_path / "empty", share=True) == []


@needs_fork
def test_a_shared_scan_answers_from_the_listing_and_sees_changes_in_either_share(
    tmp_path: Path,
) -> None:
    from monoloop.data.statcache import StatCache

    top = make_tree(tmp_path)
    cache = StatCache(tmp_path / "state")
    future = time.time_ns() + 10**10  # everything written so far counts as settled

    def scanned() -> scan.Scan:
        found = scan.scan(top, "tree", cache, expected=scan.SHARE_FILES)
        cache.put(found.fresh, clock_ns=future)
        if found.listing is not None:
            cache.put_directory(found.listing, clock_ns=future)
        return found

    try:
        first = scanned()
        assert first.hashed == first.files == len(scan.walk(top))
        again = scanned()
        assert (again.id, again.hashed, again.manifest) == (first.id, 0, None)
        assert (again.files, again.size) == (first.files, first.size)
        for where in (top / "a" / "b").iterdir():  # in both walkers' shares
            target = where / "deep" / "g1"
            if not target.exists():
                continue
            before = target.stat()
            original = target.read_bytes()
            target.write_bytes(original.upper())  # same size, mtime put back
            os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
            changed = scanned()
            assert (changed.hashed, changed.id != first.id) == (1, True)
            target.write_bytes(original)
            assert scanned().id == first.id
    finally:
        cache.close()
