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
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from monoloop.data import pointer, scan, tracked
from monoloop.data.context import DataContext
from monoloop.data.history import pointers_at, pointers_in_worktree
from monoloop.data.statcache import Stat
from monoloop.errors import Conflict, NotFound, UserError
from monoloop.store.fsio import (
    COPY_CHUNK,
    OPEN_NEW,
    OPEN_READ,
    PROGRESS_EVERY,
    SMALL_FILE,
    WORKERS,
    Heavy,
    run_split,
)
from monoloop.store.local import LocalStore
from monoloop.store.objects import checked_targets

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
    new_dirs: list[str] = field(default_factory=list)  # tracked dirs not there at all yet


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
    try:
        result.method = _write_all(
            ctx, plan.writes, new_dirs=plan.new_dirs, link=link, progress=progress
        )
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        # Each file is written to a temp name and renamed only once complete, and a new
        # directory is staged whole: what is there is whole, and no temp file is left.
        raise UserError(
            f"no space left writing the working tree under {ctx.root}: {exc.strerror}",
            hint="free some space and run the command again; it writes only what is missing",
        ) from None
    _remember(ctx, plan.writes)
    for rel in plan.removals:
        with contextlib.suppress(FileNotFoundError):
            (ctx.root / rel).unlink()
    result.written = [rel for _, rel in plan.writes]
    result.removed = plan.removals
    return result


def _remember(ctx: DataContext, writes: list[tuple[str, str]]) -> None:
    """Put the files just written in the stat cache, with the ids they were written from,
    so that the next status does not hash them again (the cache skips any too young to
    trust, as it does for files that `add` hashed)."""
    if not writes:
        return
    clock = ctx.cache.clock()
    root = str(ctx.root)
    entries = []
    for cid, rel in writes:
        with contextlib.suppress(FileNotFoundError):
            entries.append((rel, Stat.of(os.lstat(f"{root}/{rel}")), cid))
    ctx.cache.put(entries, clock_ns=clock)


def _plan_path(
    ctx: DataContext, rel: str, ptr: pointer.Pointer, plan: _Plan, *, force: bool
) -> list[tuple[str, Stat, str]]:
    target = ctx.root / rel
    if not ctx.objects.exists(ptr.id):
        plan.missing.append(ptr.id)
        return []
    wanted: dict[str, str]
    if ptr.kind == "dir":
        manifest = ctx.objects.read_manifest(ptr.id)
        # A manifest may come from anyone who can push: no entry may land outside `rel`.
        checked_targets(manifest, target)
        wanted = {f"{rel}/{e.path}": e.id for e in manifest.entries}
        ids = [e.id for e in manifest.entries]
        stored = ctx.objects.present(ids)
        plan.missing.extend(i for i in ids if i not in stored)
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
    elif ptr.kind == "dir" and wanted:
        plan.new_dirs.append(rel)
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
    ctx: DataContext,
    writes: list[tuple[str, str]],
    *,
    new_dirs: list[str],
    link: bool,
    progress: Progress | None,
) -> str:
    if not writes:
        return "none"
    root = str(ctx.root)
    targets = [(cid, f"{root}/{rel}") for cid, rel in writes]  # rel: POSIX, checked
    if not isinstance(ctx.objects, LocalStore):
        ctx.objects.get_files(targets, progress=progress)
        return "download"
    staging = _Staging(root, new_dirs)
    try:
        method = _write_local(ctx.objects, staging.targets(targets), staging, link, progress)
        staging.publish()
    except BaseException:
        staging.discard()
        raise
    return method


