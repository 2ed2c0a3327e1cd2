"""Deps and outputs in the working tree: their ids, storing them, restoring them.

Ids come through the stat cache (`data.scan`), so an unchanged file is never re-read.
The stat cache's SQLite connection belongs to the coordinating thread; workers that
store a finished stage's outputs only collect cache entries, which the coordinator
saves at the end, each batch judged against the clock read before it was hashed.
"""

from __future__ import annotations

import os
import shutil
import stat as stat_mod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from monoloop.data import pointer
from monoloop.data.statcache import DirEntry, Stat, StatCache
from monoloop.errors import MonoloopError
from monoloop.hashing import hash_bytes, hash_file

if TYPE_CHECKING:
    from monoloop.data.scan import Scan
    from monoloop.pipelines.context import PipelineContext
    from monoloop.store.objects import ObjectStore


@dataclass
class Remembered:
    """Stat-cache entries to save, with the clock read before their files were hashed."""

    clock_ns: int
    files: list[tuple[str, Stat, str]] = field(default_factory=list)
    dirs: list[DirEntry] = field(default_factory=list)


class StageOutputMissing(MonoloopError):
    """A stage exited 0 but did not write an output it declares."""


class Tree:
    """The working tree seen by the coordinating thread."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self.root = ctx.root
        self.cache: StatCache = ctx.cache
        self.batches: list[Remembered] = []
        self._mine: Remembered | None = None

    @property
    def objects(self) -> ObjectStore:
        return self.ctx.objects

    def _remember(self, found: Scan) -> None:
        if self._mine is None:
            return
        self._mine.files.extend(found.fresh)
        if found.listing is not None:
            self._mine.dirs.append(found.listing)

    def begin(self) -> None:
        if self._mine is None:
            self._mine = Remembered(self.cache.clock())
            self.batches.append(self._mine)

    def id_of(self, rel: str) -> str | None:
        """The content id of a working-tree path; a tracked path that is not checked out has
        its pointer's id; None when there is neither."""
        path = self.root / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat_mod.S_ISREG(st.st_mode):
                # The common case, without the scanner: a lookup in the stat cache, else
                # one hash, remembered against the clock read before it.
                now = Stat.of(st)
                known = self.cache.get(rel)
                if known is not None and known[0] == now:
                    return known[1]
                self.begin()
                cid = hash_file(path)
                assert self._mine is not None
                self._mine.files.append((rel, now, cid))
                return cid
            from monoloop.data import scan

            self.begin()
            found = scan.scan(path, rel, self.cache)
            self._remember(found)
            return found.id
        ptr = pointer.pointer_path(path)
        if ptr.is_file():
            return pointer.read(ptr, source=rel + pointer.SUFFIX).id
        return None

    def exists(self, rel: str) -> bool:
        path = self.root / rel
        return os.path.lexists(path) or pointer.pointer_path(path).is_file()

    def ensure_stored(self, rel: str) -> str:
        """Store a working-tree path (only what the store lacks); returns its id."""
        from monoloop.data import scan

        self.begin()
        path = self.root / rel
        stored_now: set[str] = set()

        def put(paths: Sequence[str]) -> list[str]:
            ids = self.objects.put_files(list(paths))
            stored_now.update(ids)
            return ids

        found = scan.scan(path, rel, self.cache, hasher=put, need_manifest=True)
        self._remember(found)
        if found.manifest is not None:
            lacking = [
                str(path / e.path)
                for e in found.manifest.entries
                if e.id not in stored_now and not self.objects.exists(e.id)
            ]
            if lacking:
                put(lacking)
            self.objects.put_bytes(found.manifest.to_bytes())
        elif found.id not in stored_now and not self.objects.exists(found.id):
            put([str(path)])
        return found.id

    def clear(self, rel: str) -> None:
        """Remove an output before its stage runs, saving its bytes in the store first, so
        a stage that fails to write it cannot leave a stale copy looking fresh."""
        path = self.root / rel
        if not os.path.lexists(path):
            return
        if not path.is_symlink():
            self.ensure_stored(rel)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    def restore(self, rel: str, cid: str, *, is_dir: bool) -> None:
        """Write an output back from the store (where nothing is): a file, or a directory."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if is_dir:
            path.mkdir(exist_ok=True)
            self.objects.get_tree(cid, path)
        else:
            self.objects.get_file(cid, path)

    def stored(self, cid: str, *, is_dir: bool) -> bool:
        """Whether the store holds an output: a file's object, or a manifest and its files."""
        if not self.objects.exists(cid):
            return False
        if not is_dir:
            return True
        return all(self.objects.exists(e.id) for e in self.objects.read_manifest(cid).entries)

    def save(self) -> None:
        """Write the collected stat-cache entries (only those safely older than their clock)."""
        for batch in self.batches:
            self.cache.put(batch.files, clock_ns=batch.clock_ns)
            for listing in batch.dirs:
                self.cache.put_directory(listing, clock_ns=batch.clock_ns)
        self.batches = []
        self._mine = None


