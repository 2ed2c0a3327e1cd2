"""LocalStore: objects as read-only files under a directory, `root/ab/cdef…`; and the local
file machinery (durable staging, copy-and-hash) that the remote store reuses for checkouts.

Durability: every object is written to `root/tmp/`, made durable, then renamed into place,
so a crash leaves either the complete object or no object, never a partial one. Batches
(put_files, put_tree, get_files) pay for durability once per batch, not once per file: all
temp files are written, one syncfs() barrier flushes them, then all are renamed and one
more barrier makes the renames durable (git's core.fsyncMethod=batch, done with syncfs).

Temp files go to `root/tmp/<lane>/`, one lane per writer thread, so that parallel creates
do not queue on one directory's lock. Orphaned temp files (a writer was killed) are
removed by the first write of each LocalStore and by fsck, only once their writer is
gone: a temp file's name carries the writer's pid and host, and a live pid on this host
is never touched. Temp files from another host (a shared network disk) are removed once
an hour old.

Small files are handled on the calling thread while that is fast: per file the work is a
handful of short system calls, and handing the GIL between threads around each costs more
than it overlaps. When the kernel makes those calls slow (a cold or network disk), the
batch spreads over a thread pool, which overlaps the waits. Large files always go to the
pool, where hashing and copying run with the GIL released.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import itertools
import os
import queue
import secrets
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import blake3

from monoloop.errors import ConfigError, InvalidInput
from monoloop.hashing import ID_PREFIX, hash_bytes, hash_file, id_from_digest, id_hex, is_id
from monoloop.store.objects import (
    FsckReport,
    Progress,
    Readable,
    StrPath,
    TreeMixin,
    corrupt,
    not_found,
    reader,
)

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
    """fsync, whole-filesystem sync and early writeback, with portable fallbacks."""

    def __init__(self) -> None:
        self._syncfs: Callable[[int], int] | None = None
        self._writeback: Callable[[int, int, int, int], int] | None = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syncfs.argtypes = [ctypes.c_int]
                self._syncfs = libc.syncfs
                sfr = libc.sync_file_range
                sfr.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                self._writeback = sfr

    @property
    def can_sync_filesystem(self) -> bool:
        return self._syncfs is not None

    def sync_filesystem(self, path: str) -> None:
        """Flush every dirty page and inode of the filesystem holding `path`, then return."""
        assert self._syncfs is not None
        fd = os.open(path, OPEN_READ)
        try:
            if self._syncfs(fd) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), path)
        finally:
            os.close(fd)

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Start writing a range to disk now, so the final fsync has little left to wait for."""
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
        if self._fsync_each:
            for dest, tmp in pending.items():
                os.replace(tmp, dest)
            for path in dirs:
                self._sync.sync_dir(path)
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