class _Staging:
    """A tracked directory that does not exist yet is written whole in a hidden sibling
    directory, files under their own names, then renamed into place: it appears complete
    or not at all, and its files need no temp name and rename each. A sibling left by a
    killed checkout (its pid gone) is removed by the next checkout of that directory."""

    def __init__(self, root: str, new_dirs: list[str]) -> None:
        self.token = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.dirs: dict[str, str] = {}  # final absolute path -> staging path
        for rel in new_dirs:
            final = f"{root}/{rel}"
            head, name = os.path.split(final)
            _remove_stale(head, name)
            self.dirs[final] = f"{head}/.{name}.{self.token}{STAGING_SUFFIX}"

    def targets(self, targets: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
        """(id, path to write, whether it is staged) for each (id, final path)."""
        if not self.dirs:
            return [(cid, target, False) for cid, target in targets]
        out = []
        for cid, target in targets:
            staged = None
            for final, where in self.dirs.items():
                if target.startswith(final + "/"):
                    staged = where + target[len(final) :]
                    break
            out.append((cid, staged or target, staged is not None))
        return out

    def publish(self) -> None:
        for final, where in self.dirs.items():
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.rename(where, final)  # fails, rather than merges, if it appeared meanwhile

    def discard(self) -> None:
        import shutil

        for where in self.dirs.values():
            shutil.rmtree(where, ignore_errors=True)


STAGING_SUFFIX = ".monoloop-tmp"


def _remove_stale(head: str, name: str) -> None:
    prefix = f".{name}."
    try:
        entries = os.listdir(head)
    except FileNotFoundError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(STAGING_SUFFIX)):
            continue
        pid = entry[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            import shutil

            shutil.rmtree(os.path.join(head, entry), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_local(
    store: LocalStore,
    targets: list[tuple[str, str, bool]],
    staging: _Staging,
    link: bool,
    progress: Progress | None,
) -> str:
    for where in staging.dirs.values():
        os.mkdir(where)
    for parent in sorted({os.path.dirname(target) for _, target, _ in targets}):
        os.makedirs(parent, exist_ok=True)
    writer = _Writer(store, link=link)
    # Objects held in packs (pulled as packs, or packed by `data add`) are read pack by
    # pack, one read each, and checked against their ids as they are read.
    packed = store.in_packs(cid for cid, _, _ in targets)
    if packed:
        by_id: dict[str, list[tuple[str, bool]]] = {}
        for cid, target, staged in targets:
            if cid in packed:
                by_id.setdefault(cid, []).append((target, staged))
        done = 0
        for cid, data in store.read_packed(by_id):
            for target, staged in by_id.pop(cid):
                writer.write_bytes(data, target, direct=staged)
                done += 1
            if progress is not None and done >= PROGRESS_EVERY:
                progress(done)
                done = 0
        if progress is not None and done:
            progress(done)
        if by_id:  # its pack went away meanwhile (a gc)
            raise NotFound(
                f"object {next(iter(by_id))} is not in the local store",
                hint="fetch it with `monoloop data pull`",
            )
        targets = [item for item in targets if item[0] not in packed]

    def light(i: int) -> Heavy | None:
        return writer.write(*targets[i])

    run_split(len(targets), light, progress, WORKERS)
    return "+".join(sorted(writer.methods))


class _Writer:
    """Writes working-tree files from the local store, each atomically (temp + rename; in
    a staged new directory, which appears whole, straight under its name): reflink, else
    hardlink (only if asked), else an in-kernel copy. Small files are done on the calling
    thread; large ones are handed back to run on a pool."""

    def __init__(self, store: LocalStore, *, link: bool) -> None:
        self.store = store
        self.link = link
        self.reflink = True  # until the file system says it cannot
        self.methods: set[str] = set()
        self._token = os.urandom(4).hex()
        self._serial = itertools.count()

    def _temp_for(self, target: str, direct: bool) -> str:
        if direct:
            return target
        head, name = os.path.split(target)
        return f"{head}/.{name}.{self._token}{next(self._serial)}{STAGING_SUFFIX}"

    def write(self, cid: str, target: str, direct: bool = False) -> Heavy | None:
        source = self.store.path_of(cid)
        try:
            src = os.open(source, OPEN_READ)
        except FileNotFoundError:
            # In a pack (pulled as one, or a store that is also a remote): no file of its
            # own to copy from; its bytes are checked against the id as they are read.
            data = self.store.read_packed_one(cid)
            if data is None:
                raise NotFound(
                    f"object {cid} is not in the local store",
                    hint="fetch it with `monoloop data pull`",
                ) from None
            self.write_bytes(data, target, direct=direct)
            return None
        size = os.fstat(src).st_size
        if size >= SMALL_FILE:
            os.close(src)
            return lambda: self._write_closing(
                os.open(source, OPEN_READ), source, target, size, direct
            )
        self._write_closing(src, source, target, size, direct)
        return None

    @contextlib.contextmanager
    def _placing(self, target: str, direct: bool) -> Iterator[str]:
        """The path to write `target` at: a temp name, renamed over it once the block is
        done (or `target` itself in a staged directory); removed if the block fails."""
        tmp = self._temp_for(target, direct)
        try:
            yield tmp
            if tmp != target:
                os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _write_closing(self, src: int, source: str, target: str, size: int, direct: bool) -> None:
        try:
            with self._placing(target, direct) as tmp:
                if self.link and not self.reflink:
                    method = "link"
                    os.link(source, tmp)
                else:
                    fd = os.open(tmp, OPEN_NEW, 0o666)  # the umask applies, as for any file
                    try:
                        method = self._fill(src, fd, size)
                    finally:
                        os.close(fd)
                    if method == "link":
                        os.unlink(tmp)
                        os.link(source, tmp)
        finally:
            os.close(src)
        self.methods.add(method)

    def write_bytes(self, data: bytes, target: str, *, direct: bool = False) -> None:
        with self._placing(target, direct) as tmp:
            fd = os.open(tmp, OPEN_NEW, 0o666)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        self.methods.add("copy")

    def _fill(self, src: int, fd: int, size: int) -> str:
        if self.reflink:
            try:
                fcntl.ioctl(fd, FICLONE, src)
                return "reflink"
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                    raise
                self.reflink = False
        if self.link:
            return "link"
        _copy(src, fd, size)
        return "copy"


def _copy(src: int, out: int, size: int) -> None:
    """In-kernel copy where the kernel can, else through a buffer; in chunks, so that a
    large file is not one uninterruptible system call (Ctrl-C waits for the chunk)."""
    done = 0
    try:
        while done < size:
            sent = os.copy_file_range(src, out, min(COPY_CHUNK, size - done))
            if sent == 0:
                break
            done += sent
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        while chunk := os.pread(src, COPY_CHUNK, done):
            view = memoryview(chunk)
            while view:
                written = os.pwrite(out, view, done)
                view, done = view[written:], done + written
