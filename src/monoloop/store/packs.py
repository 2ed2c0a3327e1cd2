"""Pack files: many small objects in one file on a remote, found through an index.

A push of 10,000 small files as 10,000 objects costs 10,000 file creations on a disk
(each a metadata write) or 10,000 requests on S3; as one pack it costs two. So
`data push` puts a batch of small objects into `packs/<name>.pack`, the objects' bytes
one after another, and `packs/<name>.idx`, which says where each one is:

    b"monoloop-pack-index 1\\n"   magic and format version
    count                         8 bytes, big-endian
    count records, by digest      32-byte BLAKE3 digest, 8-byte offset, 8-byte size
    checksum                      32-byte BLAKE3 of everything before it

`name` is the hex BLAKE3 of the whole index, so a pack is immutable and the same batch
always gets the same name. The pack is written (and made durable) before its index,
and an object is in a store only once an index names it: a push killed half-way leaves
at most a pack nobody sees, which a later push of the same batch replaces. Readers
verify every object against its id, as they do loose ones, and an index against its
checksum; a pack is only ever added or read, never changed, so no lock is needed.
Big objects stay loose: packs are for the per-object cost, which small objects pay.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import blake3

from monoloop.errors import CorruptObject
from monoloop.hashing import ID_PREFIX, hash_bytes
from monoloop.store.objects import corrupt

DIR = "packs"
PACK_SUFFIX = ".pack"
INDEX_SUFFIX = ".idx"
MAGIC = b"monoloop-pack-index 1\n"
_COUNT = struct.Struct(">Q")
_RECORD = struct.Struct(">32sQQ")
_CHECKSUM = 32

# What goes into packs: objects up to OBJECT_MAX bytes, when a batch has at least
# MIN_OBJECTS of them (fewer cost little loose, and keep the remote simple), at most
# MAX_OBJECTS or MAX_BYTES per pack (a pack is one request on S3: kept to a size that
# can be retried whole).
OBJECT_MAX = 1 << 20
MIN_OBJECTS = 16
MAX_OBJECTS = 10_000
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Located:
    """Where a packed object's bytes are."""

    pack: str  # the pack's name (hex), without suffix
    offset: int
    size: int


def encode_index(entries: Iterable[tuple[str, int, int]]) -> bytes:
    """The index for (id, offset, size) entries; ids are sorted, each must appear once."""
    records = sorted((bytes.fromhex(cid[len(ID_PREFIX) :]), off, n) for cid, off, n in entries)
    body = bytearray(MAGIC)
    body += _COUNT.pack(len(records))
    for digest, offset, size in records:
        body += _RECORD.pack(digest, offset, size)
    body += blake3.blake3(bytes(body)).digest()
    return bytes(body)


@dataclass(frozen=True)
class Built:
    """A pack ready to write: its objects' bytes in order, and its index."""

    stored: list[tuple[str, int]]  # (id, size) of each object given, duplicates included
    chunks: list[bytes]  # the pack's bytes, one chunk per distinct object
    index: bytes

    @property
    def name(self) -> str:
        return index_name(self.index)


def build(objects: Iterable[bytes]) -> Built:
    """A pack of `objects` (each stored once, in the order first seen)."""
    stored: list[tuple[str, int]] = []
    chunks: list[bytes] = []
    entries: list[tuple[str, int, int]] = []
    seen: set[str] = set()
    offset = 0
    for data in objects:
        content_id = hash_bytes(data)
        stored.append((content_id, len(data)))
        if content_id in seen:
            continue
        seen.add(content_id)
        chunks.append(data)
        entries.append((content_id, offset, len(data)))
        offset += len(data)
    return Built(stored, chunks, encode_index(entries))


def index_name(index: bytes) -> str:
    return blake3.blake3(index).hexdigest()


def decode_index(data: bytes, name: str, *, where: str) -> Iterator[tuple[str, Located]]:
    """(id, where it is) for each record of an index; CorruptObject if it is damaged."""

    def damaged(reason: str) -> CorruptObject:
        return CorruptObject(
            f"pack index {name}{INDEX_SUFFIX} in {where} is damaged: {reason}",
            hint="run `monoloop data push` again from a machine that has the data (it "
            "re-uploads what the remote lacks), then remove the damaged index",
        )

    head = len(MAGIC) + _COUNT.size
    if len(data) < head + _CHECKSUM or not data.startswith(MAGIC):
        raise damaged("not a monoloop pack index")
    if index_name(data) != name:
        raise damaged("its bytes do not match its name")
    if blake3.blake3(data[:-_CHECKSUM]).digest() != data[-_CHECKSUM:]:
        raise damaged("its checksum does not match")
    (count,) = _COUNT.unpack_from(data, len(MAGIC))
    if len(data) != head + count * _RECORD.size + _CHECKSUM:
        raise damaged("its length does not match its record count")
    for digest, offset, size in _RECORD.iter_unpack(data[head:-_CHECKSUM]):
        yield ID_PREFIX + digest.hex(), Located(name, offset, size)


def checked_members(data: bytes | mmap.mmap, index: bytes, name: str, *, source: str) -> list[str]:
    """The ids a whole pack holds, once each object in it is checked against its id (a
    pack about to be kept as it is: CorruptObject names the first that is not right)."""
    held = []
    # Every view is released before anything is raised: `data` may be a memory map,
    # which cannot be closed while a view of it is alive.
    with memoryview(data) as view:
        for content_id, where in decode_index(index, name, where=source):
            with view[where.offset : where.offset + where.size] as piece:
                good = len(piece) == where.size and hash_bytes(piece) == content_id
            if not good:
                raise corrupt(content_id, source, f"its bytes in pack {name} do not match")
            held.append(content_id)
    return held


def is_index_name(filename: str) -> str | None:
    """The pack name if `filename` is a pack index's file name, else None."""
    if not filename.endswith(INDEX_SUFFIX):
        return None
    name = filename[: -len(INDEX_SUFFIX)]
    if len(name) != 64 or any(c not in "0123456789abcdef" for c in name):
        return None
    return name


def packable(sizes: list[int]) -> bool:
    """Whether a batch of objects of these sizes is worth packing."""
    return sum(1 for size in sizes if size <= OBJECT_MAX) >= MIN_OBJECTS


def plan(ids: list[str], sizes: dict[str, int]) -> tuple[list[list[str]], list[str]]:
    """Split ids into packs (each within MAX_OBJECTS and MAX_BYTES) and loose ones."""
    small = [i for i in ids if sizes.get(i, OBJECT_MAX + 1) <= OBJECT_MAX]
    if len(small) < MIN_OBJECTS:
        return [], list(ids)
    chosen = set(small)
    loose = [i for i in ids if i not in chosen]
    packs: list[list[str]] = []
    current: list[str] = []
    held = 0
    for cid in small:
        if current and (len(current) >= MAX_OBJECTS or held + sizes[cid] > MAX_BYTES):
            packs.append(current)
            current, held = [], 0
        current.append(cid)
        held += sizes[cid]
    if current:
        packs.append(current)
    # A last pack too small to be worth it goes loose.
    if len(packs[-1]) < MIN_OBJECTS:
        loose.extend(packs.pop())
    return packs, loose
