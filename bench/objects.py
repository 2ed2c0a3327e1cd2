"""Object store throughput on the local backend, against the floors on the same bytes.

Prints one JSON line. Floors: multi-threaded BLAKE3 of the big file (hash_file) and a plain
shutil.copyfile (no fsync). Puts and gets are durable (fsync/syncfs) and verified.
Every source file is warm in the page cache for floors and puts alike, and os.sync() runs
before each timed step so no step pays for another's dirty pages. Each step is timed
--repeat times on a fresh store and the best time is reported.

    python bench/objects.py [--size-mib 1024] [--files 10000] [--dir /tmp] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monoloop.hashing import hash_file
from monoloop.store.local import LocalStore

MIB = 1 << 20
SMALL_SIZE = 10 * 1024


def best_of(repeat: int, setup: Callable[[], None], step: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        setup()
        os.sync()
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def make_big(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n
            block = block[1:] + block[:1]  # keep chunks distinct without paying urandom
    path.read_bytes() if size <= 64 * MIB else hash_file(path)  # warm the page cache


def make_small(where: Path, count: int) -> list[Path]:
    where.mkdir(parents=True)
    seed = os.urandom(SMALL_SIZE)
    paths = []
    for i in range(count):
        path = where / f"f{i:06d}.bin"
        path.write_bytes(i.to_bytes(8, "little") + seed[8:])
        paths.append(path)
    return paths


def run(base: Path, size_mib: int, files: int, repeat: int) -> dict[str, object]:
    big = base / "big.bin"
    size = size_mib * MIB
    make_big(big, size)
    small = make_small(base / "small", files)
    store_dir = base / "store"
    out = base / "out"

    def fresh_store() -> None:
        shutil.rmtree(store_dir, ignore_errors=True)

    def clear_out() -> None:
        shutil.rmtree(out, ignore_errors=True)
        copy_target.unlink(missing_ok=True)

    copy_target = base / "copy.bin"
    hash_s = best_of(repeat, lambda: None, lambda: hash_file(big))
    copy_s = best_of(repeat, clear_out, lambda: shutil.copyfile(big, copy_target))
    clear_out()

    put_s = best_of(repeat, fresh_store, lambda: LocalStore(store_dir).put_file(big))
    big_id = LocalStore(store_dir).put_file(big)
    get_s = best_of(
        repeat, clear_out, lambda: LocalStore(store_dir).get_file(big_id, out / "big.bin")
    )
    clear_out()

    def small_copy() -> None:
        out.mkdir()
        for path in small:
            shutil.copyfile(path, out / path.name)

    small_copy_s = best_of(repeat, clear_out, small_copy)
    put_small_s = best_of(repeat, fresh_store, lambda: LocalStore(store_dir).put_files(small))
    ids = LocalStore(store_dir).put_files(small)
    items = [(cid, out / path.name) for cid, path in zip(ids, small, strict=True)]
    get_small_s = best_of(repeat, clear_out, lambda: LocalStore(store_dir).get_files(items))

    mb = size / 1e6
    return {
        "bench": "objects",
        "backend": "local",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "dir": str(base),
        "repeat": repeat,
        "cache": "sources warm in page cache for floors and puts; os.sync() before each step",
        "durability": "put/get fsync (1 file) or syncfs barriers (batch); floors do not fsync",
        "big_mib": size_mib,
        "hash_floor_s": round(hash_s, 3),
        "hash_floor_mb_s": round(mb / hash_s),
        "copy_floor_s": round(copy_s, 3),
        "copy_floor_mb_s": round(mb / copy_s),
        "put_big_s": round(put_s, 3),
        "put_big_mb_s": round(mb / put_s),
        "get_big_s": round(get_s, 3),
        "get_big_mb_s": round(mb / get_s),
        "put_big_vs_floor": round(put_s / (hash_s + copy_s), 3),
        "small_files": files,
        "small_kib": SMALL_SIZE // 1024,
        "small_copy_floor_s": round(small_copy_s, 3),
        "small_copy_floor_files_s": round(files / small_copy_s),
        "put_small_s": round(put_small_s, 3),
        "put_small_files_s": round(files / put_small_s),
        "get_small_s": round(get_small_s, 3),
        "get_small_files_s": round(files / get_small_s),
        "targets_met": {
            "put_big_within_1_4x_floor": put_s <= 1.4 * (hash_s + copy_s),
            "put_small_ge_10k_files_s": files / put_small_s >= 10_000,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--dir", default=None, help="parent directory for the scratch files")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="monoloop-bench-", dir=args.dir))
    try:
        result = run(base, args.size_mib, args.files, max(1, args.repeat))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
