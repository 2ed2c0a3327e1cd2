"""Data operations that change shared state, each recorded in the audit ledger.

They run on a `DataContext` (no pydantic, no SQLAlchemy unless the ledger needs them);
`status`, `diff` and `open` only read. `gc` takes a Workspace: what the other
capabilities' records reference lives in the metadata DB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from monoloop.data import cleanup as gc_mod
from monoloop.data import materialize as checkout_mod
from monoloop.data import sync
from monoloop.data.context import DataContext

if TYPE_CHECKING:
    from monoloop.workspace import Workspace

Progress = Callable[[int], None]


@contextmanager
def context(ws: Workspace) -> Iterator[DataContext]:
    ctx = DataContext.of(ws)
    try:
        yield ctx
    finally:
        ctx.close()


def push(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    remote: str | None = None,
    progress: Progress | None = None,
    links: bool = True,
) -> sync.SyncResult:
    result = sync.push(ctx, rels, remote=remote, progress=progress, links=links)
    if result.transferred:
        ctx.record([("data.push", result.remote, _summary(result))])
    return result


def pull(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    remote: str | None = None,
    checkout: bool = True,
    force: bool = False,
    progress: Progress | None = None,
    links: bool = True,
) -> tuple[sync.SyncResult, checkout_mod.CheckoutResult | None]:
    result = sync.pull(ctx, rels, remote=remote, progress=progress, links=links)
    if result.transferred:
        ctx.record([("data.pull", result.remote, _summary(result))])
    done = checkout_mod.checkout(ctx, rels, force=force) if checkout else None
    return result, done


def checkout(
    ctx: DataContext,
    rels: list[str] | None = None,
    *,
    rev: str | None = None,
    force: bool = False,
    link: bool = False,
    progress: Progress | None = None,
) -> checkout_mod.CheckoutResult:
    return checkout_mod.checkout(ctx, rels, rev=rev, force=force, link=link, progress=progress)


def gc(
    ws: Workspace,
    *,
    all_commits: bool = False,
    dry_run: bool = False,
    grace_seconds: int = gc_mod.GRACE_SECONDS,
) -> gc_mod.GcResult:
    # Runs, model versions and the prediction log refer to objects that no pointer or lock
    # file names.
    keep = referenced_objects(ws)
    with context(ws) as ctx:
        result = gc_mod.gc(
            ctx,
            all_commits=all_commits,
            dry_run=dry_run,
            grace_seconds=grace_seconds,
            extra_live=keep,
        )
    if result.removed and not dry_run:
        with ws.db.write() as conn:
            ws.record(
                conn,
                "data.gc",
                ws.config.project,
                {
                    "removed": len(result.removed),
                    "freed_bytes": result.freed_bytes,
                    "all_commits": all_commits,
                },
            )
    return result


def referenced_objects(ws: Workspace) -> set[str]:
    """Every object a capability's records refer to: each capability that keeps object ids
    in the DB says which in its `references.py` (`referenced_objects(ws)`)."""
    import importlib
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    keep: set[str] = set()
    for found in sorted(package.glob("*/references.py")):
        module = importlib.import_module(f"monoloop.{found.parent.name}.references")
        keep |= module.referenced_objects(ws)
    return keep


def _summary(result: sync.SyncResult) -> dict[str, object]:
    return {
        "url": result.url,
        "transferred": result.transferred,
        "already_there": result.already_there,
        "paths": result.paths,
        "missing": len(result.missing),
    }
