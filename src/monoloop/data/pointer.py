"""Pointer files: the small `PATH.loop` file committed to Git in place of the data.

    # monoloop data pointer: commit this file; the bytes live in the object store.
    format: 1
    kind: dir
    id: b3:<64 hex>      (a directory's id is its manifest's id)
    size: 1048576
    files: 10000

The writer emits exactly this shape, and the reader parses it without a YAML
library on the fast path (`data status` must start quickly); anything else a
person wrote falls back to a real YAML parser, so hand edits that keep it valid
YAML still work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monoloop.errors import UserError
from monoloop.hashing import is_id

SUFFIX = ".loop"
FORMAT = 1
HEADER = "# monoloop data pointer: commit this file; the bytes live in the object store.\n"
_LINE = re.compile(r"^([a-z_]+): *([^\s#]*) *$")


class PointerError(UserError):
    """A pointer file cannot be read."""


@dataclass(frozen=True)
class Pointer:
    id: str
    kind: str  # "file" | "dir"
    size: int
    files: int

    def to_text(self) -> str:
        return (
            f"{HEADER}format: {FORMAT}\nkind: {self.kind}\nid: {self.id}\n"
            f"size: {self.size}\nfiles: {self.files}\n"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "size": self.size, "files": self.files}


def pointer_path(data_path: Path) -> Path:
    return data_path.with_name(data_path.name + SUFFIX)


def data_path(pointer: Path) -> Path:
    return pointer.with_name(pointer.name[: -len(SUFFIX)])


def parse(text: str, *, source: str) -> Pointer:
    """Parse a pointer file's text; a PointerError names the file and how to repair it."""
    fields: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            fields = _parse_yaml(text, source)
            break
        fields[match.group(1)] = match.group(2)
    return _validate(fields, source)


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _broken(source, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise _broken(source, "expected keys format, kind, id, size and files")
    return {str(k): v for k, v in data.items()}


def _validate(fields: dict[str, Any], source: str) -> Pointer:
    expected = {"format", "kind", "id", "size", "files"}
    unknown = sorted(set(fields) - expected)
    if unknown:
        raise _broken(source, f"unknown key {unknown[0]!r}")
    missing = sorted(expected - set(fields))
    if missing:
        raise _broken(source, f"key {missing[0]!r} is missing")
    if str(fields["format"]) != str(FORMAT):
        raise _broken(
            source,
            f"format {fields['format']!r} is not {FORMAT}",
            hint="it was written by a newer monoloop: upgrade monoloop",
        )
    kind = str(fields["kind"])
    if kind not in ("file", "dir"):
        raise _broken(source, f"kind {kind!r} is neither 'file' nor 'dir'")
    content_id = str(fields["id"])
    if not is_id(content_id):
        raise _broken(source, f"id {content_id[:80]!r} is not a content id (b3:<64 hex>)")
    size, files = _count(fields["size"], "size", source), _count(fields["files"], "files", source)
    if kind == "file" and files != 1:
        raise _broken(source, f"a file pointer must have files: 1, found {files}")
    return Pointer(content_id, kind, size, files)


def _count(value: Any, key: str, source: str) -> int:
    text = str(value)
    if isinstance(value, bool) or not text.isdigit():
        raise _broken(source, f"{key} {text[:40]!r} is not a whole number")
    return int(text)


def _broken(source: str, problem: str, *, hint: str | None = None) -> PointerError:
    return PointerError(
        f"pointer file {source} is invalid: {problem}",
        hint=hint
        or f"restore it with `git checkout -- {source}`, or re-create it with `monoloop data add`",
    )


def read(path: Path, *, source: str | None = None) -> Pointer:
    shown = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PointerError(
            f"{shown} does not exist", hint="track the data with `monoloop data add PATH`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _broken(shown, f"cannot be read ({exc})") from None
    return parse(text, source=shown)
