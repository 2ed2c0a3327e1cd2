"""Content ids: `b3:` followed by the 64 lowercase hex digits of the BLAKE3 hash of the bytes.

One spelling per content, so ids can be compared as strings, used as file names and
written into Git-tracked pointer files.
"""

from __future__ import annotations

import os
import re
import reprlib
from pathlib import Path

import blake3

from monoloop.errors import InvalidInput

ID_PREFIX = "b3:"
HEX_LEN = 64
ID_LEN = len(ID_PREFIX) + HEX_LEN
ID_FORM = "'b3:' followed by 64 lowercase hex digits (b3:<64 hex>)"

# Measured on 2 cores: the thread pool pays off from about 1 MiB of input (1 MiB: 310 µs
# threaded vs 372 µs single; 256 KiB: threading is slower). A memory map hashed with every
# core wins from about 512 KiB (4 MiB: 0.70 ms vs 1.55 ms read + single-threaded hash).
THREADED_MIN = 1 << 20
MMAP_MIN = 512 << 10

_HEX_DIGITS = frozenset("0123456789abcdef")
# A regular expression checks an id in a third of the time of a set of its digits (hot:
# every id a manifest or a store call names is checked).
_ID_MATCH = re.compile(r"b3:[0-9a-f]{64}\Z").match


def _hasher(size_hint: int) -> blake3.blake3:
    if size_hint >= THREADED_MIN:
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


def id_from_digest(hexdigest: str) -> str:
    """The content id for a BLAKE3 hex digest."""
    return ID_PREFIX + hexdigest


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The content id of `data`."""
    hasher = _hasher(len(data))
    hasher.update(data)
    return id_from_digest(hasher.hexdigest())


def hash_file(path: str | os.PathLike[str]) -> str:
    """The content id of the file at `path`, hashed with every core for large files.

    Large files are memory-mapped so BLAKE3 can hash disjoint parts of the tree in parallel
    straight from the page cache, without copying them through Python buffers.
    """
    target = Path(path)
    try:
        size = target.stat().st_size
        if not target.is_file():
            raise InvalidInput(
                f"cannot hash {target}: it is not a regular file",
                hint="pass the path of a file (a directory is stored with put_tree)",
            )
        if size < MMAP_MIN:
            return hash_bytes(target.read_bytes())
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(os.fspath(target))
        return id_from_digest(hasher.hexdigest())
    except FileNotFoundError as exc:
        raise InvalidInput(
            f"cannot hash {target}: no such file", hint="check the path and try again"
        ) from exc
    except PermissionError as exc:
        raise InvalidInput(
            f"cannot hash {target}: permission denied", hint="make the file readable"
        ) from exc


class Hasher:
    """Incremental content id for bytes that arrive in pieces (a stream, a download)."""

    __slots__ = ("_hasher", "size")

    def __init__(self, *, threaded: bool = False) -> None:
        self._hasher = _hasher(THREADED_MIN if threaded else 0)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hasher.update(data)
        self.size += len(data)

    def hexid(self) -> str:
        """The content id of everything passed to `update` so far."""
        return id_from_digest(self._hasher.hexdigest())


def is_id(value: object) -> bool:
    """Whether `value` is a well-formed content id (says nothing of whether it is stored)."""
    return isinstance(value, str) and len(value) == ID_LEN and _ID_MATCH(value) is not None


def parse_id(value: object) -> str:
    """`value` as a content id, or InvalidInput naming the bad value and the expected form."""
    if is_id(value):
        assert isinstance(value, str)
        return value
    shown = repr(value)
    if len(shown) > 100:
        shown = reprlib.repr(value)
    reason = ""
    if isinstance(value, str):
        body = value.removeprefix(ID_PREFIX)
        if not value.startswith(ID_PREFIX):
            reason = " (it does not start with 'b3:')"
        elif len(body) != HEX_LEN:
            reason = f" (it has {len(body)} hex digits, not {HEX_LEN})"
        elif _HEX_DIGITS.issuperset(body.lower()):
            reason = " (hex digits must be lowercase)"
        else:
            reason = " (it contains characters that are not hex digits)"
    else:
        reason = f" (it is a {type(value).__name__}, not a string)"
    raise InvalidInput(
        f"{shown} is not a content id{reason}; expected {ID_FORM}",
        hint="copy the id exactly as monoloop printed it, e.g. from `monoloop store ls`",
    )


def id_hex(content_id: str) -> str:
    """The 64 hex digits of a validated id; raises InvalidInput when it is malformed."""
    return parse_id(content_id)[len(ID_PREFIX) :]
