"""LocalStore: objects as read-only files under a directory, `root/ab/cdef…`.

Durability: every object is written to `root/tmp/`, made durable, then renamed into place,
so a crash leaves either the complete object or no object, never a partial one. Batches
(put_files, put_tree, get_files) pay for durability once per batch, not once per file: all
temp files are written, one syncfs() barrier flushes them, then all are renamed and one
more barrier makes the renames durable (git's core.fsyncMethod=batch, done with syncfs).

Orphaned temp files (a writer was killed) are removed by the first write of each
LocalStore and by fsck. A temp file is only removed when its writer is gone: its name
carries the writer's pid and host, and a live pid on this host is never touched. Temp
files from another host (a shared network disk) are removed once an hour old.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import queue
import secrets
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import blake3

from monoloop.errors import ConfigError, InvalidInput
from monoloop.hashing import (
    HEX_LEN,
    ID_PREFIX,
    hash_bytes,
    hash_file,
    id_from_digest,
    id_hex,
    parse_id,
)
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

SMALL_FILE = 8 << 20  # read whole into memory below this; stream with a copy thread above
COPY_CHUNK = 16 << 20  # large enough for BLAKE3 to spread one chunk over every core
FSYNC_EACH_MAX = 8  # batches up to this size fsync each file instead of syncing the disk
BATCH_CHUNK = 64  # files per thread-pool task, so pool overhead is paid per chunk
FOREIGN_TMP_MAX_AGE = 3600.0
WORKERS = min(16, 4 * (os.cpu_count() or 1))
FAN_OUT = [f"{i:02x}" for i in range(256)]
READ_MORE = 1 << 20
_OPEN_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_OPEN_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_SYNC_FILE_RANGE_WRITE = 2


class FileSync:
    """fsync, whole-filesystem sync and early writeback, with portable fallbacks."""

    def __init__(self) -> None:
        self._syncfs: Callable[[int], int] | None = None
        self._writeback: Callable[[int, int, int, int], int] | None = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):
                libc = ctypes.CDLL(None, use_errno=True)
                if hasattr(libc, "syncfs"):
                    libc.syncfs.argtypes = [ctypes.c_int]
                    libc.syncfs.restype = ctypes.c_int
                    self._syncfs = libc.syncfs
                if hasattr(libc, "sync_file_range"):
                    sfr = libc.sync_file_range
                    sfr.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                    sfr.restype = ctypes.c_int
                    self._writeback = sfr

    @property
    def can_sync_filesystem(self) -> bool:
        return self._syncfs is not None

    def sync_filesystem(self, path: str) -> None:
        """Flush every dirty page and journal entry of the filesystem holding `path`."""
        assert self._syncfs is not None
        fd = os.open(path, _OPEN_READ)
        try:
            if self._syncfs(fd) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), path)
        finally:
            os.close(fd)

    def start_writeback(self, fd: int, offset: int, length: int) -> None:
        """Start writing a range to disk now, so the final fsync has little left to wait for."""
        if self._writeback is not None:
            self._writeback(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    @staticmethod
    def sync_dir(path: str) -> None:
        fd = os.open(path, _OPEN_READ | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class StagedFiles:
    """Temp files for a set of destinations, committed together: all or nothing visible.

    Small sets fsync each file; large ones use two filesystem barriers for the whole set.
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
        tmp = self._temp_for(dest)
        fd = os.open(tmp, _OPEN_NEW, self._mode)
        with self._lock:
            # Same content twice in one batch: keep one temp, the rename is identical anyway.
            previous = self._pending.get(dest)
            self._pending[dest] = tmp
        if previous is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(previous)
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
            tmp = self._pending.pop(old_dest)
            previous = self._pending.get(new_dest) if new_dest is not None else tmp
            if new_dest is not None:
                self._pending[new_dest] = tmp
        if previous is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(previous)

    def drop(self, dest: str) -> None:
        with self._lock:
            tmp = self._pending.pop(dest, None)
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def discard(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for tmp in pending.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def commit(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        dirs = {os.path.dirname(dest) for dest in pending}
        barrier_paths = self._one_path_per_filesystem(
            {os.path.dirname(tmp) for tmp in pending.values()} | dirs
        )
        if not self._fsync_each:
            for path in barrier_paths:
                self._sync.sync_filesystem(path)
        for dest, tmp in pending.items():
            os.replace(tmp, dest)
        if self._fsync_each:
            for path in dirs:
                self._sync.sync_dir(path)
        else:
            for path in barrier_paths:
                self._sync.sync_filesystem(path)

    def _one_path_per_filesystem(self, dirs: set[str]) -> list[str]:
        if self._fsync_each:
            return []
        by_device: dict[int, str] = {}
        for path in dirs:
            by_device.setdefault(os.stat(path).st_dev, path)
        return list(by_device.values())


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_all(fd: int, size_hint: int) -> bytes:
    """The whole file; reads on to EOF in case it grew since it was stat'ed."""
    chunks = []
    want = size_hint + 1
    while chunk := os.read(fd, want):
        chunks.append(chunk)
        want = READ_MORE
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _copy_range(src: int, dst: int, offset: int, length: int, in_kernel: list[bool]) -> int:
    if in_kernel[0]:
        try:
            return os.copy_file_range(src, dst, length, offset, offset)
        except OSError as exc:
            # Old kernels, cross-filesystem copies and some filesystems refuse; copy by hand.
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            in_kernel[0] = False
    data = os.pread(src, length, offset)
    write_view = memoryview(data)
    at = offset
    while write_view:
        written = os.pwrite(dst, write_view, at)
        write_view, at = write_view[written:], at + written
    return len(data)


def copy_hashing(src: int, dst: int, size: int, sync: FileSync | None) -> tuple[str, int]:
    """Copy `size` bytes src→dst and return the id of what landed in dst, in one pass.

    A thread copies in the kernel (copy_file_range) while this thread hashes each chunk of
    dst right after it lands, still hot in the page cache. Hashing dst, not src, means the
    id always names the stored bytes even if src changes meanwhile.
    """
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    landed: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def copier() -> None:
        offset = 0
        in_kernel = [hasattr(os, "copy_file_range")]
        try:
            while offset < size and not stop.is_set():
                n = _copy_range(src, dst, offset, min(COPY_CHUNK, size - offset), in_kernel)
                if n == 0:
                    break
                if sync is not None:
                    sync.start_writeback(dst, offset, n)
                offset += n
                landed.put(offset)
        except BaseException as exc:
            landed.put(exc)
            return
        landed.put(None)

    thread = threading.Thread(target=copier, name="monoloop-copy", daemon=True)
    thread.start()
    buf = bytearray(min(COPY_CHUNK, max(size, 1)))
    view = memoryview(buf)
    hashed = 0
    try:
        while (item := landed.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            while hashed < item:
                n = os.preadv(dst, [view[: min(len(buf), item - hashed)]], hashed)
                if n == 0:
                    raise OSError(errno.EIO, "temp file shrank while being written")
                hasher.update(view[:n])
                hashed += n
    finally:
        stop.set()
        thread.join()
    return id_from_digest(hasher.hexdigest()), hashed


def run_batches(
    work: Callable[[int], None], count: int, progress: Progress | None, workers: int = WORKERS
) -> None:
    """Run work(i) for i in range(count) on a thread pool, reporting progress from here."""
    if count <= 1 or workers <= 1:
        for i in range(count):
            work(i)
            if progress is not None:
                progress(1)
        return

    def chunk(start: int) -> int:
        stop = min(start + BATCH_CHUNK, count)
        for i in range(start, stop):
            work(i)
        return stop - start

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="monoloop-io") as pool:
        futures = [pool.submit(chunk, start) for start in range(0, count, BATCH_CHUNK)]
        try:
            for future in futures:
                done = future.result()
                if progress is not None:
                    progress(done)
        finally:
            for future in futures:
                future.cancel()


def open_source(path: StrPath) -> tuple[int, int]:
    """An fd and size for a regular file to be stored, or InvalidInput saying what is wrong."""
    try:
        src = os.open(path, _OPEN_READ)
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
    if not stat.S_ISREG(info.st_mode):
        os.close(src)
        raise InvalidInput(
            f"cannot store {path}: it is not a regular file",
            hint="store regular files, or directories with put_tree",
        )
    return src, info.st_size


def checkout_temp(dest: str) -> str:
    head, name = os.path.split(dest)
    return os.path.join(head, f".{name}.{secrets.token_hex(6)}.monoloop-tmp")


def make_parents(dests: Sequence[str]) -> None:
    for parent in sorted({os.path.dirname(dest) for dest in dests}):
        try:
            os.makedirs(parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidInput(
                f"cannot create directory {parent}: a file is in the way",
                hint="remove or rename that file, or check out somewhere else",
            ) from exc


class LocalStore(TreeMixin):
    """Objects under a local directory. Safe for many threads and processes at once."""

    def __init__(self, root: StrPath) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = self.root.as_uri()
        self._root = os.fspath(self.root)
        self._tmp = os.path.join(self._root, "tmp")
        self._host = socket.gethostname().replace("/", "_")
        self._sync = FileSync()
        self._ready = False

    def __repr__(self) -> str:
        return f"LocalStore({self._root!r})"

    # -- layout ---------------------------------------------------------------------------

    def _path(self, content_id: str) -> str:
        hexdigits = id_hex(content_id)
        return os.path.join(self._root, hexdigits[:2], hexdigits[2:])

    def _store_temp(self, _dest: str) -> str:
        # pid and host in the name let cleanup tell a dead writer's file from a live one's.
        name = f"{secrets.token_hex(8)}.{os.getpid()}.{self._host}"
        return os.path.join(self._tmp, name)

    def _prepare_write(self) -> None:
        if self._ready:
            return
        try:
            if not os.path.isdir(os.path.join(self._root, FAN_OUT[-1])):
                os.makedirs(self._tmp, exist_ok=True)
                for name in FAN_OUT:
                    os.makedirs(os.path.join(self._root, name), exist_ok=True)
                self._sync.sync_dir(self._root)
                self._sync.sync_dir(os.path.dirname(self._root))
            os.makedirs(self._tmp, exist_ok=True)
        except (PermissionError, FileExistsError, NotADirectoryError) as exc:
            raise ConfigError(
                f"cannot create the object store at {self._root}: {exc.strerror}",
                hint="choose a writable directory (MONOLOOP_STORE_URL) or fix its permissions",
            ) from exc
        self._clean_temps()
        self._ready = True

    def _writer_gone(self, name: str, mtime: float) -> bool:
        parts = name.split(".", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2] == self._host:
            pid = int(parts[1])
            if pid == os.getpid():
                return False
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
            return False
        return time.time() - mtime > FOREIGN_TMP_MAX_AGE

    def _clean_temps(self) -> list[str]:
        removed: list[str] = []
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return removed
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                if self._writer_gone(entry.name, entry.stat(follow_symlinks=False).st_mtime):
                    os.unlink(entry.path)
                    removed.append(entry.path)
        return removed

    # -- writing --------------------------------------------------------------------------

    def _staged(self, count: int) -> StagedFiles:
        return StagedFiles(self._sync, count, temp_for=self._store_temp, mode=0o444)

    def _put_one_path(self, path: StrPath, staged: StagedFiles) -> tuple[str, int]:
        src, size = open_source(path)
        try:
            if size < SMALL_FILE:
                data = read_all(src, size)
                return self._stage_bytes(data, staged), len(data)
            return self._stage_copy(src, size, staged)
        finally:
            os.close(src)

    def _stage_bytes(self, data: bytes | bytearray | memoryview, staged: StagedFiles) -> str:
        content_id = hash_bytes(data)
        dest = self._path(content_id)
        if not os.path.exists(dest):
            fd = staged.open(dest)
            try:
                write_all(fd, data)
            finally:
                staged.close(fd)
        return content_id

    def _stage_copy(self, src: int, size: int, staged: StagedFiles) -> tuple[str, int]:
        # The id is only known once the bytes are copied, so stage under a placeholder name.
        placeholder = os.path.join(self._tmp, f"pending-{secrets.token_hex(8)}")
        fd = staged.open(placeholder)
        try:
            content_id, copied = copy_hashing(src, fd, size, self._sync)
        except BaseException:
            staged.close(fd)
            staged.drop(placeholder)
            raise
        staged.close(fd)
        dest = self._path(content_id)
        staged.retarget(placeholder, None if os.path.exists(dest) else dest)
        return content_id, copied

    def put_sized(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None
    ) -> list[tuple[str, int]]:
        self._prepare_write()
        results: list[tuple[str, int]] = [("", 0)] * len(paths)
        staged = self._staged(len(paths))

        def work(i: int) -> None:
            results[i] = self._put_one_path(paths[i], staged)

        try:
            run_batches(work, len(paths), progress)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        return results

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        self._prepare_write()
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
        self._prepare_write()
        staged = self._staged(1)
        placeholder = os.path.join(self._tmp, f"pending-{secrets.token_hex(8)}")
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
            dest = self._path(content_id)
            staged.retarget(placeholder, None if os.path.exists(dest) else dest)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        return content_id

    # -- reading --------------------------------------------------------------------------

    def _open_object(self, content_id: str) -> int:
        try:
            return os.open(self._path(content_id), _OPEN_READ)
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
        raw = os.fdopen(fd, "rb", buffering=0)
        return reader(raw, content_id, size, url=self.url)

    def _checkout_one(self, content_id: str, dest: str, staged: StagedFiles) -> None:
        src = self._open_object(content_id)
        try:
            size = os.fstat(src).st_size
            if size < SMALL_FILE:
                data = read_all(src, size)
                if hash_bytes(data) != content_id:
                    raise corrupt(content_id, self.url, "its bytes do not match the id")
                fd = staged.open(dest)
                try:
                    write_all(fd, data)
                finally:
                    staged.close(fd)
                return
            fd = staged.open(dest)
            try:
                actual, _ = copy_hashing(src, fd, size, self._sync)
            finally:
                staged.close(fd)
            if actual != content_id:
                raise corrupt(content_id, self.url, "its bytes do not match the id")
        finally:
            os.close(src)

    def get_files(
        self, items: Sequence[tuple[str, StrPath]], *, progress: Progress | None = None
    ) -> None:
        checked = [(parse_id(content_id), os.fspath(dest)) for content_id, dest in items]
        for _, dest in checked:
            if os.path.isdir(dest):
                raise InvalidInput(
                    f"cannot write {dest}: it is a directory", hint="pass a file path"
                )
        make_parents([os.path.abspath(dest) for _, dest in checked])
        staged = StagedFiles(self._sync, len(checked), temp_for=checkout_temp, mode=0o666)

        def work(i: int) -> None:
            self._checkout_one(checked[i][0], os.path.abspath(checked[i][1]), staged)

        try:
            run_batches(work, len(checked), progress)
            staged.commit()
        except BaseException:
            staged.discard()
            raise

    def get_file(self, content_id: str, dest: StrPath) -> None:
        self.get_files([(content_id, dest)])

    # -- inspecting -----------------------------------------------------------------------

    def exists(self, content_id: str) -> bool:
        return os.path.exists(self._path(content_id))

    def size(self, content_id: str) -> int:
        try:
            return os.stat(self._path(content_id)).st_size
        except FileNotFoundError:
            raise not_found(content_id, self.url) from None

    def verify(self, content_id: str) -> None:
        path = self._path(content_id)
        try:
            actual = hash_file(path)
        except InvalidInput:
            raise not_found(content_id, self.url) from None
        if actual != content_id:
            raise corrupt(content_id, self.url, f"its bytes hash to {actual}")

    def _scan(self) -> Iterator[tuple[str | None, str]]:
        for fan in FAN_OUT:
            try:
                names = sorted(os.listdir(os.path.join(self._root, fan)))
            except FileNotFoundError:
                continue
            for name in names:
                candidate = ID_PREFIX + fan + name
                ok = len(name) == HEX_LEN - 2 and name == name.lower()
                yield (
                    (candidate if ok and _is_hex(name) else None),
                    os.path.join(self._root, fan, name),
                )

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
        verdicts: list[tuple[bool, int]] = [(True, 0)] * len(ids)

        def work(i: int) -> None:
            content_id, path = ids[i]
            try:
                verdicts[i] = (hash_file(path) == content_id, os.stat(path).st_size)
            except (OSError, InvalidInput):
                verdicts[i] = (False, 0)

        run_batches(work, len(ids), progress, workers=max(2, (os.cpu_count() or 1)))
        report.checked = len(ids)
        report.bytes_checked = sum(size for _, size in verdicts)
        report.corrupt = [
            cid for (cid, _), (good, _) in zip(ids, verdicts, strict=True) if not good
        ]
        if quarantine and report.corrupt:
            where = os.path.join(self._root, "quarantine")
            os.makedirs(where, exist_ok=True)
            for content_id in report.corrupt:
                os.replace(
                    self._path(content_id), os.path.join(where, content_id.replace(":", "-"))
                )
                report.quarantined.append(content_id)
            self._sync.sync_dir(where)
        return report


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
