"""Kill a writer with SIGKILL at random points: the store must hold only whole objects.

Each run forks a child that keeps putting objects (put_bytes of a few bytes up to a few MB,
put_files batches of small files, loose or packed, now and then a large file that takes
the copy path) into one shared store, and kills it after a random delay. After every kill,
every visible object must verify, and fsck must remove the dead writer's temp files.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import pytest

from monoloop.store import packs
from monoloop.store.fsio import SMALL_FILE
from monoloop.store.local import LocalStore

RUNS = 100


def temp_files(root: Path) -> list[Path]:
    return [path for path in (root / "tmp").rglob("*") if path.is_file()]


def writer(root: str, sources: list[str], big: str, seed: int) -> None:
    rng = random.Random(seed)
    store = LocalStore(root)
    serial = 0
    while True:
        serial += 1
        roll = rng.random()
        tag = f"{seed}-{serial}-".encode()
        if roll < 0.45:
            size = rng.choice([0, 10, 3000, 70_000, 1 << 20, 3 << 20])
            store.put_bytes(tag + rng.randbytes(size))
        elif roll < 0.95:
            batch = rng.sample(sources, rng.randint(2, len(sources)))
            for path in batch[:3]:  # fresh content, so the batch really writes something
                Path(path).write_bytes(tag + rng.randbytes(rng.randint(0, 20_000)))
            store.put_files(batch, pack=rng.random() < 0.5)  # packs need 16 or more
        else:
            with open(big, "r+b") as out:
                out.write(tag)
            store.put_file(big)


@pytest.mark.slow
def test_sigkill_never_leaves_partial_objects(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    LocalStore(root).prepare()
    source_dir = tmp_path / "sources"
    source_dir.mkdir()
    sources = []
    for i in range(40):
        path = source_dir / f"s{i}.bin"
        path.write_bytes(os.urandom(2000 + i * 300))
        sources.append(str(path))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(SMALL_FILE + 1))
    ctx = mp.get_context("fork")  # no re-import in the child: a run costs milliseconds
    rng = random.Random(20240601)
    seen_temps = 0
    started = time.monotonic()
    for run in range(RUNS):
        child = ctx.Process(target=writer, args=(str(root), sources, str(big), run), daemon=True)
        child.start()
        time.sleep(rng.uniform(0.002, 0.08))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL, f"run {run}: the writer died on its own"
        seen_temps += len(temp_files(root))
        report = LocalStore(root).fsck()
        assert report.corrupt == [], f"run {run}: partial or corrupt objects are visible"
        # A pack killed between its rename and its index is the one stray allowed: no
        # index names it, so nothing in it is visible (gc removes it after its grace).
        assert all(p.endswith(packs.PACK_SUFFIX) for p in report.stray), report.stray
        assert temp_files(root) == [], f"run {run}: fsck left temp files"
    store = LocalStore(root)
    objects = list(store.iter())
    assert len(objects) > RUNS, "the writer hardly wrote anything; the test proves nothing"
    assert seen_temps > 0, "no kill ever landed mid-write; the test proves nothing"
    assert time.monotonic() - started < 120
