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
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

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

Place = tuple[str, str]  # a directory to list: (prefix of the paths below it, its path)

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
    walked: Walked = field(kw_only=True, repr=False)

    @property
    def size(self) -> int:
        """Total bytes; summed on demand, as `status` never asks (100,000 files: 4 ms)."""
        return sum(f[1] for f in self.walked.files())


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


def walk(directory: Path, *, share: bool = False) -> list[File]:
    """Regular files below `directory`, in directory order; links are refused.

    Directory order is what the file system returns, the same from one walk of an
    unchanged tree to the next, so listing digests compare; manifests sort their entries
    themselves. (Sorting 100,000 paths took a fifth of a no-op status.) A link could point
    outside the workspace (or into a loop); storing its target would silently copy data
    from elsewhere, so the user must replace it with a real file.

    The order: breadth first until there are SHARE_MIN directories at one depth, then
    the whole of every other one of them (the first, third, ...), then the rest. With
    `share` (for a tree of SHARE_FILES or more) two forked helper processes walk those
    two shares at once; the order is the same either way, so digests compare.
    """
    return _walk_tree(directory, share=share).files()


def _walk_tree(directory: Path, *, share: bool) -> Walked:
    found: list[File] = []
    level = [("", os.fspath(directory))]
    while 0 < len(level) < SHARE_MIN:
        deeper: list[Place] = []
        for place in level:
            files, subdirs = _list(*place)
            found += files
            deeper += subdirs
        level = deeper
    shares = [level[0::2], level[1::2]]
    if share and shares[1] and _may_fork():
        return Walked([found, *_walk_shared(shares)])
    return Walked([found + _walk(shares[0]) + _walk(shares[1])])


class Walked:
    """The files of a walk, in order, in parts: lists, or the marshal bytes of a list as a
    helper process sent it.

    A no-op status needs only the listing digest, which the bytes give as they are:
    unpacking 100,000 files and freeing them again would cost it a tenth of its time.
    """

    __slots__ = ("_files", "_parts")

    def __init__(self, parts: list[list[File] | bytes]) -> None:
        self._parts = parts
        self._files: list[File] | None = None

    def files(self) -> list[File]:
        if self._files is None:
            self._files = [
                f
                for part in self._parts
                # Bytes from our own child, through a pipe only it and this process held.
                for f in (marshal.loads(part) if isinstance(part, bytes) else part)  # noqa: S302
            ]
        return self._files

    def count(self) -> int:
        return sum(_length(part) for part in self._parts)

    def digest(self) -> str:
        """listing_digest(self.files()), without unpacking the helpers' shares.

        A marshalled list is TYPE_LIST, its length (4 bytes) and its items one after the
        other (version 2 refers to no earlier object), so the list of all the parts is a
        new header and the bodies of the parts.
        """
        if len(self._parts) == 1 and isinstance(self._parts[0], list):
            return listing_digest(self._parts[0])
        hasher = blake3.blake3(_TYPE_LIST + self.count().to_bytes(4, "little"))
        for part in self._parts:
            hasher.update(memoryview(part if isinstance(part, bytes) else _dump(part))[5:])
        return hasher.hexdigest()


_TYPE_LIST = b"["


def _dump(files: list[File]) -> bytes:
    return marshal.dumps(files, 2)


def _length(part: list[File] | bytes) -> int:
    return int.from_bytes(part[1:5], "little") if isinstance(part, bytes) else len(part)


def _walk(places: list[Place]) -> list[File]:
    found: list[File] = []
    pending = places[::-1]
    while pending:
        files, subdirs = _list(*pending.pop())
        found += files
        pending += subdirs[::-1]
    return found


def _list(prefix: str, where: str) -> tuple[list[File], list[Place]]:
    """One directory's regular files, and its subdirectories still to list."""
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
    # Runs once per file (100,000 for a large tree): comprehensions, and the kinds of the
    # rest only looked at when something is not a regular file.
    files = [
        (prefix + e.name, s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino)
        for e, s in zip(entries, stats, strict=True)
        if s.st_mode & _IFMT == _IFREG
    ]
    subdirs: list[Place] = []
    if len(files) == len(entries):
        return files, subdirs
    for entry, st in zip(entries, stats, strict=True):
        kind = st.st_mode & _IFMT
        if kind == _IFDIR:
            subdirs.append((prefix + entry.name + "/", os.path.join(where, entry.name)))
        elif kind == _IFLNK:
            raise InvalidInput(
                f"{os.path.join(where, entry.name)} is a symbolic link: tracked data must "
                "be real files",
                hint="replace the link with a copy of its target, or move it out of the "
                "tracked directory",
            )
        elif kind != _IFREG:
            raise InvalidInput(
                f"{os.path.join(where, entry.name)} is not a regular file",
                hint="remove sockets, pipes and devices from tracked directories",
            )
    return files, subdirs


# From about this many files, helper processes halve a walk's time on two cores (starting
# them and sending the files back cost a few ms).
SHARE_FILES = 10_000
# Directories to deal out between two walkers: enough that alternate ones split most
# trees' files about evenly.
SHARE_MIN = 8


def _may_fork() -> bool:
    # Only a single-threaded process forks: a thread of a server or notebook holding a
    # lock at that moment would leave the helper stuck. (Linux only: macOS warns against
    # fork without exec.)
    import threading

    return sys.platform == "linux" and threading.active_count() == 1


