"""FsspecStore: objects behind any fsspec URL (`s3://bucket/prefix`, `gs://…`, `memory://…`).

Layout matches LocalStore: `<url>/ab/cdef…`. On object stores (S3, GCS, Azure, memory) a
single PUT, or a multipart upload's completion, is atomic: the key appears complete or not
at all, so the final key is written directly. On other fsspec filesystems (sftp, smb, …)
bytes go to `<url>/tmp/…` first and are moved into place. Everything read back is
verified against its id, so an object damaged at rest is reported, never returned.

Incomplete S3 multipart uploads left by a killed writer are invisible and are not listed
here; an S3 lifecycle rule (AbortIncompleteMultipartUpload) reclaims them.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, cast

import blake3

from monoloop.errors import (
    ConfigError,
    ConnectionFailed,
    CorruptObject,
    InvalidInput,
    MonoloopError,
    ObjectNotFound,
)
from monoloop.hashing import ID_PREFIX, hash_bytes, id_from_digest, id_hex, is_id
from monoloop.store import packs
from monoloop.store.fsio import (
    COPY_CHUNK,
    FOREIGN_TMP_MAX_AGE,
    SMALL_FILE,
    FileSync,
    Heavy,
    StagedFiles,
    contents,
    open_source,
    prepare_checkout,
    read_all,
    run_split,
    write_all,
)
from monoloop.store.objects import (
    READ_CHUNK,
    FsckReport,
    Progress,
    Readable,
    StrPath,
    TreeMixin,
    VerifyingReader,
    corrupt,
    not_found,
    reader,
    redact,
)
from monoloop.store.packed import PackedReads

ATOMIC_PUT_PROTOCOLS = frozenset(
    {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"}
)
REMOTE_WORKERS = 16  # network round trips dominate, so more threads than cores pay off
CONNECTION_MODULES = frozenset(
    {"botocore", "aiobotocore", "aiohttp", "urllib3", "requests", "google", "azure", "s3fs"}
)


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    return type(exc).__module__.split(".")[0] in CONNECTION_MODULES


class FsspecStore(PackedReads, TreeMixin):
    """Objects behind an fsspec URL. `options` go to the filesystem (credentials, endpoint)."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = redact(url.rstrip("/"))
        try:
            self._fs, root = fsspec.core.url_to_fs(url, **(options or {}))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"invalid options for the object store {self.url}: {exc}",
                hint="check the store options (e.g. endpoint_url, key, secret for s3://)",
            ) from exc
        self._root = str(root).rstrip("/")
        protocols = self._fs.protocol
        names = {protocols} if isinstance(protocols, str) else set(protocols)
        self._atomic_put = bool(names & ATOMIC_PUT_PROTOCOLS)
        # memory:// hands every reader the same file object, and shows a file being written
        # before it is closed: read it whole, write it whole.
        self._shared_handles = "memory" in names
        self._sync = FileSync()

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _key(self, content_id: str) -> str:
        hexdigits = id_hex(content_id)
        return f"{self._root}/{hexdigits[:2]}/{hexdigits[2:]}"

    @contextlib.contextmanager
    def _remote(self, action: str) -> Iterator[None]:
        """Turn a backend's network or permission failure into ConnectionFailed."""
        try:
            yield
        except (MonoloopError, FileNotFoundError):
            raise
        except PermissionError as exc:
            raise ConnectionFailed(
                f"the object store {self.url} refused to {action}: access denied",
                hint="check the credentials (AWS_* variables or store options) and their rights",
            ) from exc
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            hint = (
                "set credentials (e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, "
                "or key/secret in the store options)"
                if "credential" in reason.lower()
                else "check the store URL, endpoint and network, then retry "
                "(MONOLOOP_STORE_URL or the store options)"
            )
            raise ConnectionFailed(
                f"cannot reach the object store {self.url} to {action}: {reason}", hint=hint
            ) from exc

    def _temp_key(self) -> str:
        return "/".join((self._root, "tmp", secrets.token_hex(8)))

    def _missing_bucket(self, exc: FileNotFoundError) -> ConnectionFailed:
        return ConnectionFailed(
            f"cannot write to the object store {self.url}: {exc}",
            hint="check that the bucket or container exists and the URL names it",
        )

    def _exists_key(self, key: str) -> bool:
        with self._remote("look up an object"):
            return bool(self._fs.exists(key))

    def _put_key(self, key: str, data: bytes) -> None:
        target = key if self._atomic_put else self._temp_key()
        with self._remote("write an object"):
            try:
                self._fs.pipe_file(target, data)
                if target != key:
                    self._fs.mv(target, key)
            except FileNotFoundError as exc:
                raise self._missing_bucket(exc) from exc

    def _upload(self, src: BinaryIO | int, key: str, expected: str) -> None:
        """Stream src to key, hashing again; bytes that no longer match `expected` are not
        committed (the source file changed after it was hashed)."""

        def chunks() -> Iterator[bytes]:
            while chunk := (
                os.read(src, COPY_CHUNK) if isinstance(src, int) else src.read(COPY_CHUNK)
            ):
                yield chunk

        changed = InvalidInput(
            f"the file for {expected} changed while it was being stored",
            hint="store it again once nothing is writing to it",
        )
        if self._shared_handles:
            data = b"".join(chunks())
            if hash_bytes(data) != expected:
                raise changed
            self._put_key(key, data)
            return
        target = key if self._atomic_put else self._temp_key()
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        with self._remote("write an object"):
            try:
                out = self._fs.open(target, "wb", block_size=COPY_CHUNK)
            except FileNotFoundError as exc:
                raise self._missing_bucket(exc) from exc
            try:
                for chunk in chunks():
                    hasher.update(chunk)
                    out.write(chunk)
                if id_from_digest(hasher.hexdigest()) != expected:
                    raise changed
            except BaseException:
                # Closing would commit the upload; discard aborts it (S3 multipart abort).
                with contextlib.suppress(Exception):
                    out.discard()
                with contextlib.suppress(Exception):
                    self._fs.rm(target)
                raise
            out.close()
            if target != key:
                self._fs.mv(target, key)

    # -- writing --------------------------------------------------------------------------

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        content_id = hash_bytes(data)
        key = self._key(content_id)
        if not self._exists_key(key):
            self._put_key(key, bytes(data))
        return content_id

    def _put_path(self, path: StrPath) -> tuple[str, int]:
        src, size = open_source(path)
        try:
            if size < SMALL_FILE:
                data = read_all(src, size)
                return self.put_bytes(data), len(data)
            # Hash first so an object already stored is not uploaded again; the upload
            # re-hashes to catch the file changing in between.
            hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
            while chunk := os.read(src, COPY_CHUNK):
                hasher.update(chunk)
            content_id = id_from_digest(hasher.hexdigest())
            key = self._key(content_id)
            if not self._exists_key(key):
                os.lseek(src, 0, os.SEEK_SET)
                self._upload(src, key, content_id)
            return content_id, size
        finally:
            os.close(src)

    def put_file(self, path: StrPath) -> str:
        return self._put_path(path)[0]

    def put_sized(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None, pack: bool = False
    ) -> list[tuple[str, int]]:
        results: list[tuple[str, int]] = [("", 0)] * len(paths)
        groups: list[list[int]] = []
        loose = list(range(len(paths)))
        if pack and len(paths) >= packs.MIN_OBJECTS:
            sizes = {str(i): _size_of(path) for i, path in enumerate(paths)}
            planned, rest = packs.plan(list(sizes), sizes)
            groups = [[int(i) for i in group] for group in planned]
            loose = [int(i) for i in rest]
        for group in groups:  # one pack and one index per group: two writes, not hundreds
            stored = self.put_pack([paths[i] for i in group])
            for i, got in zip(group, stored, strict=True):
                results[i] = got
            if progress is not None:
                progress(len(group))

        def light(k: int) -> Heavy:
            i = loose[k]
            return lambda: results.__setitem__(i, self._put_path(paths[i]))

        run_split(len(loose), light, progress, REMOTE_WORKERS)
        return results

    def put_pack(self, items: Sequence[StrPath | bytes]) -> list[tuple[str, int]]:
        """Store small objects (files, or bytes) as one pack (see `store.packs`): two
        writes, the pack before its index, each complete or absent (one PUT, or temp +
        move)."""
        built = packs.build(contents(item) for item in items)
        base = f"{self._root}/{packs.DIR}/{built.name}"
        self._put_key(base + packs.PACK_SUFFIX, b"".join(built.chunks))
        self._put_key(base + packs.INDEX_SUFFIX, built.index)
        self._forget_packs()
        return built.stored

    def adopt_pack(self, data: bytes, index: bytes, name: str, *, source: str) -> list[str]:
        """Store a pack from another store as it is, once every object in it has been
        checked against its id; the ids it holds. The pack goes before its index."""
        held = packs.checked_members(data, index, name, source=source)
        base = f"{self._root}/{packs.DIR}/{name}"
        self._put_key(base + packs.PACK_SUFFIX, data)
        self._put_key(base + packs.INDEX_SUFFIX, index)
        self._forget_packs()
        return held

    # -- packs (store.packed) ------------------------------------------------------------

    def _pack_index_names(self) -> list[str]:
        where = f"{self._root}/{packs.DIR}"
        with self._remote("list pack files"):
            self._fs.invalidate_cache(where)
            try:
                found = self._fs.ls(where, detail=False)
            except FileNotFoundError:
                return []
        names = (packs.is_index_name(str(path).rstrip("/").rsplit("/", 1)[-1]) for path in found)
        return sorted(n for n in names if n is not None)

    def _pack_index_bytes(self, name: str) -> bytes:
        with self._remote("read a pack index"):
            return bytes(self._fs.cat_file(f"{self._root}/{packs.DIR}/{name}{packs.INDEX_SUFFIX}"))

    def _pack_range(self, pack: str, offset: int, size: int) -> bytes:
        key = f"{self._root}/{packs.DIR}/{pack}{packs.PACK_SUFFIX}"
        with self._remote("read a pack"):
            return bytes(self._fs.cat_file(key, start=offset, end=offset + size))

    def _pack_ranges(self, pack: str, spans: list[tuple[int, int]]) -> list[bytes]:
        if len(spans) < 8:
            return [self._pack_range(pack, offset, size) for offset, size in spans]
        # Many objects of one pack: one request for the span that covers them all.
        start = min(offset for offset, _ in spans)
        end = max(offset + size for offset, size in spans)
        whole = self._pack_range(pack, start, end - start)
        return [whole[offset - start : offset - start + size] for offset, size in spans]

    def put_stream(self, stream: Readable) -> str:
        # The key is the id, known only at the end: spool locally, then upload once.
        with tempfile.SpooledTemporaryFile(max_size=SMALL_FILE) as spool:
            hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
            while chunk := stream.read(COPY_CHUNK):
                hasher.update(chunk)
                spool.write(chunk)
            content_id = id_from_digest(hasher.hexdigest())
            key = self._key(content_id)
            if not self._exists_key(key):
                spool.seek(0)
                self._upload(cast(BinaryIO, spool), key, content_id)
        return content_id

    # -- reading --------------------------------------------------------------------------

    def _open_key(self, content_id: str) -> tuple[Any, int]:
        key = self._key(content_id)
        with self._remote("read an object"):
            try:
                if self._shared_handles:
                    data = self._fs.cat_file(key)
                    return io.BytesIO(data), len(data)
                handle = self._fs.open(key, "rb", block_size=COPY_CHUNK)
            except FileNotFoundError:
                where = self._locate(content_id)
                if where is None:
                    raise not_found(content_id, self.url) from None
                return io.BytesIO(self._packed_bytes(content_id, where)), where.size
            size = getattr(handle, "size", None)
            return handle, int(size if size is not None else self._fs.size(key))

    def get(self, content_id: str) -> bytes:
        key = self._key(content_id)
        with self._remote("read an object"):
            try:
                data: bytes = self._fs.cat_file(key)
            except FileNotFoundError:
                where = self._locate(content_id)
                if where is None:
                    raise not_found(content_id, self.url) from None
                return self._packed_bytes(content_id, where)
        if hash_bytes(data) != content_id:
            raise corrupt(content_id, self.url, "its bytes do not match the id")
        return data

    def open(self, content_id: str) -> BinaryIO:
        handle, size = self._open_key(content_id)
        return reader(handle, content_id, size, url=self.url)

    def _checkout_one(self, content_id: str, dest: str, staged: StagedFiles) -> None:
        if self.size(content_id) < SMALL_FILE:
            data = self.get(content_id)  # one request, verified before anything is written
            fd = staged.open(dest)
            try:
                write_all(fd, data)
            finally:
                staged.close(fd)
            return
        handle, size = self._open_key(content_id)
        source = VerifyingReader(handle, content_id, size, url=self.url)
        try:
            fd = staged.open(dest)
            try:
                while True:
                    with self._remote("read an object"):
                        chunk = source.read(COPY_CHUNK)
                    if not chunk:  # the reader has checked the id by now
                        break
                    write_all(fd, chunk)
            finally:
                staged.close(fd)
        finally:
            source.abandon()

    def get_files(
        self, items: Sequence[tuple[str, StrPath]], *, progress: Progress | None = None
    ) -> None:
        checked, staged = prepare_checkout(items, self._sync)

        def light(i: int) -> Heavy:
            return lambda: self._checkout_one(checked[i][0], checked[i][1], staged)

        try:
            run_split(len(checked), light, progress, REMOTE_WORKERS)
            staged.commit()
        except BaseException:
            staged.discard()
            raise

    def get_file(self, content_id: str, dest: StrPath) -> None:
        self.get_files([(content_id, dest)])

    # -- inspecting -----------------------------------------------------------------------

    def exists(self, content_id: str) -> bool:
        return self._exists_key(self._key(content_id)) or self._locate(content_id) is not None

    def present(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are stored: one listing for many ids, else a request each (in
        parallel: network round trips dominate)."""
        wanted = list(dict.fromkeys(ids))
        if len(wanted) > 256:
            chosen = set(wanted)
            return {i for i in self.iter() if i in chosen}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=REMOTE_WORKERS) as pool:
            flags = list(pool.map(lambda i: self._exists_key(self._key(i)), wanted))
        found = {i for i, there in zip(wanted, flags, strict=True) if there}
        if len(found) < len(wanted):
            found |= self.in_packs(i for i in wanted if i not in found)
        return found

    def size(self, content_id: str) -> int:
        with self._remote("look up an object"):
            try:
                return int(self._fs.size(self._key(content_id)))
            except FileNotFoundError:
                pass
        where = self._locate(content_id)
        if where is None:
            raise not_found(content_id, self.url)
        return where.size

    def verify(self, content_id: str) -> None:
        source = self.open(content_id)
        with self._remote("read an object"):
            while source.read(READ_CHUNK):
                pass
            source.close()

    def _listing(self) -> dict[str, int]:
        """Every key under the root with its size."""
        with self._remote("list objects"):
            # Another writer may have added objects since a cached listing was taken.
            self._fs.invalidate_cache(self._root)
            try:
                found = self._fs.find(self._root, detail=True)
            except FileNotFoundError:
                return {}
        return {path: int(info.get("size") or 0) for path, info in sorted(found.items())}

    def _relative(self, path: str) -> str:
        prefix = self._root.strip("/")
        rel = path.strip("/")
        return rel[len(prefix) :].lstrip("/") if prefix and rel.startswith(prefix) else rel

    def iter(self) -> Iterator[str]:
        loose = set()
        for path in self._listing():
            candidate = ID_PREFIX + self._relative(path).replace("/", "", 1)
            if "/" in self._relative(path) and is_id(candidate):
                loose.add(candidate)
                yield candidate
        yield from (i for i in self.packed_ids() if i not in loose)

    def fsck(self, *, progress: Progress | None = None, quarantine: bool = False) -> FsckReport:
        """Verify every object; remove temp keys over an hour old; corrupt objects are reported
        and, with quarantine=True, moved to `<url>/quarantine/` so a new put restores them."""
        report = FsckReport()
        ids: list[str] = []
        listing = self._listing()
        for path in listing:
            rel = self._relative(path)
            candidate = ID_PREFIX + rel.replace("/", "", 1)
            if rel.startswith("tmp/"):
                with self._remote("clean temp objects"):
                    modified = self._fs.modified(path).timestamp()
                    if time.time() - modified > FOREIGN_TMP_MAX_AGE:
                        self._fs.rm(path)
                        report.removed_temp.append(path)
            elif rel.startswith(f"{packs.DIR}/"):
                # Checked below, through their indexes; a pack no index names is reported.
                name = rel[len(packs.DIR) + 1 :]
                index = name[: -len(packs.PACK_SUFFIX)] + packs.INDEX_SUFFIX
                if packs.is_index_name(name) is None and not (
                    name.endswith(packs.PACK_SUFFIX)
                    and path.rsplit("/", 1)[0] + "/" + index in listing
                ):
                    report.stray.append(path)
            elif rel.startswith("quarantine/"):
                continue
            elif len(rel) > 2 and rel[2] == "/" and is_id(candidate):
                ids.append(candidate)
            else:
                report.stray.append(path)
        verdicts = [True] * len(ids)

        def check(i: int) -> None:
            try:
                self.verify(ids[i])
            except (CorruptObject, ObjectNotFound):
                verdicts[i] = False

        run_split(len(ids), lambda i: lambda: check(i), progress, REMOTE_WORKERS)
        report.checked = len(ids)
        report.bytes_checked = sum(
            listing[self._key(cid)] for cid in ids if self._key(cid) in listing
        )
        report.corrupt = [cid for cid, good in zip(ids, verdicts, strict=True) if not good]
        in_packs, packed_bytes, report.corrupt_packed, report.damaged_pack_indexes = (
            self.fsck_packs()
        )
        report.checked += in_packs
        report.bytes_checked += packed_bytes
        if quarantine:  # packed objects stay: packs are never changed
            for content_id in report.corrupt:
                with self._remote("quarantine an object"):
                    self._fs.mv(
                        self._key(content_id),
                        f"{self._root}/quarantine/{content_id.replace(':', '-')}",
                    )
                report.quarantined.append(content_id)
        return report


def _size_of(path: StrPath) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return packs.OBJECT_MAX + 1  # left loose: storing it says what is wrong
