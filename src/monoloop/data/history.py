"""Pointer files as Git holds them: at a revision, or across every commit (for gc)."""

from __future__ import annotations

import re
from pathlib import Path

from monoloop import gitutil
from monoloop.data import pointer
from monoloop.errors import InvalidInput, NotFound

_ID = re.compile(rb"b3:[0-9a-f]{64}")
LOCK_FILE = "monoloop.lock"


def resolve_rev(root: Path, rev: str) -> str:
    if rev.startswith("-"):
        raise InvalidInput(f"{rev!r} is not a Git revision", hint="name a commit, branch or tag")
    proc = gitutil.git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root, check=False)
    commit = proc.stdout.decode().strip()
    if proc.returncode != 0 or not commit:
        raise NotFound(
            f"{rev!r} is not a commit in this repository",
            hint="name a commit, branch or tag (see `git log`); a new repository needs a "
            "first commit",
        )
    return commit


def pointers_at(root: Path, rev: str) -> dict[str, pointer.Pointer]:
    """Data path -> pointer, for every pointer file committed at `rev`."""
    commit = resolve_rev(root, rev)
    listing = gitutil.git(["ls-tree", "-r", "-z", "--full-tree", commit], root).stdout
    blobs: list[tuple[str, str]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        path = name.decode()
        fields = meta.split()
        if path.endswith(pointer.SUFFIX) and len(fields) == 3 and fields[1] == b"blob":
            blobs.append((path, fields[2].decode()))
    texts = _read_blobs(root, [sha for _, sha in blobs])
    return {
        path[: -len(pointer.SUFFIX)]: pointer.parse(
            texts[sha].decode("utf-8", errors="replace"), source=f"{rev}:{path}"
        )
        for path, sha in blobs
    }


def pointers_in_worktree(root: Path, rels: list[str]) -> dict[str, pointer.Pointer]:
    return {
        rel[: -len(pointer.SUFFIX)]: pointer.read(root / rel, source=rel)
        for rel in rels
        if (root / rel).is_file()
    }


def _read_blobs(root: Path, shas: list[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch`."""
    if not shas:
        return {}
    unique = sorted(set(shas))
    out = gitutil.git(
        ["cat-file", "--batch"], root, input="\n".join(unique).encode() + b"\n"
    ).stdout
    found: dict[str, bytes] = {}
    pos = 0
    for sha in unique:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        size = int(header[2])
        found[sha] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return found


def referenced_ids(root: Path, *, all_commits: bool) -> set[str]:
    """Every content id named by a pointer or lock file in HEAD (or in any commit)."""
    ids: set[str] = set()
    if all_commits:
        proc = gitutil.git(["rev-list", "--all", "--objects"], root, check=False)
        shas = []
        for line in proc.stdout.decode().splitlines():
            sha, _, path = line.partition(" ")
            if path.endswith(pointer.SUFFIX) or path.rsplit("/", 1)[-1] == LOCK_FILE:
                shas.append(sha)
        blobs = _read_blobs(root, shas)
    else:
        head = gitutil.head_commit(root)
        blobs = {}
        if head is not None:
            listing = gitutil.git(["ls-tree", "-r", "-z", "--full-tree", head], root).stdout
            shas = []
            for record in listing.split(b"\0"):
                meta, _, name = record.partition(b"\t")
                fields = meta.split()
                path = name.decode()
                if len(fields) == 3 and (
                    path.endswith(pointer.SUFFIX) or path.rsplit("/", 1)[-1] == LOCK_FILE
                ):
                    shas.append(fields[2].decode())
            blobs = _read_blobs(root, shas)
    for content in blobs.values():
        ids.update(m.decode() for m in _ID.findall(content))
    return ids