def _walk_shared(shares: list[list[Place]]) -> list[list[File] | bytes]:
    """The files below each share of directories, each walked by a forked helper process.

    Most of a stat walk is the kernel's work for each lstat, which one process does on
    one core: the helpers' stats run on two. This process only waits, so it never builds
    (or frees) the files of a no-op status. A share whose helper failed is walked here.
    """
    started: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    sent: list[bytes] = []
    try:
        for places in shares:
            started.append(_start(places, [r for _, r in started]))
        for _, read_end in started:
            if read_end < 0:
                sent.append(b"")
                continue
            with open(read_end, "rb", closefd=False) as pipe:
                sent.append(pipe.read())
    finally:
        statuses = []
        for pid, read_end in started:
            if read_end >= 0:
                os.close(read_end)  # a helper still writing gets EPIPE and exits
            statuses.append(os.waitpid(pid, 0)[1] if pid else -1)
    parts: list[list[File] | bytes] = []
    for places, got, status in zip(shares, sent, statuses, strict=True):
        # A helper exits 0 only once it has written everything, length first: anything
        # else (killed, out of memory) and its share is walked here.
        size = int.from_bytes(got[1:9], "little")
        if status != 0 or len(got) < 9 or len(got) != 9 + size:
            parts.append(_walk(places))
        elif got[:1] == _FAILED:
            message, hint = marshal.loads(got[9:])  # noqa: S302 - from our own child
            raise InvalidInput(message, hint=hint)
        elif got[9:10] != _TYPE_LIST:  # Walked.digest reads the bytes as a marshal list
            parts.append(marshal.loads(got[9:]))  # noqa: S302 - from our own child
        else:
            parts.append(got[9:])
    return parts


_FILES, _FAILED = b"F", b"E"


def _start(places: list[Place], earlier: list[int]) -> tuple[int, int]:
    """Fork a helper to walk `places`: its pid and the read end of its pipe, or (0, -1)
    when none can be started (out of processes, memory or descriptors)."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return 0, -1
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return 0, -1
    if pid == 0:  # pragma: no cover - the helper; coverage does not follow forks
        _helper(places, write_end, [*earlier, read_end])
    os.close(write_end)
    return pid, read_end


def _helper(places: list[Place], write_end: int, read_ends: list[int]) -> NoReturn:
    """In a forked helper: walk `places`, send the files (or the error), and exit.

    What it sends: _FILES or _FAILED, the length of the rest (8 bytes), then the marshal
    bytes of the files or of (message, hint). os._exit: no atexit handlers, and no
    flushing of the output buffers copied from the parent.
    """
    code = 0
    try:
        for read_end in read_ends:  # each pipe's only reader is the parent
            if read_end >= 0:
                os.close(read_end)
        try:
            kind, body = _FILES, _dump(_walk(places))
        except InvalidInput as exc:
            kind, body = _FAILED, marshal.dumps((exc.message, exc.hint), 2)
        with open(write_end, "wb") as pipe:
            pipe.write(kind + len(body).to_bytes(8, "little"))
            pipe.write(body)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def files_of(path: Path, *, expected: int = 0) -> tuple[str, list[File]]:
    """('file'|'dir', its files) for a tracked path in the working tree.

    `expected`: about how many files the caller thinks there are (a pointer says).
    """
    kind, walked = _tree_of(path, expected)
    return kind, walked.files()


def _tree_of(path: Path, expected: int) -> tuple[str, Walked]:
    st = lstat(path)
    if stat_mod.S_ISLNK(st.st_mode):
        raise InvalidInput(
            f"{path} is a symbolic link: tracked data must be a real file or directory",
            hint="track the link's target instead",
        )
    if stat_mod.S_ISREG(st.st_mode):
        return "file", Walked([[("", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)]])
    if stat_mod.S_ISDIR(st.st_mode):
        return "dir", _walk_tree(path, share=expected >= SHARE_FILES)
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
    return blake3.blake3(_dump(files)).hexdigest()


def scan(
    path: Path,
    rel: str,
    cache: StatCache,
    *,
    hasher: Hasher = hash_only,
    need_manifest: bool = False,
    walked: tuple[str, list[File]] | None = None,
    expected: int = 0,
) -> Scan:
    """Scan `path` (workspace-relative `rel`). The caller saves `fresh`/`listing` to the cache.

    `walked` is what files_of(path) returned, when the caller has just walked it;
    `expected` is passed on to files_of otherwise.
    """
    if walked is not None:
        kind, tree = walked[0], Walked([walked[1]])
    else:
        kind, tree = _tree_of(path, expected)
    digest = None
    if kind == "dir":
        digest = tree.digest()
        known_dir = cache.directory(rel)
        if known_dir is not None and known_dir.listing == digest and not need_manifest:
            return Scan("dir", known_dir.id, tree.count(), None, 0, [], walked=tree)
    files = tree.files()
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
        return Scan("file", ids[0], 1, None, len(misses), fresh, walked=tree)
    manifest = Manifest.of(
        ManifestEntry(f[0], f[1], cid) for f, cid in zip(files, ids, strict=True)
    )
    manifest_id = hash_bytes(manifest.to_bytes())
    newest = max((f[2] for f in files), default=0)
    listing = DirEntry(rel, digest or "", manifest_id, newest)
    return Scan("dir", manifest_id, len(files), manifest, len(misses), fresh, listing, walked=tree)
