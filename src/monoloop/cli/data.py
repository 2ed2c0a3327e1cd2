from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli import data_commands as run
from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(
    help="Version data beside the code: pointer files in Git, bytes in the object store.",
    no_args_is_help=True,
)

PATHS = typer.Argument(help="Tracked files or directories (default: all).")


@app.command("add")
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to track.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Store data and write PATH.loop pointer files to commit; PATH goes into .gitignore."""
    run.add(cli(ctx, json=json), paths)


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
    run.status(cli(ctx, json=json), paths, verbose=verbose, remote=remote)


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
NO_HARDLINKS = typer.Option(
    "--no-hardlinks",
    help="Copy objects even when the remote is a directory on the same file system "
    "(by default they are hard-linked there, as `git clone` does locally).",
)


@app.command("push")
def push(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, PATHS] = None,
    remote: Annotated[str | None, REMOTE] = None,
    no_hardlinks: Annotated[bool, NO_HARDLINKS] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Upload the objects tracked data needs to a remote; only what it lacks, in parallel."""
    run.push(cli(ctx, json=json), paths, remote=remote, no_hardlinks=no_hardlinks)


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
    no_hardlinks: Annotated[bool, NO_HARDLINKS] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Download the objects tracked data needs (verified), then check the data out."""
    run.pull(
        cli(ctx, json=json),
        paths,
        remote=remote,
        no_checkout=no_checkout,
        force=force,
        no_hardlinks=no_hardlinks,
    )


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
    run.checkout(cli(ctx, json=json), paths, rev=rev, force=force, link=link)


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
        + (
            f"; {result.waiting_in_packs} unreferenced object(s) stay in packs until they "
            "are a quarter of their pack"
            if result.waiting_in_packs
            else ""
        )
    )
    c.output.result(result.to_dict())


remote_app = typer.Typer(
    help="The data remotes in monoloop.yaml: where `data push` and `data pull` go.",
    no_args_is_help=True,
)
app.add_typer(remote_app, name="remote")


@remote_app.command("list")
def remote_list(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """List the remotes (credentials in URLs hidden) and which one is the default."""
    from monoloop.data.remotes import list_remotes
    from monoloop.root import find_root

    c = cli(ctx, json=json)
    found = list_remotes(find_root(c.cwd))
    if not found:
        c.output.info("no remotes; add one with `monoloop data remote add NAME URL`")
    c.output.lines(
        [(f"{r.name}\t{r.url}" + ("\t(default)" if r.default else ""), None) for r in found]
        if not c.output.json
        else []
    )
    c.output.result([r.to_dict() for r in found])


@remote_app.command("add")
def remote_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name: letters, digits, '.', '_', '-'.")],
    url: Annotated[
        str, typer.Argument(help="A directory, file://, s3://bucket/prefix or another fsspec URL.")
    ],
    default: Annotated[
        bool, typer.Option("--default", "-d", help="Make it the default remote.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Replace a remote of the same name.")
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Add a remote to monoloop.yaml (a plain directory becomes a file:// URL)."""
    from monoloop.data.remotes import add_remote
    from monoloop.root import find_root

    c = cli(ctx, json=json)
    added = add_remote(find_root(c.cwd), name, url, default=default, force=force)
    c.output.info(
        f"remote {added.name} is {added.url}" + (" (the default)" if added.default else "")
    )
    c.output.result(added.to_dict())


@remote_app.command("remove")
def remote_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The remote to remove.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Remove a remote from monoloop.yaml (its objects stay where they are)."""
    from monoloop.data.remotes import remove_remote
    from monoloop.root import find_root

    c = cli(ctx, json=json)
    was_default = remove_remote(find_root(c.cwd), name)
    c.output.info(f"removed remote {name}" + ("; no default remote now" if was_default else ""))
    c.output.result({"removed": name, "was_default": was_default})


@remote_app.command("default")
def remote_default(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The remote to make the default.")] = None,
    unset: Annotated[bool, typer.Option("--unset", help="Have no default remote.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Choose the remote push and pull use when none is named (or --unset it)."""
    from monoloop.data.remotes import set_default
    from monoloop.errors import InvalidInput
    from monoloop.root import find_root

    c = cli(ctx, json=json)
    if (name is None) == (not unset):
        raise InvalidInput("give either a remote NAME or --unset", hint="e.g. `... default origin`")
    set_default(find_root(c.cwd), name)
    c.output.info(f"the default remote is {name}" if name else "no default remote now")
    c.output.result({"default_remote": name})