def copy_hashing(src: int, dst: int, size: int, sync: FileSync) -> tuple[str, int]:
    """Copy `size` bytes src→dst and return the id of what landed in dst, in one pass.

    A thread copies in the kernel (copy_file_range) while this thread hashes each chunk of
    dst right after it lands, still hot in the page cache. Hashing dst, not src, means the
    id always names the stored bytes even if src changes meanwhile.
    """
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
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
    view = memoryview(bytearray(min(COPY_CHUNK, max(size, 1))))
    hashed = 0
    try:
        while (item := landed.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            while hashed < item:
                n = os.preadv(dst, [view[: item - hashed]], hashed)
                if n == 0:
                    raise OSError(errno.EIO, "temp file shrank while being written")
                hasher.update(view[:n])
                hashed += n
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
    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    futures: list[Future[None]] = []
    pool: ThreadPoolExecutor | None = None
    finished = 0

    def submit(job: Heavy, items: int) -> None:
        nonlocal pool
        if pool is None:
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
    token = secrets.token_hex(4)
    counter = itertools.count()

    def temp_for(dest: str) -> str:
        head, name = os.path.split(dest)
        return os.path.join(head, f".{name}.{token}{next(counter)}.monoloop-tmp")

    return checked, StagedFiles(sync, len(checked), temp_for=temp_for, mode=0o666)


class LocalStore(TreeMixin):
    """Objects under a local directory. Safe for many threads and processes at once."""

    def __init__(self, root: StrPath) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = self.root.as_uri()
        self._root = os.fspath(self.root)
        self._tmp = os.path.join(self._root, "tmp")
        self._fan = [os.path.join(self._root, name) + os.sep for name in FAN_OUT]
        self._lanes = [os.path.join(self._tmp, str(i)) + os.sep for i in range(TMP_LANES)]
        self._host = socket.gethostname().replace("/", "_")
        self._sync = FileSync()
        self._ready = False

    def __repr__(self) -> str:
        return f"LocalStore({self._root!r})"

    # -- layout and temp files ------------------------------------------------------------

    def _path(self, content_id: str) -> str:
        hexdigits = id_hex(content_id)
        return self._fan[int(hexdigits[:2], 16)] + hexdigits[2:]

    def _own_path(self, content_id: str) -> str:
        # For ids this module just computed: skips re-validating on the hot path.
        return self._fan[int(content_id[3:5], 16)] + content_id[5:]

    def prepare(self) -> None:
        """Create the layout (done by the first write anyway) and clean orphaned temp files."""
        if self._ready:
            return
        try:
            if not os.path.isdir(self._fan[-1]):
                os.makedirs(self._tmp, exist_ok=True)
                for fan in self._fan:
                    os.makedirs(fan, exist_ok=True)
                self._sync.sync_dir(self._root)
                self._sync.sync_dir(os.path.dirname(self._root))
            for lane in self._lanes:
                os.makedirs(lane, exist_ok=True)
        except (PermissionError, FileExistsError, NotADirectoryError) as exc:
            raise ConfigError(
                f"cannot create the object store at {self._root}: {exc.strerror}",
                hint="choose a writable directory (MONOLOOP_STORE_URL) or fix its permissions",
            ) from exc
        self._clean_temps()
        self._ready = True

    def _staged(self, count: int) -> StagedFiles:
        # pid and host in the name let cleanup tell a dead writer's file from a live one's.
        token, suffix = secrets.token_hex(6), f".{os.getpid()}.{self._host}"
        counter, lanes, mine = itertools.count(), itertools.cycle(self._lanes), threading.local()

        def temp_for(_dest: str) -> str:
            lane: str | None = getattr(mine, "lane", None)
            if lane is None:
                lane = mine.lane = next(lanes)
            return f"{lane}{token}{next(counter)}{suffix}"

        return StagedFiles(self._sync, count, temp_for=temp_for, mode=0o444)

    def _writer_gone(self, name: str, mtime: float) -> bool:
        _token, _, rest = name.partition(".")
        pid, _, host = rest.partition(".")
        if host != self._host or not pid.isdigit():
            return time.time() - mtime > FOREIGN_TMP_MAX_AGE
        if int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _clean_temps(self) -> list[str]:
        removed: list[str] = []
        for where in (self._tmp, *self._lanes):
            with contextlib.suppress(FileNotFoundError), os.scandir(where) as entries:
                for entry in entries:
                    with contextlib.suppress(FileNotFoundError):
                        info = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(info.st_mode) and self._writer_gone(
                            entry.name, info.st_mtime
                        ):
                            os.unlink(entry.path)
                            removed.append(entry.path)
        return removed

    # -- writing --------------------------------------------------------------------------

    def _stage_bytes(self, data: bytes | bytearray | memoryview, staged: StagedFiles) -> str:
        content_id = hash_bytes(data)
        dest = self._own_path(content_id)
        if not os.path.exists(dest):
            fd = staged.open(dest)
            try:
                write_all(fd, data)
            finally:
                staged.close(fd)
        return content_id

    def _stage_copy(self, path: StrPath, staged: StagedFiles) -> tuple[str, int]:
        src, size = open_source(path)
        # The id is known only once the bytes are copied: stage under a placeholder first.
        placeholder = f"{self._tmp}/pending-{secrets.token_hex(8)}"
        try:
            fd = staged.open(placeholder)
            try:
                content_id, copied = copy_hashing(src, fd, size, self._sync)
            finally:
                staged.close(fd)
        except BaseException:
            staged.retarget(placeholder, None)
            raise
        finally:
            os.close(src)
        dest = self._own_path(content_id)
        staged.retarget(placeholder, None if os.path.exists(dest) else dest)
        return content_id, copied

    def put_sized(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None
    ) -> list[tuple[str, int]]:
        self.prepare()
        results: list[tuple[str, int]] = [("", 0)] * len(paths)
        staged = self._staged(len(paths))

        def light(i: int) -> Heavy | None:
            src, size = open_source(paths[i])
            try:
                if size >= SMALL_FILE:
                    return lambda: results.__setitem__(i, self._stage_copy(paths[i], staged))
                data = read_all(src, size)
            finally:
                os.close(src)
            results[i] = (self._stage_bytes(data, staged), len(data))
            return None

        try:
            run_split(len(paths), light, progress, WORKERS, spread=True)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        return results

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        self.prepare()
        staged = self._staged(1)
        try:
            content_id = self._stage_bytes(data, staged)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        return content_id

    def put_file(self, path: StrPath) -> str:
        return self.put_sized([path])[0][0]

    def put_stream(self, stream: Readable) -> str:
        self.prepare()
        staged = self._staged(1)
        placeholder = f"{self._tmp}/pending-{secrets.token_hex(8)}"
        try:
            fd = staged.open(placeholder)
            try:
                hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
                while chunk := stream.read(COPY_CHUNK):
                    hasher.update(chunk)
                    write_all(fd, chunk)
            finally:
                staged.close(fd)
            content_id = id_from_digest(hasher.hexdigest())
            dest = self._own_path(content_id)
            staged.retarget(placeholder, None if os.path.exists(dest) else dest)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        return content_id

    # -- reading --------------------------------------------------------------------------

    def _open_object(self, content_id: str, *, checked: bool = False) -> int:
        path = self._own_path(content_id) if checked else self._path(content_id)
        try:
            return os.open(path, OPEN_READ)
        except FileNotFoundError:
            raise not_found(content_id, self.url) from None

    def get(self, content_id: str) -> bytes:
        fd = self._open_object(content_id)
        try:
            data = read_all(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        if hash_bytes(data) != content_id:
            raise corrupt(content_id, self.url, "its bytes do not match the id")
        return data

    def open(self, content_id: str) -> BinaryIO:
        fd = self._open_object(content_id)
        size = os.fstat(fd).st_size
        return reader(os.fdopen(fd, "rb", buffering=0), content_id, size, url=self.url)

    def _copy_out(self, content_id: str, dest: str, staged: StagedFiles) -> None:
        src = self._open_object(content_id)
        try:
            fd = staged.open(dest)
            try:
                actual, _ = copy_hashing(src, fd, os.fstat(src).st_size, self._sync)
            finally:
                staged.close(fd)
        finally:
            os.close(src)
        if actual != content_id:
            raise corrupt(content_id, self.url, "its bytes do not match the id")

    def get_files(
        self, items: Sequence[tuple[str, StrPath]], *, progress: Progress | None = None
    ) -> None:
        checked, staged = prepare_checkout(items, self._sync)

        def light(i: int) -> Heavy | None:
            content_id, dest = checked[i]
            src = self._open_object(content_id, checked=True)
            try:
                size = os.fstat(src).st_size
                if size >= SMALL_FILE:
                    return lambda: self._copy_out(content_id, dest, staged)
                data = read_all(src, size)
            finally:
                os.close(src)
            # Checked before writing, so bad bytes never reach the destination's directory.
            if hash_bytes(data) != content_id:
                raise corrupt(content_id, self.url, "its bytes do not match the id")
            fd = staged.open(dest)
            try:
                write_all(fd, data)
            finally:
                staged.close(fd)
            return None

        try:
            run_split(len(checked), light, progress, WORKERS, spread=True)
            staged.commit()
        except BaseException:
            staged.discard()
            raise

    def get_file(self, content_id: str, dest: StrPath) -> None:
        self.get_files([(content_id, dest)])

    # -- inspecting -----------------------------------------------------------------------

    def object_path(self, content_id: str) -> str:
        """Where an object's bytes are, for same-machine copies (read-only: never write it)."""
        path = self._path(content_id)
        if not os.path.exists(path):
            raise not_found(content_id, self.url)
        return path

    def remove(self, content_id: str) -> None:
        """Delete one object (garbage collection decides which; nothing else should)."""
        try:
            os.unlink(self._path(content_id))
        except FileNotFoundError:
            raise not_found(content_id, self.url) from None

    def exists(self, content_id: str) -> bool:
        return os.path.exists(self._path(content_id))

    def size(self, content_id: str) -> int:
        try:
            return os.stat(self._path(content_id)).st_size
        except FileNotFoundError:
            raise not_found(content_id, self.url) from None

    def verify(self, content_id: str) -> None:
        path = self._path(content_id)
        if not os.path.exists(path):
            raise not_found(content_id, self.url)
        actual = hash_file(path)
        if actual != content_id:
            raise corrupt(content_id, self.url, f"its bytes hash to {actual}")

    def _scan(self) -> Iterator[tuple[str | None, str]]:
        """(id, path) for every file in the fan-out directories; id None for strays."""
        for fan, name in zip(self._fan, FAN_OUT, strict=True):
            try:
                entries = sorted(os.listdir(fan))
            except FileNotFoundError:
                continue
            for entry in entries:
                candidate = ID_PREFIX + name + entry
                yield (candidate if is_id(candidate) else None), fan + entry

    def iter(self) -> Iterator[str]:
        for content_id, _ in self._scan():
            if content_id is not None:
                yield content_id

    def fsck(self, *, progress: Progress | None = None, quarantine: bool = False) -> FsckReport:
        """Verify every object, remove orphaned temp files, report strays (left alone).

        Corrupt objects are reported and left in place; with quarantine=True they are moved
        to `root/quarantine/` so that putting the original bytes again restores them.
        """
        report = FsckReport(removed_temp=self._clean_temps())
        found = list(self._scan())
        report.stray = [path for content_id, path in found if content_id is None]
        ids = [(content_id, path) for content_id, path in found if content_id is not None]
        sizes = [0] * len(ids)
        bad: list[str] = []

        def check(i: int) -> None:
            content_id, path = ids[i]
            try:
                sizes[i] = os.stat(path).st_size
                good = hash_file(path) == content_id
            except (OSError, InvalidInput):
                good = False
            if not good:
                bad.append(content_id)

        def light(i: int) -> Heavy | None:
            with contextlib.suppress(OSError):
                if os.stat(ids[i][1]).st_size >= SMALL_FILE:
                    return lambda: check(i)
            check(i)
            return None

        run_split(len(ids), light, progress, WORKERS, spread=True)
        report.checked = len(ids)
        report.bytes_checked = sum(sizes)
        report.corrupt = sorted(bad)
        if quarantine and report.corrupt:
            where = os.path.join(self._root, "quarantine")
            os.makedirs(where, exist_ok=True)
            for content_id in report.corrupt:
                target = os.path.join(where, content_id.replace(":", "-"))
                os.replace(self._own_path(content_id), target)
                report.quarantined.append(content_id)
            self._sync.sync_dir(where)
        return report
