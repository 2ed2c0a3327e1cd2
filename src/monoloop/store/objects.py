"""The object store: immutable bytes named by their content id, on a local disk or behind fsspec.

`ObjectStore` is the contract every backend meets; `open_store` picks the backend for a URL.
What the backends share (manifests, verified reading, tree walking and checkout path safety)
lives here so the local and the remote store cannot drift apart on the rules.

Trust rule: bytes are checked against their id whenever they are read back (`get`, `open`,
`get_file`, `get_tree`, `verify`, `fsck`); nothing that fails the check reaches the caller.
"""

from __future__ import annotations

import io
import itertools
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, cast, runtime_checkable

from monoloop.canonical import canonical_json
from monoloop.errors import (
    ConfigError,
    CorruptObject,
    InvalidInput,
    ObjectNotFound,
    PathOutsideRoot,
)
from monoloop.hashing import Hasher, is_id

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Progress = Callable[[int], None]
"""Called with the number of items just finished; keeps progress bars out of the store layer."""

StrPath = str | os.PathLike[str]

MANIFEST_FORMAT = "monoloop.manifest/1"
READ_CHUNK = 1 << 20
MANIFESTS_KEPT = 8  # parsed manifests a store keeps (one of 100,000 files is ~20 MB)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    size: int
    id: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """A directory as data: each file's POSIX path relative to the directory, size and id.

    Empty directories, permissions and timestamps are not recorded: a manifest names content.
    """

    entries: tuple[ManifestEntry, ...]
    format: ClassVar[str] = MANIFEST_FORMAT

    @classmethod
    def of(cls, entries: Iterable[ManifestEntry]) -> Manifest:
        """A manifest of `entries`, sorted by path so one tree always gives one manifest id."""
        ordered = tuple(sorted(entries, key=lambda e: e.path))
        for before, after in itertools.pairwise(ordered):
            if before.path == after.path:
                raise InvalidInput(
                    f"manifest lists {before.path!r} twice",
                    hint="each path in a tree must appear once",
                )
        return cls(ordered)

    @property
    def total_size(self) -> int:
        return sum(entry.size for entry in self.entries)

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "format": MANIFEST_FORMAT,
                "entries": [{"path": e.path, "size": e.size, "id": e.id} for e in self.entries],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, content_id: str = "the object") -> Manifest:
        """Parse a manifest; InvalidInput if the bytes are not one (e.g. a plain file's id)."""
        import json

        def bad(reason: str) -> InvalidInput:
            return InvalidInput(
                f"{content_id} is not a monoloop manifest: {reason}",
                hint="pass the id printed for a directory (put_tree), not a file's id",
            )

        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad("it is not JSON") from exc
        if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
            raise bad(f"its format is not {MANIFEST_FORMAT!r}")
        raw_entries = doc.get("entries")
        if not isinstance(raw_entries, list):
            raise bad("'entries' is not a list")
        entries: list[ManifestEntry] = []
        for raw in raw_entries:
            if not (
                isinstance(raw, dict)
                and isinstance(raw.get("path"), str)
                and type(raw.get("size")) is int
                and raw["size"] >= 0
                and is_id(raw.get("id"))
            ):
                raise bad(f"entry {raw!r} needs a string path, a size >= 0 and a content id")
            entries.append(ManifestEntry(raw["path"], raw["size"], raw["id"]))
        return cls.of(entries)


@dataclass(slots=True)
class FsckReport:
    """What `fsck` found. Corrupt objects are reported, and moved aside only on request."""

    checked: int = 0
    bytes_checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    removed_temp: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    corrupt_packed: list[str] = field(default_factory=list)  # objects inside pack files
    damaged_pack_indexes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.corrupt_packed and not self.damaged_pack_indexes

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "bytes_checked": self.bytes_checked,
            "corrupt": list(self.corrupt),
            "quarantined": list(self.quarantined),
            "removed_temp": list(self.removed_temp),
            "stray": list(self.stray),
            "corrupt_packed": list(self.corrupt_packed),
            "damaged_pack_indexes": list(self.damaged_pack_indexes),
        }


