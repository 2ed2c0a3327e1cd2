"""Content ids of working-tree data, through the stat cache: unchanged files are never read.

A scan walks a tracked path once (one lstat per file). For a directory it first
compares a digest of the whole listing (paths and stats) with the one recorded last
time: when equal, the directory's id is known without looking at any file. Otherwise
ids come from the per-file cache where the stat still matches, and only the misses go
to a `Hasher`: plain hashing for `status`, hash-and-store for `add`.
"""

from __future__ import annotations

import marshal
import os
import stat as stat_mod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from monoloop.data.statcache import DirEntry, Stat, StatCache
from monoloop.errors import InvalidInput, NotFound
from monoloop.hashing import hash_bytes, hash_file
from monoloop.store.objects import Manifest, ManifestEntry

# Given paths, return their ids in order (hashing, or hashing and storing).
Hasher = Callable[[Sequence[str]], list[str]]
# (path relative to the scanned directory, size, mtime_ns, ctime_ns, inode); the path is
# "" for a tracked file. No full path: building 100,000 of them cost a no-op status more
# than the few files that need one (those to hash) cost to join later (full_paths).
File = tuple[str, int, int, int, int]

_IFMT, _IFREG, _IFDIR, _IFLNK = 0o170000, stat_mod.S_IFREG, stat_mod.S_IFDIR, stat_mod.S_IFLNK


@dataclass
class Scan:
    kind: str  # "file" | "dir"
    id: str
    files: int
    manifest: Manifest | None  # for directories, unless the whole listing was a cache hit
    hashed: int  # how many files had to be read
    fresh: list[tuple[str, Stat, str]]  # per-file cache entries to remember
    listing: DirEntry | None = None  # the directory-level cache entry to remember
    walked: list[File] = field(default_factory=list, repr=False)

    @property
    def size(self) -> int:
        """Total bytes; summed on demand, as `status` never asks (100,000 files: 4 ms)."""
        return sum(f[1] for f in self.walked)


def hash_only(paths: Sequence[str]) -> list[str]:
    if len(paths) < 8:
        return [hash_file(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        return list(pool.map(hash_file, paths, chunksize=64))


def lstat(path: Path) -> os.stat_result:
    try:
        return path.lstat()
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist", hint="check the path") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def walk(directory: Path) -> list[File]:
    """Regular files below `directory`, in directory order; links are refused.

    Directory order is what the file system returns, the same from one walk of an
    unchanged tree to the next, so listing digests compare; manifests sort their entries
    themselves. (Sorting 100,000 paths took a fifth of a no-op status.) A link could point
    outside the workspace (or into a loop); storing its target would silently copy data
    from elsewhere, so the user must replace it with a real file.
    """
    found: list[File] = []
    pending = [("", os.fspath(directory))]
    while pending:
        prefix, where = pending.pop()
        # Listing through a descriptor makes each stat an fstatat of the bare name: the
        # kernel does not walk the directory's path again for every file.
        try:
            fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
            try:
                with os.scandir(fd) as listing:
                    entries = list(listing)
                stats = [e.stat(follow_symlinks=False) for e in entries]
            finally:
                os.close(fd)
        except OSError as exc:
            raise InvalidInput(f"cannot list {where}: {exc.strerror}") from None
        # Runs once per file (100,000 for a large tree): comprehensions, and the kinds of
        # the rest only looked at when something is not a regular file.
        files = [
            (prefix + e.name, s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino)
            for e, s in zip(entries, stats, strict=True)
            if s.st_mode & _IFMT == _IFREG
        ]
        found += files
        if len(files) == len(entries):
            continue
        for entry, st in zip(entries, stats, strict=True):
            kind = st.st_mode & _IFMT
            if kind == _IFDIR:
                pending.append((prefix + entry.name + "/", os.path.join(where, entry.name)))
            elif kind == _IFLNK:
                raise InvalidInput(
                    f"{os.path.join(where, entry.name)} is a symbolic link: tracked data "
                    "must be real files",
                    hint="replace the link with a copy of its target, or move it out of the "
                    "tracked directory",
                )
            elif kind != _IFREG:
                raise InvalidInput(
                    f"{os.path.join(where, entry.name)} is not a regular file",
                    hint="remove sockets, pipes and devices from tracked directories",
                )
    return found


def files_of(path: Path) -> tuple[str, list[File]]:
    """('file'|'dir', its files) for a tracked path in the working tree."""
    st = lstat(path)
    if stat_mod.S_ISLNK(st.st_mode):
        raise InvalidInput(
            f"{path} is a symbolic link: tracked data must be a real file or directory",
            hint="track the link's target instead",
        )
    if stat_mod.S_ISREG(st.st_mode):
        return "file", [("", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)]
    if stat_mod.S_ISDIR(st.st_mode):
        return "dir", walk(path)
    raise InvalidInput(f"{path} is neither a file nor a directory")


def full_paths(path: Path, files: Iterable[File]) -> list[str]:
    """Where files that files_of(path) found are: `path` itself, or files below it."""
    base = os.fspath(path)
    return [f"{base}/{f[0]}" if f[0] else base for f in files]


def listing_digest(files: list[File]) -> str:
    """One hash of every path and stat in a directory: equal means nothing changed.

    marshal serializes the whole list in C, several times faster than formatting each file
    (this is most of a no-op `data status` after the walk itself). Version 2 writes no
    back-references, so equal lists always give equal bytes; and file names that are not
    valid UTF-8 pass through.
    """
    return blake3.blake3(marshal.dumps(files, 2)).hexdigest()


def scan(
    path: Path,
    rel: str,
    cache: StatCache,
    *,
    hasher: Hasher = hash_only,
    need_manifest: bool = False,
    walked: tuple[str, list[File]] | None = None,
) -> Scan:
    """Scan `path` (workspace-relative `rel`). The caller saves `fresh`/`listing` to the cache.

    `walked` is what files_of(path) returned, when the caller has just walked it.
    """
    kind, files = walked if walked is not None else files_of(path)
    digest = None
    if kind == "dir":
        digest = listing_digest(files)
        known_dir = cache.directory(rel)
        if known_dir is not None and known_dir.listing == digest and not need_manifest:
            return Scan("dir", known_dir.id, len(files), None, 0, [], walked=files)
    known = cache.under(rel)
    ids: list[str] = []
    misses: list[int] = []
    for i, f in enumerate(files):
        key = f"{rel}/{f[0]}" if f[0] else rel
        hit = known.get(key)
        if hit is not None and hit[0] == Stat(f[1], f[2], f[3], f[4]):
            ids.append(hit[1])
        else:
            ids.append("")
            misses.append(i)
    if misses:
        hashed = hasher(full_paths(path, [files[i] for i in misses]))
        for i, cid in zip(misses, hashed, strict=True):
            ids[i] = cid
    fresh = [
        (
            f"{rel}/{files[i][0]}" if files[i][0] else rel,
            Stat(files[i][1], files[i][2], files[i][3], files[i][4]),
            ids[i],
        )
        for i in misses
    ]
    if kind == "file":
        return Scan("file", ids[0], 1, None, len(misses), fresh, walked=files)
    manifest = Manifest.of(
        ManifestEntry(f[0], f[1], cid) for f, cid in zip(files, ids, strict=True)
    )
    manifest_id = hash_bytes(manifest.to_bytes())
    newest = max((f[2] for f in files), default=0)
    listing = DirEntry(rel, digest or "", manifest_id, newest)
    return Scan("dir", manifest_id, len(files), manifest, len(misses), fresh, listing, files)
