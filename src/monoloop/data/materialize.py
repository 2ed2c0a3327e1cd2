"""`data checkout`: make the working tree match the pointer files, without losing anyone's bytes.

A file in the way is replaced only when its bytes are safe: identical to what is
wanted, or saved in the object store (an older tracked version). A file with unsaved
changes is refused unless --force, and the whole checkout is planned before the first
write, so a refusal changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from monoloop.data import pointer, scan, tracked
from monoloop.data.context import DataContext
from monoloop.data.history import pointers_at, pointers_in_worktree
from monoloop.data.statcache import Stat
from monoloop.errors import Conflict, NotFound
from monoloop.fsutil import umask
from monoloop.store.local import LocalStore

Progress = Callable[[int], None]
FICLONE = 0x40049409  # linux/fs.h: share the source's blocks (btrfs, xfs, ...)


@dataclass
class CheckoutResult:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    method: str = "copy"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Plan:
    writes: list[tuple[str, str]] = field(default_factory=list)  # (object id, workspace rel)
    removals: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unchanged: int = 0


def checkout(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    rev: str | None = None,
    force: bool = False,
    link: bool = False,
    progress: Progress | None = None,
) -> CheckoutResult:
    if rev is not None:
        selected = pointers_at(ctx.root, rev)
        if rels:
            selected = {r: p for r, p in selected.items() if r in set(rels)}
    else:
        selected = pointers_in_worktree(ctx.root, tracked.pointer_files(ctx.root, rels))
    for rel in rels or []:
        if rel not in selected:
            where = f"at {rev}" if rev else "in the working tree"
            raise NotFound(f"{rel} is not tracked {where}", hint="see `monoloop data status`")
    plan = _Plan()
    clock = ctx.cache.clock()
    fresh: list[tuple[str, Stat, str]] = []
    for rel, ptr in sorted(selected.items()):
        fresh.extend(_plan_path(ctx, rel, ptr, plan, force=force))
    ctx.cache.put(fresh, clock_ns=clock)
    if plan.missing:
        raise NotFound(
            f"{len(plan.missing)} object(s) needed for checkout are not in the local store, "
            f"e.g. {plan.missing[0]}",
            hint="fetch them with `monoloop data pull`",
        )
    if plan.refused:
        shown = ", ".join(plan.refused[:10]) + (" ..." if len(plan.refused) > 10 else "")
        raise Conflict(
            f"checkout would overwrite or delete {len(plan.refused)} file(s) with changes "
            f"that are not saved anywhere: {shown}",
            hint="save them with `monoloop data add`, move them away, or pass --force to "
            "discard the changes",
        )
    result = CheckoutResult(unchanged=plan.unchanged)
    result.method = _write_all(ctx, plan.writes, link=link, progress=progress)
    for rel in plan.removals:
        with contextlib.suppress(FileNotFoundError):
            (ctx.root / rel).unlink()
    result.written = [rel for _, rel in plan.writes]
    result.removed = plan.removals
    return result


def _plan_path(
    ctx: DataContext, rel: str, ptr: pointer.Pointer, plan: _Plan, *, force: bool
) -> list[tuple[str, Stat, str]]:
    target = ctx.root / rel
    if not ctx.objects.exists(ptr.id):
        plan.missing.append(ptr.id)
        return []
    wanted: dict[str, str]
    if ptr.kind == "dir":
        entries = ctx.objects.read_manifest(ptr.id).entries
        wanted = {f"{rel}/{e.path}": e.id for e in entries}
        plan.missing.extend(e.id for e in entries if not ctx.objects.exists(e.id))
    else:
        wanted = {rel: ptr.id}
    current: dict[str, str] = {}
    fresh: list[tuple[str, Stat, str]] = []
    if target.exists() or target.is_symlink():
        kind_now = "dir" if target.is_dir() and not target.is_symlink() else "file"
        if kind_now != ptr.kind:
            plan.refused.append(rel)
            return []
        found = scan.scan(target, rel, ctx.cache, need_manifest=True)
        fresh = found.fresh
        if found.manifest is not None:
            current = {f"{rel}/{e.path}": e.id for e in found.manifest.entries}
        else:
            current = {rel: found.id}
    for path, cid in wanted.items():
        if path not in current:
            plan.writes.append((cid, path))
        elif current[path] == cid:
            plan.unchanged += 1
        elif force or ctx.objects.exists(current[path]):
            plan.writes.append((cid, path))
        else:
            plan.refused.append(path)
    for path, cid in current.items():
        if path not in wanted:
            if force or ctx.objects.exists(cid):
                plan.removals.append(path)
            else:
                plan.refused.append(path)
    return fresh


def _write_all(
    ctx: DataContext, writes: list[tuple[str, str]], *, link: bool, progress: Progress | None
) -> str:
    if not writes:
        return "none"
    methods: set[str] = set()

    def one(item: tuple[str, str]) -> None:
        cid, rel = item
        methods.add(_materialize(ctx, cid, ctx.root / rel, link=link))
        if progress is not None:
            progress(1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, writes))
    return "+".join(sorted(methods))


def _materialize(ctx: DataContext, cid: str, target: Path, *, link: bool) -> str:
    """Write one file atomically: reflink, else hardlink (only if asked), else copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(ctx.objects, LocalStore):
        ctx.objects.get_file(cid, target)
        return "download"
    source = ctx.objects.object_path(cid)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    method = "copy"
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            try:
                fcntl.ioctl(out.fileno(), FICLONE, src.fileno())
                method = "reflink"
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                    raise
                if link:
                    method = "link"
                else:
                    _copy(src, out)
        if method == "link":
            os.unlink(tmp)
            os.link(source, tmp)
        else:
            os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return method


def _copy(src: BinaryIO, out: BinaryIO) -> None:
    """In-kernel copy where the kernel can, else through a buffer."""
    size = os.fstat(src.fileno()).st_size
    done = 0
    try:
        while done < size:
            sent = os.copy_file_range(src.fileno(), out.fileno(), size - done)
            if sent == 0:
                break
            done += sent
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        src.seek(done)
        out.seek(done)
        shutil.copyfileobj(src, out, 1 << 20)
