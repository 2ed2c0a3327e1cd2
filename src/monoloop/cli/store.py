from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(help="The content-addressed object store.", no_args_is_help=True)


@app.command("put")
def put(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories in the workspace.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Store files and directories; print their content ids (a directory gets a manifest id)."""
    from monoloop.store import service

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        total = service.count_files(ws, paths)
        with c.output.progress(total, "storing") as advance:
            stored = service.put_paths(ws, paths, progress=advance)

    def render(console: Console) -> None:
        for item in stored:
            console.print(f"{item.id}  {item.path}", highlight=False)

    c.output.result([s.to_dict() for s in stored], render)


@app.command("get")
def get(
    ctx: typer.Context,
    object_id: Annotated[str, typer.Argument(metavar="ID", help="Content id b3:<hex>.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write it.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Write an object (or a whole directory, for a manifest id) to a path, verified."""
    from monoloop.store import service

    c = cli(ctx, json=json)
    with c.workspace() as ws, c.output.progress(None, "restoring") as advance:
        target = service.get_to_path(ws, object_id, c.path(output), force=force, progress=advance)
    c.output.info(f"wrote {object_id} to {target}")
    c.output.result({"id": object_id, "path": str(target)})


@app.command("cat")
def cat(
    ctx: typer.Context,
    object_id: Annotated[str, typer.Argument(metavar="ID", help="Content id b3:<hex>.")],
) -> None:
    """Write an object's bytes to stdout, verified as they stream."""
    from monoloop.hashing import parse_id

    c = cli(ctx)
    with c.workspace() as ws, ws.objects.open(parse_id(object_id)) as reader:
        while chunk := reader.read(1 << 20):
            sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


@app.command("ls")
def ls(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """List the objects in the store with their sizes."""
    c = cli(ctx, json=json)
    with c.workspace() as ws:
        rows = [{"id": oid, "size": ws.objects.size(oid)} for oid in sorted(ws.objects.iter())]

    def render(console: Console) -> None:
        for row in rows:
            console.print(f"{row['id']}  {row['size']:>12,}", highlight=False)

    c.output.result(rows, render)


@app.command("verify")
def verify(
    ctx: typer.Context,
    object_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Content ids.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Re-hash objects and check them against their ids; exit 1 on the first mismatch."""
    from monoloop.hashing import parse_id

    c = cli(ctx, json=json)
    ids = [parse_id(o) for o in object_ids]
    with c.workspace() as ws:
        for oid in ids:
            ws.objects.verify(oid)
    c.output.info(f"{len(ids)} object(s) verified")
    c.output.result({"verified": ids})


@app.command("fsck")
def fsck(
    ctx: typer.Context,
    quarantine: Annotated[
        bool,
        typer.Option("--quarantine", help="Move corrupt objects aside (to quarantine/)."),
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Verify every object and remove temp files left by interrupted writes."""
    c = cli(ctx, json=json)
    with c.workspace() as ws:
        total = sum(1 for _ in ws.objects.iter())
        with c.output.progress(total, "verifying") as advance:
            report = ws.objects.fsck(progress=advance, quarantine=quarantine)
    data = report.to_dict()

    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(box=None, show_header=False)
        for key, value in data.items():
            table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
        console.print(table)

    c.output.result(data, render)
    if report.corrupt:
        raise typer.Exit(1)
