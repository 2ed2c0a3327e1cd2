"""What the hot `monoloop data` commands do once their arguments are parsed.

The typer commands in cli/data.py and the fast path in cli/fast.py both call these, so
the two ways in cannot differ in behaviour or output. Free of typer and of anything heavy
at import: each function imports what its command needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from monoloop.cli.session import CliContext

if TYPE_CHECKING:
    from monoloop.data.context import DataContext


@contextmanager
def data_context(c: CliContext) -> Iterator[DataContext]:
    from monoloop.data.context import DataContext

    ctx = DataContext.light(c.cwd)
    try:
        yield ctx
    finally:
        ctx.close()


def _abs(c: CliContext, paths: list[Path] | None) -> list[Path]:
    return [c.path(p) for p in paths or []]


def rels(c: CliContext, root: Path, paths: list[Path] | None) -> list[str] | None:
    """Workspace-relative paths of tracked data named on the command line (PATH or PATH.loop)."""
    from monoloop.data import pointer, tracked

    if not paths:
        return None
    found = [tracked.relative(root, p) for p in _abs(c, paths)]
    return [r.removesuffix(pointer.SUFFIX) for r in found]


def add(c: CliContext, paths: list[Path]) -> None:
    from monoloop.data.track import add as add_paths

    with data_context(c) as ctx, c.output.progress(None, "storing") as advance:
        results = add_paths(ctx, _abs(c, paths), progress=advance)
    for r in results:
        if r.changed:
            c.output.info(f"added {r.path}: {r.files} file(s), {r.size:,} bytes -> {r.pointer}")
        else:
            c.output.info(f"{r.path} is unchanged: nothing to do")
    if any(r.changed for r in results):
        pointers = " ".join(r.pointer for r in results if r.changed)
        c.output.info(f"to record it in Git: git add {pointers} .gitignore")
    c.output.result([r.to_dict() for r in results])


def status(c: CliContext, paths: list[Path] | None, *, verbose: bool, remote: str | None) -> None:
    from monoloop.data.state import status as data_status

    with data_context(c) as ctx:
        found = data_status(ctx, rels(c, ctx.root, paths), verbose=verbose, remote=remote)

    if c.output.json:
        c.output.result([s.to_dict() for s in found])
        return
    # Plain lines, not rich: this command is on the fast path (see docs/data.md).
    lines: list[tuple[str, str | None]] = []
    if not found:
        lines.append(("no tracked data (track some with `monoloop data add PATH`)", None))
    colors = {"unchanged": "green", "modified": "yellow", "missing": "red"}
    for item in found:
        notes = []
        if item.pushed is False:
            notes.append("not pushed")
        if not item.in_store:
            notes.append("not in local store")
        extra = f"  ({', '.join(notes)})" if notes else ""
        lines.append((f"{item.state:>9}  {item.path}{extra}", colors[item.state]))
        for change in item.files:
            lines.append((f"           {change.change:>8}: {item.path}/{change.path}", "dim"))
    c.output.lines(lines)


def push(
    c: CliContext, paths: list[Path] | None, *, remote: str | None, no_hardlinks: bool = False
) -> None:
    from monoloop.data import service

    with data_context(c) as ctx, c.output.progress(None, "pushing") as advance:
        result = service.push(
            ctx,
            rels(c, ctx.root, paths),
            remote=remote,
            progress=advance,
            links=not no_hardlinks,
        )
    if result.index_was_stale:
        c.output.warn(
            f"remote {result.remote} no longer holds objects pushed to it earlier (wiped or "
            "recreated?): every object was checked again and the missing ones re-uploaded"
        )
    c.output.info(
        f"pushed {result.transferred} object(s) to {result.remote}; "
        f"{result.already_there} already there"
    )
    if result.missing:
        c.output.warn(
            f"{len(result.missing)} object(s) are not in the local store and were not pushed "
            "(pull them from where they were added)"
        )
    c.output.result(result.to_dict())


def pull(
    c: CliContext,
    paths: list[Path] | None,
    *,
    remote: str | None,
    no_checkout: bool,
    force: bool,
    no_hardlinks: bool = False,
) -> None:
    from monoloop.data import service

    with data_context(c) as ctx, c.output.progress(None, "pulling") as advance:
        result, done = service.pull(
            ctx,
            rels(c, ctx.root, paths),
            remote=remote,
            checkout=not no_checkout,
            force=force,
            progress=advance,
            links=not no_hardlinks,
        )
    c.output.info(f"fetched {result.transferred} object(s) from {result.remote}")
    if result.missing:
        c.output.warn(f"{len(result.missing)} object(s) are on neither side: push them first")
    if done is not None:
        c.output.info(f"checked out {len(done.written)} file(s)")
    c.output.result({**result.to_dict(), "checkout": done.to_dict() if done else None})


def checkout(
    c: CliContext, paths: list[Path] | None, *, rev: str | None, force: bool, link: bool
) -> None:
    from monoloop.data import service

    with data_context(c) as ctx, c.output.progress(None, "checking out") as advance:
        done = service.checkout(
            ctx, rels(c, ctx.root, paths), rev=rev, force=force, link=link, progress=advance
        )
    c.output.info(
        f"wrote {len(done.written)} file(s) ({done.method}), removed {len(done.removed)}, "
        f"{done.unchanged} already up to date"
    )
    c.output.result(done.to_dict())
