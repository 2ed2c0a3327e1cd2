from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, CliContext, cli

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(
    help="Version data beside the code: pointer files in Git, bytes in the object store.",
    no_args_is_help=True,
)

PATHS = typer.Argument(help="Tracked files or directories (default: all).")


def _abs(c: CliContext, paths: list[Path] | None) -> list[Path]:
    return [c.path(p) for p in paths or []]


def _rels(c: CliContext, root: Path, paths: list[Path] | None) -> list[str] | None:
    from monoloop.data import pointer, tracked

    if not paths:
        return None
    rels = [tracked.relative(root, p) for p in _abs(c, paths)]
    return [r.removesuffix(pointer.SUFFIX) for r in rels]


@app.command("add")
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to track.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Store data and write PATH.loop pointer files to commit; PATH goes into .gitignore."""
    from monoloop.data.track import add as add_paths

    c = cli(ctx, json=json)
    with c.workspace() as ws, c.output.progress(None, "storing") as advance:
        results = add_paths(ws, _abs(c, paths), progress=advance)
    for r in results:
        if r.changed:
            c.output.info(f"added {r.path}: {r.files} file(s), {r.size:,} bytes -> {r.pointer}")
        else:
            c.output.info(f"{r.path} is unchanged: nothing to do")
    if any(r.changed for r in results):
        pointers = " ".join(r.pointer for r in results if r.changed)
        c.output.info(f"to record it in Git: git add {pointers} .gitignore")
    c.output.result([r.to_dict() for r in results])


@app.command("status")
def status(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, PATHS] = None,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="List changed files inside directories.")
    ] = False,
    remote: Annotated[
        str | None, typer.Option("--remote", "-r", help="Remote for 'not pushed'.")
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show which tracked data is modified, missing, unchanged or not pushed."""
    from monoloop.data.context import DataContext
    from monoloop.data.state import status as data_status

    c = cli(ctx, json=json)
    dctx = DataContext.light(c.cwd)
    try:
        found = data_status(dctx, _rels(c, dctx.root, paths), verbose=verbose, remote=remote)
    finally:
        dctx.close()

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


@app.command("diff")
def diff(
    ctx: typer.Context,
    rev_a: Annotated[str | None, typer.Argument(help="Old revision (default: HEAD).")] = None,
    rev_b: Annotated[
        str | None, typer.Argument(help="New revision (default: the working tree's pointers).")
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show which tracked paths, and which files inside them, changed between revisions."""
    from monoloop.data.compare import diff as data_diff
    from monoloop.data.context import DataContext

    c = cli(ctx, json=json)
    dctx = DataContext.light(c.cwd)
    try:
        changes = data_diff(dctx, rev_a, rev_b)
    finally:
        dctx.close()

    def render(console: Console) -> None:
        if not changes:
            console.print("no tracked data changed")
        for item in changes:
            d = item.to_dict()
            console.print(
                f"{item.change:>8}  {item.path}  ({d['size_change']:+,} bytes)", highlight=False
            )
            for f in item.files:
                size = f"{f.size:,} bytes" if f.size is not None else ""
                console.print(
                    f"          {f.change:>8}: {item.path}/{f.path} {size}", highlight=False
                )
            if not item.details:
                console.print("          (file details need the manifests: `monoloop data pull`)")

    c.output.result([x.to_dict() for x in changes], render)


REMOTE = typer.Option("--remote", "-r", help="Remote name (default: default_remote).")


@app.command("push")
def push(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, PATHS] = None,
    remote: Annotated[str | None, REMOTE] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Upload the objects tracked data needs to a remote; only what it lacks, in parallel."""
    from monoloop.data import service

    c = cli(ctx, json=json)
    with c.workspace() as ws, c.output.progress(None, "pushing") as advance:
        result = service.push(ws, _rels(c, ws.root, paths), remote=remote, progress=advance)
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


@app.command("pull")
def pull(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, PATHS] = None,
    remote: Annotated[str | None, REMOTE] = None,
    no_checkout: Annotated[
        bool, typer.Option("--no-checkout", help="Only fetch into the local store.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files with unsaved changes.")
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Download the objects tracked data needs (verified), then check the data out."""
    from monoloop.data import service

    c = cli(ctx, json=json)
    with c.workspace() as ws, c.output.progress(None, "pulling") as advance:
        result, done = service.pull(
            ws,
            _rels(c, ws.root, paths),
            remote=remote,
            checkout=not no_checkout,
            force=force,
            progress=advance,
        )
    c.output.info(f"fetched {result.transferred} object(s) from {result.remote}")
    if result.missing:
        c.output.warn(f"{len(result.missing)} object(s) are on neither side: push them first")
    if done is not None:
        c.output.info(f"checked out {len(done.written)} file(s)")
    c.output.result({**result.to_dict(), "checkout": done.to_dict() if done else None})


@app.command("checkout")
def checkout(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, PATHS] = None,
    rev: Annotated[
        str | None, typer.Option("--rev", help="Materialize the data as of this revision.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files with unsaved changes.")
    ] = False,
    link: Annotated[
        bool,
        typer.Option("--link", help="Hard-link from the store when reflinks are unavailable."),
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Make the working tree match the pointer files; refuses to discard unsaved changes."""
    from monoloop.data import service

    c = cli(ctx, json=json)
    with c.workspace() as ws, c.output.progress(None, "checking out") as advance:
        done = service.checkout(
            ws, _rels(c, ws.root, paths), rev=rev, force=force, link=link, progress=advance
        )
    c.output.info(
        f"wrote {len(done.written)} file(s) ({done.method}), removed {len(done.removed)}, "
        f"{done.unchanged} already up to date"
    )
    c.output.result(done.to_dict())


@app.command("gc")
def gc(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed.")
    ] = False,
    all_commits: Annotated[
        bool, typer.Option("--all-commits", help="Keep what any commit references, not just HEAD.")
    ] = False,
    grace: Annotated[
        int, typer.Option("--grace", help="Keep objects younger than this many seconds.")
    ] = 3600,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Remove local objects that no pointer or lock file references (HEAD and working tree)."""
    from monoloop.data import service
    from monoloop.errors import InvalidInput

    c = cli(ctx, json=json)
    if grace < 0:
        raise InvalidInput(f"--grace must be 0 or more, got {grace}")
    with c.workspace() as ws:
        result = service.gc(ws, all_commits=all_commits, dry_run=dry_run, grace_seconds=grace)
    verb = "would remove" if dry_run else "removed"
    c.output.info(
        f"{verb} {len(result.removed)} object(s), {result.freed_bytes:,} bytes; "
        f"kept {result.kept} referenced"
        + (f" and {result.young} younger than {grace} s (see --grace)" if result.young else "")
    )
    c.output.result(result.to_dict())