@dataclass
class Outputs:
    """A finished stage's outputs, hashed: their ids now, their bytes to store next."""

    ids: dict[str, str]  # path -> id, a '/' after directories (as the lock writes them)
    remembered: Remembered
    files: list[tuple[str, str]] = field(default_factory=list)  # (file, its id)
    manifests: list[bytes] = field(default_factory=list)


def hash_outputs(root: Path, rels: tuple[str, ...], clock_ns: int) -> Outputs:
    """Hash what a stage wrote, for worker threads (no stat cache). Hashing is enough for
    the stages after it to start; storing (with its durability barrier) can follow.

    StageOutputMissing when an output is not there; InvalidInput for links and the like."""
    from monoloop.data import scan
    from monoloop.store.objects import Manifest, ManifestEntry

    found = Outputs({}, Remembered(clock_ns))
    plan: list[tuple[str, str, list[scan.File], list[str]]] = []
    for rel in rels:
        path = root / rel
        if not os.path.lexists(path):
            raise StageOutputMissing(
                f"the stage exited successfully but did not write {rel}",
                hint="make the stage write every path in its outs and metrics, or remove "
                "the path from the stage",
            )
        kind, files = scan.files_of(path)
        plan.append((rel, kind, files, scan.full_paths(path, files)))
    hashed = iter(scan.hash_only([p for _, _, _, paths in plan for p in paths]))
    for rel, kind, files, paths in plan:
        ids = [next(hashed) for _ in files]
        for f, full, cid in zip(files, paths, ids, strict=True):
            key = f"{rel}/{f[0]}" if f[0] else rel
            found.remembered.files.append((key, Stat(f[1], f[2], f[3], f[4]), cid))
            found.files.append((full, cid))
        if kind == "file":
            found.ids[rel] = ids[0]
            continue
        manifest = Manifest.of(
            ManifestEntry(f[0], f[1], cid) for f, cid in zip(files, ids, strict=True)
        ).to_bytes()
        manifest_id = hash_bytes(manifest)
        found.manifests.append(manifest)
        newest = max((f[2] for f in files), default=0)
        listing = DirEntry(rel, scan.listing_digest(files), manifest_id, newest)
        found.remembered.dirs.append(listing)
        found.ids[rel + "/"] = manifest_id
    return found


def store_outputs(objects: ObjectStore, outputs: Outputs, extra: list[Path]) -> list[str]:
    """Store hashed outputs (files before the manifests naming them) and `extra` files in one
    batch; returns the ids of `extra`. StageOutputMissing if a file changed since hashed."""
    paths = [path for path, _ in outputs.files] + [str(p) for p in extra]
    stored = objects.put_files(paths) if paths else []
    for (path, expected), got in zip(outputs.files, stored, strict=False):
        if got != expected:
            raise StageOutputMissing(
                f"{path} changed after its stage finished and before it was stored",
                hint="a stage must not write another stage's outputs; run again",
            )
    for manifest in outputs.manifests:
        objects.put_bytes(manifest)
    return stored[len(outputs.files) :]


def place(objects: ObjectStore, root: Path, path: str, cid: str) -> None:
    """Write `path` (a '/' after a directory's) from the store into `root`, replacing what
    is there: an output coming back, or an input for a stage that runs elsewhere."""
    rel = path.rstrip("/")
    dest = root / rel
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif os.path.lexists(dest):
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if path.endswith("/"):
        dest.mkdir()
        objects.get_tree(cid, dest)
    else:
        objects.get_file(cid, dest)
