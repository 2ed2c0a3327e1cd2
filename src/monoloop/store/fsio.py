"""Local file machinery shared by the stores: durable staging, copy-and-hash, batching.

Durability: every object is written to a temp file, made durable, then renamed into
place, so a crash leaves either the complete object or no object, never a partial one.
Batches pay for durability once, not once per file: all temp files are written, one
syncfs() barrier flushes them, then all are renamed and one more barrier makes the
renames durable (git's core.fsyncMethod=batch, done with syncfs).

Small files are handled on the calling thread while that is fast: per file the work is a
handful of short system calls, and handing the GIL between threads around each costs more
than it overlaps. When the kernel makes those calls slow (a cold or network disk), the
batch spreads over a thread pool, which overlaps the waits. Large files always go to the
pool, where hashing and copying run with the GIL released.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import blake3

from monoloop.errors import InvalidInput
from monoloop.hashing import id_from_digest
from monoloop.store.objects import (
    Progress,
    StrPath,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

SMALL_FILE = 8 << 20  # read whole into memory below this; copy in a thread above
COPY_CHUNK = 16 << 20  # large enough for BLAKE3 to spread one chunk over every core
FSYNC_EACH_MAX = 8  # batches up to this size fsync each file instead of the filesystem
PROGRESS_EVERY = 256
SPREAD_CHUNK = 256
SPREAD_WHEN_SLOWER = 150e-6  # seconds per small file; a warm local disk takes ~50-80 µs
TMP_LANES = 4  # temp subdirectories, so parallel creates do not queue on one directory lock
WORKERS = max(2, os.cpu_count() or 1)
FOREIGN_TMP_MAX_AGE = 3600.0
FAN_OUT = [f"{i:02x}" for i in range(256)]
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
OPEN_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | _CLOEXEC
OPEN_READ = os.O_RDONLY | _CLOEXEC


class FileSync:
    """fsync, whole-filesystem sync and early writeback, with portable fallbacks.

    libc is looked up on first use: read-only commands never load ctypes.
    """

    def __init__(self) -> None:
        self._loaded = False
        self._syncfs: Callable[[int], int] | None = None
        self._writeback: Callable[[int, int, int, int], int] | None = None

    def _load(self) -> None:
        if self._loaded:
            return
        if sys.platform.startswith("linux"):
            import ctypes

            with contextlib.suppress(OSError, AttributeError):
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syncfs.argtypes = [ctypes.c_int]
                self._syncfs = libc.syncfs
                sfr = libc.sync_file_range
                sfr.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                self._writeback = sfr
        self._loaded = True

    @property
    def can_sync_filesystem(self) -> bool:
        self._load()
        return self._syncfs is not None

    def sync_filesystem(self, path: str) -> None:
        """Flush every dirty page and inode of the filesystem holding `path`, then return."""
        self._load()
        assert self._syncfs is not None
        fd = os.open(path, OPEN_READ)
        try:
            if self._syncfs(fd) != 0:
                import ctypes

                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), path)
        finally:
            os.close(fd)

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Start writing a range to disk now, so the final fsync has little left to wait for."""
        self._load()
        if self._writeback is not None:
            self._writeback(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE: start, don't wait

    @staticmethod
    def sync_dir(path: str) -> None:
        fd = os.open(path, OPEN_READ | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class StagedFiles:
    """Temp files for a set of destinations, committed together once all are written.

    Small sets fsync each file; large ones use two filesystem barriers for the whole set.
    Thread-safe: workers open and close temps concurrently.
    """

    def __init__(
        self, sync: FileSync, count: int, *, temp_for: Callable[[str], str], mode: int
    ) -> None:
        self._sync = sync
        self._temp_for = temp_for
        self._mode = mode
        self._fsync_each = count <= FSYNC_EACH_MAX or not sync.can_sync_filesystem
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()

    def open(self, dest: str) -> int:
        """A new temp file for dest; the same dest twice keeps the later one."""
        tmp = self._temp_for(dest)
        fd = os.open(tmp, OPEN_NEW, self._mode)
        with self._lock:
            previous = self._pending.get(dest)
            self._pending[dest] = tmp
        if previous is not None:
            _unlink(previous)
        return fd

    def close(self, fd: int) -> None:
        try:
            if self._fsync_each:
                os.fsync(fd)
        finally:
            os.close(fd)

    def retarget(self, old_dest: str, new_dest: str | None) -> None:
        """Point a staged temp at its real destination, or drop it (None: nothing to write)."""
        with self._lock:
            tmp = self._pending.pop(old_dest, None)
            if tmp is None:  # opening it failed: nothing was staged
                return
            previous = tmp if new_dest is None else self._pending.get(new_dest)
            if new_dest is not None:
                self._pending[new_dest] = tmp
        if previous is not None:
            _unlink(previous)

    def discard(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for tmp in pending.values():
            _unlink(tmp)

    def commit(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        # Temps live in the store's tmp/ or beside their destination: same filesystem.
        dirs = {os.path.dirname(dest) for dest in pending}
        made = [path for path in sorted(dirs) if make_dir(path)]
        if self._fsync_each:
            for dest, tmp in pending.items():
                os.replace(tmp, dest)
            for path in dirs:
                self._sync.sync_dir(path)
            for path in made:  # a new directory's own entry, in its parent
                self._sync.sync_dir(os.path.dirname(path))
            return
        filesystems: dict[int, str] = {}
        for path in dirs:
            filesystems.setdefault(os.stat(path).st_dev, path)
        for path in filesystems.values():
            self._sync.sync_filesystem(path)
        for dest, tmp in pending.items():
            os.replace(tmp, dest)
        for path in filesystems.values():
            self._sync.sync_filesystem(path)


def make_dir(path: str) -> bool:
    """Make a destination directory that is missing (a store's fan-out directories are
    made on first use); True if it was made here."""
    if os.path.isdir(path):
        return False
    try:
        os.mkdir(path)
    except FileExistsError:
        return False
    return True


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_all(fd: int, size: int) -> bytes:
    """The whole file. A short read of a regular file means EOF, so one read usually does."""
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    chunks = [data]
    while chunk := os.read(fd, COPY_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def contents(item: StrPath | bytes) -> bytes:
    """The bytes to store for an item: given, or read from a regular file."""
    if isinstance(item, bytes):
        return item
    src, size = open_source(item)
    try:
        return read_all(src, size)
    finally:
        os.close(src)


def read_all_at(fd: int, offset: int, size: int) -> bytes:
    """`size` bytes at `offset`, or fewer only at the end of the file."""
    data = os.pread(fd, size, offset)
    if len(data) == size:
        return data
    chunks = [data]
    done = len(data)
    while done < size and (chunk := os.pread(fd, size - done, offset + done)):
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _copy_range(src: int, dst: int, offset: int, length: int, in_kernel: list[bool]) -> int:
    if in_kernel[0]:
        try:
            return os.copy_file_range(src, dst, length, offset, offset)
        except OSError as exc:
            # Old kernels, cross-filesystem copies and some filesystems refuse; copy by hand.
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            in_kernel[0] = False
    data = memoryview(os.pread(src, length, offset))
    done = 0
    while done < len(data):
        done += os.pwrite(dst, data[done:], offset + done)
    return done


def _hash_landed(hasher: blake3.blake3, dst: int, start: int, end: int) -> None:
    """Hash dst[start:end] straight from the page cache through a memory map: no copy into
    a buffer (that copy cost as much as the in-kernel copy itself)."""
    import mmap

    base = start - start % mmap.ALLOCATIONGRANULARITY
    try:
        mapped = mmap.mmap(dst, end - base, offset=base, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # a file system that cannot map files: read instead
        while start < end:
            chunk = os.pread(dst, min(COPY_CHUNK, end - start), start)
            if not chunk:
                raise OSError(errno.EIO, "temp file shrank while being written") from None
            hasher.update(chunk)
            start += len(chunk)
        return
    with mapped, memoryview(mapped) as view:
        hasher.update(view[start - base :])


def copy_hashing(src: int, dst: int, size: int, sync: FileSync) -> tuple[str, int]:
    """Copy `size` bytes src→dst and return the id of what landed in dst, in one pass.

    A thread copies in the kernel (copy_file_range) while this thread hashes each chunk of
    dst right after it lands, still hot in the page cache. Hashing dst, not src, means the
    id always names the stored bytes even if src changes meanwhile. One hashing thread
    keeps up with the copy (BLAKE3 runs at several GB/s per core); more would only compete
    with the copy for cores, and BLAKE3's idle workers spin between chunks (on 2 cores
    that made a 1 GiB put 2-3x slower).
    """
    import queue

    hasher = blake3.blake3()
    landed: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def copier() -> None:
        offset, in_kernel = 0, [hasattr(os, "copy_file_range")]
        try:
            while offset < size and not stop.is_set():
                n = _copy_range(src, dst, offset, min(COPY_CHUNK, size - offset), in_kernel)
                if n == 0:
                    break
                sync.start_writeback(dst, offset, n)
                offset += n
                landed.put(offset)
        except BaseException as exc:
            landed.put(exc)
            return
        landed.put(None)

    thread = threading.Thread(target=copier, name="monoloop-copy", daemon=True)
    thread.start()
    hashed = 0
    try:
        while (item := landed.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            _hash_landed(hasher, dst, hashed, item)
            hashed = item
    finally:
        stop.set()
        thread.join()
    return id_from_digest(hasher.hexdigest()), hashed


Heavy = Callable[[], None]


def run_split(
    count: int,
    light: Callable[[int], Heavy | None],
    progress: Progress | None,
    workers: int,
    *,
    spread: bool = False,
) -> None:
    """light(i) for each i on this thread; the heavy rest it returns runs on a thread pool.

    With spread=True, light items move to the pool too once a chunk of them runs slower
    than SPREAD_WHEN_SLOWER: the time then goes to waiting in the kernel (a slow disk, a
    network filesystem, a busy inode allocator), which threads overlap. When it does not,
    handing the GIL between threads around every short system call costs more than it saves.
    Progress is reported from this thread only, so callers' callbacks need no locking.
    """
    import functools
    import queue

    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    futures: list[Future[None]] = []
    pool: ThreadPoolExecutor | None = None
    finished = 0

    def submit(job: Heavy, items: int) -> None:
        nonlocal pool
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(workers, thread_name_prefix="monoloop-io")
        future = pool.submit(job)
        future.add_done_callback(lambda _f: done.put(items))
        futures.append(future)

    def run_chunk(start: int, stop: int) -> None:
        for i in range(start, stop):
            heavy = light(i)
            if heavy is not None:
                heavy()

    def report(final: bool = False) -> None:
        nonlocal finished
        while not done.empty():
            finished += done.get()
        if progress is not None and finished and (final or finished >= PROGRESS_EVERY):
            progress(finished)
            finished = 0

    spreading = False
    try:
        for start in range(0, count, SPREAD_CHUNK):
            stop = min(start + SPREAD_CHUNK, count)
            if spreading:
                submit(functools.partial(run_chunk, start, stop), stop - start)
                continue
            began, inline = time.perf_counter(), 0
            for i in range(start, stop):
                heavy = light(i)
                if heavy is None:
                    inline += 1
                else:
                    submit(heavy, 1)
            finished += inline
            report()
            elapsed = time.perf_counter() - began
            spreading = spread and inline > 0 and elapsed / inline > SPREAD_WHEN_SLOWER
        for future in futures:
            future.result()
            report()
        report(final=True)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def open_source(path: StrPath) -> tuple[int, int]:
    """An fd and size for a regular file to be stored, or InvalidInput saying what is wrong."""
    try:
        # Non-blocking so a named pipe is refused below instead of waiting for a writer.
        src = os.open(path, OPEN_READ | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        raise InvalidInput(f"cannot store {path}: no such file", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InvalidInput(
            f"cannot store {path}: it is a directory", hint="store directories with put_tree"
        ) from exc
    except PermissionError as exc:
        raise InvalidInput(
            f"cannot store {path}: permission denied", hint="make the file readable"
        ) from exc
    info = os.fstat(src)
    if stat.S_ISDIR(info.st_mode):
        os.close(src)
        raise InvalidInput(
            f"cannot store {path}: it is a directory", hint="store directories with put_tree"
        )
    if not stat.S_ISREG(info.st_mode):
        os.close(src)
        raise InvalidInput(
            f"cannot store {path}: it is not a regular file",
            hint="store regular files, or directories with put_tree",
        )
    return src, info.st_size


def prepare_checkout(
    items: Sequence[tuple[str, StrPath]], sync: FileSync
) -> tuple[list[tuple[str, str]], StagedFiles]:
    """Validated (id, absolute dest) pairs with their parent directories made, and staging."""
    from monoloop.hashing import parse_id

    checked = [(parse_id(cid), os.path.abspath(dest)) for cid, dest in items]
    for parent in sorted({os.path.dirname(dest) for _, dest in checked}):
        try:
            os.makedirs(parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidInput(
                f"cannot create directory {parent}: a file is in the way",
                hint="remove or rename that file, or write somewhere else",
            ) from exc
    for _, dest in checked:
        if os.path.isdir(dest):
            raise InvalidInput(f"cannot write {dest}: it is a directory", hint="pass a file path")
    token = os.urandom(4).hex()
    counter = itertools.count()

    def temp_for(dest: str) -> str:
        head, name = os.path.split(dest)
        return os.path.join(head, f".{name}.{token}{next(counter)}.monoloop-tmp")

    return checked, StagedFiles(sync, len(checked), temp_for=temp_for, mode=0o666)
