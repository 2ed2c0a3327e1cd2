"""LocalStore: objects as read-only files under a directory, `root/ab/cdef…`.

Writes go through `fsio` (temp file, one durability barrier per batch, rename), so a
crash leaves either the complete object or no object. Temp files go to
`root/tmp/<lane>/`, one lane per writer thread, so that parallel creates do not queue on
one directory's lock. Orphaned temp files (a writer was killed) are removed by the first
write of each LocalStore and by fsck, only once their writer is gone: a temp file's name
carries the writer's pid and host, and a live pid on this host is never touched. Temp
files from another host (a shared network disk) are removed once an hour old.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import blake3

from monoloop.errors import ConfigError, InvalidInput, ObjectNotFound
from monoloop.hashing import ID_PREFIX, hash_bytes, hash_file, id_from_digest, id_hex, is_id
from monoloop.store import packs
from monoloop.store.fsio import (
    COPY_CHUNK,
    FAN_OUT,
    FOREIGN_TMP_MAX_AGE,
    FSYNC_EACH_MAX,
    OPEN_READ,
    SMALL_FILE,
    TMP_LANES,
    WORKERS,
    FileSync,
    Heavy,
    StagedFiles,
    copy_hashing,
    make_dir,
    open_source,
    prepare_checkout,
    read_all,
    run_split,
    write_all,
)
from monoloop.store.local_packs import NO_LINK, LocalPacks
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
from monoloop.store.pack_stream import PackStream

# `present` lists a fan-out directory (rather than stat each id in it) for at least this
# many ids, when the directory's size suggests at most ~8 entries per id asked (a directory
# entry for a 62-character name takes about 72 bytes).
LIST_FROM = 16
LIST_BYTES_PER_ID = 8 * 72


class LocalStore(LocalPacks, TreeMixin):
    """Objects under a local directory. Safe for many threads and processes at once."""

    def __init__(self, root: StrPath) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = self.root.as_uri()
        self._root = os.fspath(self.root)
        self._tmp = os.path.join(self._root, "tmp")
        self._packs_dir = os.path.join(self._root, packs.DIR)
        self._fan = [os.path.join(self._root, name) + os.sep for name in FAN_OUT]
        self._lanes = [os.path.join(self._tmp, str(i)) + os.sep for i in range(TMP_LANES)]
        self._host = os.uname().nodename.replace("/", "_")  # what socket.gethostname() says
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
            # Fan-out directories are made as objects need them (StagedFiles.commit): a
            # push of packs to a new remote needs one; 256 mkdirs took 0.23 s here.
            if not os.path.isdir(self._tmp):
                os.makedirs(self._tmp, exist_ok=True)
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
        token, suffix = os.urandom(6).hex(), f".{os.getpid()}.{self._host}"
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
        self._stage_known(content_id, data, staged)
        return content_id

    def _stage_known(
        self, content_id: str, data: bytes | bytearray | memoryview, staged: StagedFiles
    ) -> None:
        dest = self._own_path(content_id)
        if not os.path.exists(dest):
            fd = staged.open(dest)
            try:
                write_all(fd, data)
            finally:
                staged.close(fd)

    def _stage_copy(self, path: StrPath, staged: StagedFiles) -> tuple[str, int]:
        src, size = open_source(path)
        # The id is known only once the bytes are copied: stage under a placeholder first.
        placeholder = f"{self._tmp}/pending-{os.urandom(8).hex()}"
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
        self, paths: Sequence[StrPath], *, progress: Progress | None = None, pack: bool = False
    ) -> list[tuple[str, int]]:
        """Store files: (id, size) each. With pack=True, a batch of at least
        packs.MIN_OBJECTS paths puts its small objects into packs (`store.pack_stream`)
        instead of one file each."""
        self.prepare()
        results: list[tuple[str, int]] = [("", 0)] * len(paths)
        staged = self._staged(len(paths))
        stream = (
            PackStream(self._temp_path, self._sync)
            if pack and len(paths) >= packs.MIN_OBJECTS
            else None
        )
        table = self._packs() if stream is not None else {}

        def light(i: int) -> Heavy | None:
            src, size = open_source(paths[i])
            try:
                if size >= SMALL_FILE:
                    return lambda: results.__setitem__(i, self._stage_copy(paths[i], staged))
                data = read_all(src, size)
            finally:
                os.close(src)
            if stream is None or len(data) > packs.OBJECT_MAX:
                results[i] = (self._stage_bytes(data, staged), len(data))
                return None
            content_id = hash_bytes(data)
            if content_id not in table and not os.path.exists(self._own_path(content_id)):
                stream.add(content_id, data)
            results[i] = (content_id, len(data))
            return None

        try:
            run_split(len(paths), light, progress, WORKERS, spread=True)
            if stream is not None:
                self._publish_stream(stream, staged)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        finally:
            if stream is not None:
                stream.discard()
        return results

    def _publish_stream(self, stream: PackStream, staged: StagedFiles) -> None:
        for done in stream.finish():
            if len(done.entries) < packs.MIN_OBJECTS:  # too few to be worth a pack
                for content_id, data in stream.read_back(done):
                    self._stage_known(content_id, data, staged)
            else:
                self._publish_pack(done.path, done.index)

    def put_links(
        self, items: Sequence[tuple[str, str]], *, progress: Progress | None = None
    ) -> list[tuple[str, int]]:
        """Store objects of another local store, given as (id, path there), by hard link
        where the file system allows, as `git clone` does between local repositories:
        objects are immutable and read-only, so both stores can share the bytes. Each is
        checked against its id first: (id of what is there, size) per item, as put_sized
        gives. Those that cannot be linked (another file system, links not permitted) are
        copied."""
        self.prepare()
        results: list[tuple[str, int]] = [("", 0)] * len(items)
        copies: list[int] = []
        linked: set[str] = set()  # directories that gained an entry
        made = False
        for k, (content_id, path) in enumerate(items):
            dest = self._path(content_id)
            actual = hash_file(path)
            results[k] = (actual, os.stat(path).st_size)
            if actual != content_id or os.path.exists(dest):
                continue  # corrupt (the caller says so) or already here
            try:
                made |= make_dir(os.path.dirname(dest))
                os.link(path, dest)
            except FileExistsError:
                continue  # another writer stored it meanwhile
            except OSError as exc:
                if exc.errno not in NO_LINK:
                    raise
                copies.append(k)
                continue
            linked.add(os.path.dirname(dest))
            if progress is not None:
                progress(1)
        if len(linked) > FSYNC_EACH_MAX and self._sync.can_sync_filesystem:
            self._sync.sync_filesystem(self._root)
        else:
            for where in linked:
                self._sync.sync_dir(where)
            if made:  # a new fan-out directory's own entry
                self._sync.sync_dir(self._root)
        if copies:
            got = self.put_sized([items[k][1] for k in copies], progress=progress)
            for k, pair in zip(copies, got, strict=True):
                results[k] = pair
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

    def put_checked(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store (id, bytes) pairs whose bytes this process has just checked against the
        id (read from a pack), as loose objects, durably as one batch."""
        self.prepare()
        staged = self._staged(len(items))
        try:
            for content_id, data in items:
                self._stage_known(content_id, data, staged)
            staged.commit()
        except BaseException:
            staged.discard()
            raise

    def _temp_path(self) -> str:
        # pid and host in the name: the temp clean-up tells a dead writer's file by them.
        return f"{self._lanes[0]}{os.urandom(6).hex()}.{os.getpid()}.{self._host}"

    def put_stream(self, stream: Readable) -> str:
        self.prepare()
        staged = self._staged(1)
        placeholder = f"{self._tmp}/pending-{os.urandom(8).hex()}"
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

    def _open_or_packed(self, content_id: str, *, checked: bool = False) -> int | bytes:
        """An fd on the object's own file, or, for a packed object, its verified bytes."""
        try:
            return self._open_object(content_id, checked=checked)
        except ObjectNotFound:
            where = self._locate(content_id)
            if where is None:
                raise
            return self._packed_bytes(content_id, where)

    def get(self, content_id: str) -> bytes:
        fd = self._open_or_packed(content_id)
        if isinstance(fd, bytes):
            return fd
        try:
            data = read_all(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        if hash_bytes(data) != content_id:
            raise corrupt(content_id, self.url, "its bytes do not match the id")
        return data

    def open(self, content_id: str) -> BinaryIO:
        fd = self._open_or_packed(content_id)
        if isinstance(fd, bytes):
            return reader(io.BytesIO(fd), content_id, len(fd), url=self.url)
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
            src = self._open_or_packed(content_id, checked=True)
            if isinstance(src, bytes):
                data = src  # verified
            else:
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

    def path_of(self, content_id: str) -> str:
        """Where an object's bytes are or would be (no check that it is there)."""
        return self._path(content_id)

    def present(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are stored, on this thread (a thread pool's hand-offs cost more
        than local lookups). Ids are grouped by fan-out directory: a directory that holds
        not many more entries than the ids asked of it is listed once (one read returns
        dozens of names), a large one is asked with a stat per id, a missing one not at all.
        """
        # Packs first: `data add` packs small objects, and their table is in memory.
        table = self._packs()
        by_fan: dict[int, list[str]] = {}
        found: set[str] = set()
        for content_id in ids:
            if content_id in table:  # a key of the table is a valid id
                found.add(content_id)
            else:
                by_fan.setdefault(int(id_hex(content_id)[:2], 16), []).append(content_id)
        for fan, wanted in by_fan.items():
            where = self._fan[fan]
            try:
                size = os.stat(where).st_size
            except FileNotFoundError:
                continue
            if len(wanted) >= LIST_FROM and size <= len(wanted) * LIST_BYTES_PER_ID:
                try:
                    names = set(os.listdir(where))
                except FileNotFoundError:
                    continue
                found.update(i for i in wanted if i[5:] in names)
            else:
                found.update(i for i in wanted if os.path.exists(where + i[5:]))
        lacking = [i for wanted in by_fan.values() for i in wanted if i not in found]
        if lacking:  # a pack added since the table was read: look once more
            found |= self.in_packs(lacking)
        return found

    def remove(self, content_id: str) -> None:
        """Delete one object (garbage collection decides which; nothing else should)."""
        try:
            os.unlink(self._path(content_id))
        except FileNotFoundError:
            raise not_found(content_id, self.url) from None

    def exists(self, content_id: str) -> bool:
        return os.path.exists(self._path(content_id)) or self._locate(content_id) is not None

    def size(self, content_id: str) -> int:
        try:
            return os.stat(self._path(content_id)).st_size
        except FileNotFoundError:
            where = self._locate(content_id)
            if where is None:
                raise not_found(content_id, self.url) from None
            return where.size

    def verify(self, content_id: str) -> None:
        path = self._path(content_id)
        if not os.path.exists(path):
            where = self._locate(content_id)
            if where is None:
                raise not_found(content_id, self.url)
            self._packed_bytes(content_id, where)
            return
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

    def iter_loose(self) -> Iterator[str]:
        """The ids stored as files of their own (what `remove` can delete)."""
        for content_id, _ in self._scan():
            if content_id is not None:
                yield content_id

    def iter(self) -> Iterator[str]:
        loose = set()
        for content_id in self.iter_loose():
            loose.add(content_id)
            yield content_id
        yield from (i for i in self.packed_ids() if i not in loose)

    def fsck(self, *, progress: Progress | None = None, quarantine: bool = False) -> FsckReport:
        """Verify every object, remove orphaned temp files, report strays (left alone).

        Corrupt objects are reported and left in place; with quarantine=True they are moved
        to `root/quarantine/` so that putting the original bytes again restores them.
        """
        report = FsckReport(removed_temp=self._clean_temps())
        found = list(self._scan())
        report.stray = [path for content_id, path in found if content_id is None]
        # A pack no index names (its writer was killed before the index): unseen, and
        # replaced when the same batch is written again; reported, left alone (gc removes
        # it once older than its grace period).
        report.stray += self.stray_pack_files()
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
        in_packs, packed_bytes, packed_bad, damaged = self.fsck_packs()
        report.checked = len(ids) + in_packs
        report.bytes_checked = sum(sizes) + packed_bytes
        report.corrupt = sorted(bad)
        report.corrupt_packed = packed_bad
        report.damaged_pack_indexes = damaged
        if quarantine and report.corrupt:  # packed objects stay: packs are never changed
            where = os.path.join(self._root, "quarantine")
            os.makedirs(where, exist_ok=True)
            for content_id in report.corrupt:
                target = os.path.join(where, content_id.replace(":", "-"))
                os.replace(self._own_path(content_id), target)
                report.quarantined.append(content_id)
            self._sync.sync_dir(where)
        return report