@runtime_checkable
class ObjectStore(Protocol):
    """Content-addressed, immutable objects.

    Ids are validated everywhere (InvalidInput); a missing object raises ObjectNotFound.
    Puts are idempotent: an object already stored is never rewritten. Reads verify bytes
    against the id and raise CorruptObject rather than return bad data. Batch methods
    (put_files, put_tree, get_files, get_tree) commit all or nothing and call `progress`
    with the number of items just done, from the calling thread.
    """

    @property
    def url(self) -> str: ...

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str: ...
    def put_file(self, path: StrPath) -> str: ...
    def put_stream(self, stream: Readable) -> str: ...
    def put_files(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None, pack: bool = False
    ) -> list[str]:
        """Store files; with pack=True a large batch puts its small objects into pack
        files (see `store.packs`) rather than one object each."""
        ...

    def put_sized(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None, pack: bool = False
    ) -> list[tuple[str, int]]: ...
    def put_tree(self, directory: StrPath, *, progress: Progress | None = None) -> str:
        """Store every file under `directory` and then its manifest; returns the manifest id.
        Symbolic links and special files are refused."""
        ...

    def get(self, content_id: str) -> bytes: ...
    def open(self, content_id: str) -> BinaryIO:
        """A reader that raises CorruptObject instead of reaching the end of bad bytes."""
        ...

    def get_file(self, content_id: str, dest: StrPath) -> None:
        """Write the object to `dest` atomically, verified before it replaces anything."""
        ...

    def get_files(
        self, items: Sequence[tuple[str, StrPath]], *, progress: Progress | None = None
    ) -> None: ...
    def get_tree(
        self, manifest_id: str, dest_dir: StrPath, *, progress: Progress | None = None
    ) -> Manifest:
        """Write a put_tree directory under `dest_dir`; PathOutsideRoot for escaping paths."""
        ...

    def read_manifest(self, manifest_id: str) -> Manifest: ...
    def exists(self, content_id: str) -> bool: ...
    def present(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are stored, in as few requests as the backend allows."""
        ...

    def size(self, content_id: str) -> int: ...
    def verify(self, content_id: str) -> None: ...
    def iter(self) -> Iterator[str]: ...
    def fsck(self, *, progress: Progress | None = None, quarantine: bool = False) -> FsckReport:
        """Verify every object and remove orphaned temp files. Corrupt objects are reported;
        with quarantine=True they are also moved aside so a new put can restore them."""
        ...


def not_found(content_id: str, url: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"object {content_id} is not in the store {url}",
        hint="check the id and the store URL (MONOLOOP_STORE_URL); "
        "if it was stored elsewhere, copy it into this store first",
    )


def corrupt(content_id: str, url: str, detail: str) -> CorruptObject:
    return CorruptObject(
        f"object {content_id} in {url} is corrupt: {detail}",
        hint="run `monoloop store fsck` to find every damaged object; restore each from its "
        "original file (fsck with quarantine moves the damaged copy aside so a put can)",
    )


class VerifyingReader(io.BufferedIOBase):
    """Reads an object and checks it against its id before handing out the last bytes.

    A mismatch raises CorruptObject instead of the read that would reach the end, so a
    consumer never sees a clean end of file after bad bytes. Closing before the end reads
    the rest to check it, because bytes already handed out may have been bad.
    """

    def __init__(self, raw: Any, content_id: str, size: int, *, url: str) -> None:
        super().__init__()
        self._raw = raw
        self._id = content_id
        self._size = size
        self._url = url
        self._hasher = Hasher(threaded=size >= READ_CHUNK)
        self._pos = 0
        self._verdict: bool | None = None
        self._reported = False

    def readable(self) -> bool:
        return True

    def _check(self) -> None:
        if self._verdict is None:
            self._verdict = self._pos == self._size and self._hasher.hexid() == self._id
        if not self._verdict:
            self._reported = True
            raise corrupt(self._id, self._url, "its bytes do not match the id")

    def _take(self, data: bytes | memoryview) -> None:
        if data:
            self._pos += len(data)
            self._hasher.update(data)
        if not data or self._pos >= self._size:
            self._check()

    def read(self, size: int | None = -1, /) -> bytes:
        if self._verdict is not None:
            self._check()
            return b""
        if size is None or size < 0:
            return self.readall()
        data: bytes = self._raw.read(min(size, max(self._size - self._pos, 1)))
        self._take(data)
        return data

    read1 = read

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(max(READ_CHUNK, self._size - self._pos)):
            chunks.append(chunk)
        return b"".join(chunks)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if self._verdict is not None:
            self._check()
            return 0
        n = self._raw.readinto(view) or 0
        self._take(view[:n])
        return n

    readinto1 = readinto

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._verdict is None:
                while self.read(READ_CHUNK):
                    pass
            if not self._reported:
                self._check()
        finally:
            self._raw.close()
            super().close()

    def abandon(self) -> None:
        """Close without reading the rest: for callers that stop because of another error."""
        if not self.closed:
            self._raw.close()
            super().close()

    def __del__(self) -> None:
        # Garbage collection must not read gigabytes or raise; only an explicit close checks.
        if not self.closed:
            self._raw.close()


def reader(raw: Any, content_id: str, size: int, *, url: str) -> BinaryIO:
    return cast(BinaryIO, VerifyingReader(raw, content_id, size, url=url))


def _unportable(rel: str) -> bool:
    """A backslash or a drive letter: harmless here, a path elsewhere on Windows."""
    return "\\" in rel or (len(rel) > 1 and rel[1] == ":")


def walk_tree(directory: StrPath) -> list[tuple[str, Path]]:
    """Every regular file under `directory` as (relative POSIX path, path), sorted by path.

    Symbolic links are refused: a link could point outside the tree, and storing its target
    would silently copy data from elsewhere while restoring it could write elsewhere.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InvalidInput(
            f"cannot store {root} as a tree: it is not a directory",
            hint="pass a directory (a single file is stored with put_file)",
        )
    found: list[tuple[str, Path]] = []
    pending: list[tuple[str, str]] = [("", os.fspath(root))]
    while pending:
        prefix, where = pending.pop()
        with os.scandir(where) as it:
            for entry in it:
                rel = prefix + entry.name
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    raise InvalidInput(
                        f"{entry.path} is a symbolic link; trees with links are refused "
                        f"because a link can point outside {root}",
                        hint="replace the link with a copy of its target, or remove it",
                    )
                if _unportable(rel):
                    raise InvalidInput(
                        f"{entry.path}: names with a backslash, or a drive letter such as "
                        "'c:', would be paths elsewhere when restored on Windows",
                        hint="rename the file or directory",
                    )
                if stat.S_ISDIR(mode):
                    pending.append((rel + "/", entry.path))
                elif stat.S_ISREG(mode):
                    found.append((rel, Path(entry.path)))
                else:
                    raise InvalidInput(
                        f"{entry.path} is not a regular file or directory",
                        hint="remove sockets, pipes and device files from the tree",
                    )
    found.sort(key=lambda item: item[0])
    return found


def checkout_targets(manifest: Manifest, dest_dir: StrPath) -> list[tuple[str, Path]]:
    """(id, destination) for every entry, refusing any path that could land outside dest_dir.

    All paths are checked before anything is written, so a bad manifest changes nothing.
    """
    return [(cid, Path(path)) for cid, path in checked_targets(manifest, dest_dir)]


def checked_targets(manifest: Manifest, dest_dir: StrPath) -> list[tuple[str, str]]:
    """`checkout_targets` with plain string paths: string checks per entry (a manifest can
    list 100,000 files), each directory resolved once for symbolic links."""
    root = os.path.abspath(dest_dir)
    real_root = Path(root).resolve()
    targets: list[tuple[str, str]] = []
    inside: dict[str, bool] = {}
    for entry in manifest.entries:
        rel = entry.path
        parts = rel.split("/")
        if rel.startswith("/") or "\0" in rel or ".." in parts or _unportable(rel):
            raise PathOutsideRoot(
                f"manifest path {rel!r} would be written outside {root}",
                hint="manifest paths must be relative and must not contain '..'; "
                "this manifest was not made by put_tree and should not be trusted",
            )
        if "" in parts or "." in parts:
            raise InvalidInput(
                f"manifest path {rel!r} is not a plain relative file path",
                hint="manifest paths look like 'dir/file.txt'",
            )
        target = f"{root}/{rel}"
        # An existing symlinked directory inside dest_dir could still redirect the write.
        parent = target[: target.rindex("/")]
        if parent not in inside:
            inside[parent] = Path(parent).resolve().is_relative_to(real_root)
        if not inside[parent]:
            raise PathOutsideRoot(
                f"manifest path {rel!r} resolves outside {root} through a symbolic link",
                hint=f"remove the symbolic links inside {root} or check out somewhere else",
            )
        targets.append((entry.id, target))
    return targets


class TreeMixin:
    """Directory trees as manifests, written the same way by every backend.

    A backend provides `put_sized`, `put_bytes`, `get` and `get_files`; entries are stored
    durably before the manifest that names them, so a manifest never points at nothing.
    """

    url: str

    def put_sized(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None, pack: bool = False
    ) -> list[tuple[str, int]]:
        raise NotImplementedError

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        raise NotImplementedError

    def get(self, content_id: str) -> bytes:
        raise NotImplementedError

    def get_files(
        self, items: Sequence[tuple[str, StrPath]], *, progress: Progress | None = None
    ) -> None:
        raise NotImplementedError

    def put_files(
        self, paths: Sequence[StrPath], *, progress: Progress | None = None, pack: bool = False
    ) -> list[str]:
        stored = self.put_sized(paths, progress=progress, pack=pack)
        return [content_id for content_id, _ in stored]

    def put_tree(self, directory: StrPath, *, progress: Progress | None = None) -> str:
        files = walk_tree(directory)
        stored = self.put_sized([path for _, path in files], progress=progress)
        manifest = Manifest.of(
            ManifestEntry(rel, size, content_id)
            for (rel, _), (content_id, size) in zip(files, stored, strict=True)
        )
        return self.put_bytes(manifest.to_bytes())

    _manifests: dict[str, Manifest] | None = None

    def read_manifest(self, manifest_id: str) -> Manifest:
        # Manifests are immutable and verified when first read; a pull reads a directory's
        # manifest to fetch its files and again to check them out.
        cache = self._manifests
        if cache is None:
            cache = self._manifests = {}
        found = cache.get(manifest_id)
        if found is None:
            found = Manifest.from_bytes(self.get(manifest_id), content_id=manifest_id)
            if len(cache) >= MANIFESTS_KEPT:
                cache.pop(next(iter(cache)))
            cache[manifest_id] = found
        return found

    def get_tree(
        self, manifest_id: str, dest_dir: StrPath, *, progress: Progress | None = None
    ) -> Manifest:
        manifest = self.read_manifest(manifest_id)
        targets = checkout_targets(manifest, dest_dir)
        self.get_files(targets, progress=progress)
        return manifest


def redact(url: str) -> str:
    """`url` without a password in its user-info part, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"


LOCAL_SCHEMES = ("file", "local")
PIP_HINTS = {
    "s3": "pip install 'monoloop[s3]'  (or: pip install s3fs)",
    "s3a": "pip install 'monoloop[s3]'  (or: pip install s3fs)",
    "gs": "pip install gcsfs",
    "gcs": "pip install gcsfs",
    "az": "pip install adlfs",
    "abfs": "pip install adlfs",
    "abfss": "pip install adlfs",
}


def open_store(
    url: str | None, *, default_root: StrPath, options: dict[str, Any] | None = None
) -> ObjectStore:
    """The store for `url`: None → `default_root`; a path or file:// → local; else fsspec.

    Nothing is contacted here: an unreachable remote store fails with ConnectionFailed on
    first use, so commands that never touch objects work offline.
    """
    from monoloop.store.local import LocalStore

    if url is None or not url.strip():
        return LocalStore(default_root)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return LocalStore(Path(url).expanduser())
    scheme = scheme.lower()
    if scheme in LOCAL_SCHEMES:
        return LocalStore(Path(rest or "/").expanduser())

    import fsspec

    known = sorted(set(fsspec.available_protocols()) | set(LOCAL_SCHEMES))
    if scheme not in known:
        raise ConfigError(
            f"unknown object store URL scheme {scheme!r} in {redact(url)}",
            hint="use a path, file://, memory://, s3://bucket/prefix, gs://, az://, or another "
            f"fsspec scheme; supported schemes: {', '.join(known)}",
        )
    try:
        fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        hint = PIP_HINTS.get(scheme, f"install the fsspec backend for {scheme}:// ({exc})")
        raise ConfigError(
            f"the object store {redact(url)} needs a package that is not installed",
            hint=hint,
        ) from exc

    from monoloop.store.remote import FsspecStore

    return FsspecStore(url, options)
