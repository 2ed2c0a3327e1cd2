"""Data versioning from Python: the same operations as `monoloop data ...`.

    import monoloop.data as data
    data.add("data/raw.csv")
    for item in data.status():
        print(item.path, item.state)
    with data.open("data/raw.csv", rev="v1.0") as f:
        head = f.read(100)

Every function takes `workspace=` (a directory inside the workspace; default: the
current directory); relative paths are taken from it. Heavy modules load on first
call, so importing this is cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from monoloop.data.cleanup import GcResult
    from monoloop.data.compare import PathDiff
    from monoloop.data.context import DataContext
    from monoloop.data.materialize import CheckoutResult
    from monoloop.data.state import PathStatus
    from monoloop.data.sync import SyncResult
    from monoloop.data.track import Added
    from monoloop.workspace import Workspace

__all__ = ["add", "checkout", "diff", "gc", "open", "open_at", "pull", "push", "status"]

PathLike = str | Path


@contextlib.contextmanager
def _workspace(workspace: PathLike | None) -> Iterator[Workspace]:
    from monoloop.workspace import open_workspace

    with open_workspace(Path(workspace or Path.cwd())) as ws:
        yield ws


@contextlib.contextmanager
def _context(workspace: PathLike | None) -> Iterator[DataContext]:
    """The light context (no pydantic, no SQLAlchemy unless the ledger needs them)."""
    from monoloop.data.context import DataContext

    ctx = DataContext.light(Path(workspace or Path.cwd()))
    try:
        yield ctx
    finally:
        ctx.close()


def _path(path: PathLike, workspace: PathLike | None) -> Path:
    """Relative paths are taken from `workspace` when one is given, else from the cwd."""
    given = Path(path)
    if given.is_absolute():
        return given
    return Path(workspace or Path.cwd()).absolute() / given


def _rels(root: Path, paths: Sequence[PathLike], workspace: PathLike | None) -> list[str] | None:
    from monoloop.data import pointer, tracked

    if not paths:
        return None
    return [tracked.relative(root, _path(p, workspace)).removesuffix(pointer.SUFFIX) for p in paths]


def add(*paths: PathLike, workspace: PathLike | None = None) -> list[Added]:
    """Track files or directories: store them and write PATH.loop pointer files."""
    from monoloop.data.track import add as add_paths

    with _context(workspace) as ctx:
        return add_paths(ctx, [_path(p, workspace) for p in paths])


def status(
    *paths: PathLike, workspace: PathLike | None = None, verbose: bool = False
) -> list[PathStatus]:
    """How the working tree compares with the pointer files."""
    from monoloop.data.state import status as data_status

    with _context(workspace) as ctx:
        return data_status(ctx, _rels(ctx.root, paths, workspace), verbose=verbose)


def diff(
    rev_a: str | None = None, rev_b: str | None = None, *, workspace: PathLike | None = None
) -> list[PathDiff]:
    """Tracked paths (and files inside them) changed between two revisions."""
    from monoloop.data.compare import diff as data_diff

    with _context(workspace) as ctx:
        return data_diff(ctx, rev_a, rev_b)


def push(
    *paths: PathLike,
    remote: str | None = None,
    hardlinks: bool = True,
    workspace: PathLike | None = None,
) -> SyncResult:
    """Copy the objects tracked data needs to a remote; only what the remote lacks.

    To a directory on the same file system objects are hard-linked unless hardlinks=False.
    """
    from monoloop.data import service

    with _context(workspace) as ctx:
        rels = _rels(ctx.root, paths, workspace)
        return service.push(ctx, rels, remote=remote, links=hardlinks)


def pull(
    *paths: PathLike,
    remote: str | None = None,
    checkout: bool = True,
    force: bool = False,
    hardlinks: bool = True,
    workspace: PathLike | None = None,
) -> SyncResult:
    """Fetch the objects tracked data needs, then (by default) check the data out.

    From a directory on the same file system objects are hard-linked into the local
    store unless hardlinks=False (the working tree always gets copies, or reflinks).
    """
    from monoloop.data import service

    with _context(workspace) as ctx:
        result, _ = service.pull(
            ctx,
            _rels(ctx.root, paths, workspace),
            remote=remote,
            checkout=checkout,
            force=force,
            links=hardlinks,
        )
        return result


def checkout(
    *paths: PathLike,
    rev: str | None = None,
    force: bool = False,
    link: bool = False,
    workspace: PathLike | None = None,
) -> CheckoutResult:
    """Make the working tree match the pointer files (or those at `rev`)."""
    from monoloop.data import service

    with _context(workspace) as ctx:
        return service.checkout(
            ctx, _rels(ctx.root, paths, workspace), rev=rev, force=force, link=link
        )


def gc(
    *, all_commits: bool = False, dry_run: bool = False, workspace: PathLike | None = None
) -> GcResult:
    """Remove local objects that no pointer or lock file references."""
    from monoloop.data import service

    with _workspace(workspace) as ws:
        return service.gc(ws, all_commits=all_commits, dry_run=dry_run)


def open(path: PathLike, *, rev: str | None = None, workspace: PathLike | None = None) -> BinaryIO:
    """Read a tracked file (or a file inside a tracked directory) as of `rev`, from the store."""
    from monoloop.data.reader import open_tracked

    with _context(workspace) as ctx:
        return open_tracked(ctx, _path(path, workspace), rev=rev)


def open_at(ws: Workspace, path: Path, rev: str | None) -> BinaryIO:
    """`open` for callers that hold a Workspace (validation reads tracked data at a rev)."""
    from monoloop.data.context import DataContext
    from monoloop.data.reader import open_tracked

    ctx = DataContext.of(ws)
    try:
        return open_tracked(ctx, path, rev=rev)
    finally:
        ctx.close()
