"""`data gc`: remove local objects that nothing references, and never one that something does."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

from monoloop.data import tracked
from monoloop.data.context import DataContext
from monoloop.data.history import LOCK_FILE, referenced_ids
from monoloop.errors import UserError
from monoloop.store import packs
from monoloop.store.local import LocalStore

# Objects younger than this are kept: a concurrent `data add` may not have written its
# pointer yet (git's gc keeps loose objects for two weeks for the same reason).
GRACE_SECONDS = 3600
# A pack is rewritten without its unreferenced objects once they hold at least this share
# of its bytes: rewriting 64 MiB to drop one small object each gc would cost more than
# the space it frees.
REPACK_DEAD_SHARE = 0.25


@dataclass
class GcResult:
    kept: int = 0
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    young: int = 0
    # Unreferenced objects left in a pack until they are REPACK_DEAD_SHARE of its bytes
    waiting_in_packs: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def live_ids(ctx: DataContext, *, all_commits: bool, extra: set[str] | None = None) -> set[str]:
    """Ids referenced by pointer and lock files (HEAD or every commit, plus the working
    tree), by anything in `extra`, and by every manifest among them."""
    import re

    roots = referenced_ids(ctx.root, all_commits=all_commits) | (extra or set())
    pattern = re.compile(r"b3:[0-9a-f]{64}")
    for rel in tracked.pointer_files(ctx.root):
        try:
            roots.update(pattern.findall((ctx.root / rel).read_text(errors="replace")))
        except FileNotFoundError:
            continue  # deleted in the working tree but still in Git's index: HEAD has it
    for lock in ctx.root.rglob(LOCK_FILE):
        if ".git" not in lock.parts:
            roots.update(pattern.findall(lock.read_text(errors="replace")))
    live = set(roots)
    for cid in roots:
        if not ctx.objects.exists(cid):
            continue
        try:
            manifest = ctx.objects.read_manifest(cid)
        except UserError:
            continue  # a plain file's object, not a manifest
        live.update(e.id for e in manifest.entries)
    return live


def gc(
    ctx: DataContext,
    *,
    all_commits: bool = False,
    dry_run: bool = False,
    extra_live: set[str] | None = None,
    grace_seconds: int = GRACE_SECONDS,
) -> GcResult:
    if not isinstance(ctx.objects, LocalStore):
        raise UserError(
            f"gc works on the local object store, not on {ctx.objects.url}",
            hint="a shared store is cleaned by whoever administers it",
        )
    live = live_ids(ctx, all_commits=all_commits, extra=extra_live)
    result = GcResult(dry_run=dry_run)
    cutoff = time.time() - grace_seconds
    for cid in list(ctx.objects.iter_loose()):
        if cid in live:
            result.kept += 1
            continue
        path = ctx.objects.object_path(cid)
        st = os.stat(path)
        if st.st_mtime > cutoff:
            result.young += 1
            continue
        result.removed.append(cid)
        result.freed_bytes += st.st_size
        if not dry_run:
            ctx.objects.remove(cid)
    # Packs (written by `data add`, or kept whole by a pull): one no object of which is
    # referenced goes whole; one partly referenced is rewritten with its live objects only,
    # once the dead ones are a quarter of its bytes.
    table = ctx.objects.pack_table()
    for name, members in sorted(ctx.objects.pack_members().items()):
        dead = [cid for cid in members if cid not in live]
        if not dead:
            result.kept += len(members)
            continue
        st = os.stat(ctx.objects.root / packs.DIR / f"{name}{packs.PACK_SUFFIX}")
        if st.st_mtime > cutoff:
            result.young += len(members)
            continue
        alive = [cid for cid in members if cid in live]
        result.kept += len(alive)
        dead_bytes = sum(table[cid].size for cid in dead)
        if alive and dead_bytes < REPACK_DEAD_SHARE * sum(table[c].size for c in members):
            result.waiting_in_packs += len(dead)
            continue
        result.removed.extend(dead)
        result.freed_bytes += dead_bytes if alive else st.st_size
        if not dry_run:
            if alive:
                ctx.objects.repack(name, alive)
            else:
                ctx.objects.remove_pack(name)
    # A pack whose writer was killed before its index: nothing can see it.
    for path in ctx.objects.stray_pack_files():
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(path)
            if st.st_mtime <= cutoff and path.endswith(packs.PACK_SUFFIX):
                result.freed_bytes += st.st_size
                if not dry_run:
                    os.unlink(path)
    return result
