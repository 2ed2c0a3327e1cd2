"""Content ids of working-tree data, through the stat cache: unchanged files are never read.

A scan walks a tracked path once (lstat per file), takes ids from the stat cache where
the stat still matches, and hands only the misses to a `Hasher`: plain hashing for
`status`, hash-and-store for `add`.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from monoloop.data.statcache import Stat, StatCache
from monoloop.errors import InvalidInput, NotFound
from monoloop.hashing import hash_bytes, hash_file
from monoloop.store.objects import Manifest, ManifestEntry

# Given paths, return their ids in order (hashing, or hashing and storing).
Hasher = Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class FileInfo:
    rel: str  # relative to the scanned path ("" for a single file)
    path: str
    stat: Stat


@dataclass
class Scan:
    kind: str  # "file" | "dir"
    id: str
    size: int
    files: int
    manifest: Manifest | None  # for directories
    hashed: int  # how many files had to be read


def hash_only(paths: Sequence[str]) -> list[str]:
    if len(paths) < 8:
        return [hash_file(p) for p in paths]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        return list(pool.map(hash_file, paths, chunksize=64))


def lstat(path: Path) -> os.stat_result:
    try:
        return path.lstat()
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist", hint="check the path") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def walk(directory: Path) -> list[FileInfo]:
    """Regular files below `directory`, sorted by relative POSIX path; links are refused.

    A link could point outside the workspace (or into a loop); storing its target would
    silently copy data from elsewhere, so the user must replace it with a real file.
    """
    found: list[FileInfo] = []
    pending = [("", os.fspath(directory))]
    while pending:
        prefix, where = pending.pop()
        try:
            entries = list(os.scandir(where))
        except OSError as exc:
            raise InvalidInput(f"cannot list {where}: {exc.strerror}") from None
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if stat_mod.S_ISREG(mode):
                found.append(FileInfo(prefix + entry.name, entry.path, Stat.of(st)))
            elif stat_mod.S_ISDIR(mode):
                pending.append((prefix + entry.name + "/", entry.path))
            elif stat_mod.S_ISLNK(mode):
                raise InvalidInput(
                    f"{entry.path} is a symbolic link: tracked data must be real files",
                    hint="replace the link with a copy of its target, or move it out of the "
                    "tracked directory",
                )
            else:
                raise InvalidInput(
                    f"{entry.path} is not a regular file",
                    hint="remove sockets, pipes and devices from tracked directories",
                )
    found.sort(key=lambda f: f.rel)
    return found


def files_of(path: Path) -> tuple[str, list[FileInfo]]:
    """('file'|'dir', its files) for a tracked path in the working tree."""
    st = lstat(path)
    if stat_mod.S_ISLNK(st.st_mode):
        raise InvalidInput(
            f"{path} is a symbolic link: tracked data must be a real file or directory",
            hint="track the link's target instead",
        )
    if stat_mod.S_ISREG(st.st_mode):
        return "file", [FileInfo("", os.fspath(path), Stat.of(st))]
    if stat_mod.S_ISDIR(st.st_mode):
        return "dir", walk(path)
    raise InvalidInput(f"{path} is neither a file nor a directory")


def scan(
    path: Path, rel: str, cache: StatCache, *, hasher: Hasher = hash_only
) -> tuple[Scan, list[tuple[str, Stat, str]]]:
    """Scan `path` (workspace-relative `rel`); returns the scan and the cache entries to save."""
    kind, files = files_of(path)
    known = cache.under(rel)
    ids: list[str | None] = []
    misses: list[int] = []
    for i, info in enumerate(files):
        key = f"{rel}/{info.rel}" if info.rel else rel
        hit = known.get(key)
        if hit is not None and hit[0] == info.stat:
            ids.append(hit[1])
        else:
            ids.append(None)
            misses.append(i)
    if misses:
        for i, cid in zip(misses, hasher([files[i].path for i in misses]), strict=True):
            ids[i] = cid
    fresh = [
        (f"{rel}/{files[i].rel}" if files[i].rel else rel, files[i].stat, ids[i] or "")
        for i in misses
    ]
    if kind == "file":
        only = files[0]
        return Scan("file", ids[0] or "", only.stat.size, 1, None, len(misses)), fresh
    manifest = Manifest.of(
        ManifestEntry(info.rel, info.stat.size, cid or "")
        for info, cid in zip(files, ids, strict=True)
    )
    manifest_id = hash_bytes(manifest.to_bytes())
    size = sum(f.stat.size for f in files)
    return Scan("dir", manifest_id, size, len(files), manifest, len(misses)), fresh
