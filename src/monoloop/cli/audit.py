from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="Only events about this subject.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind; `store.*` matches a family.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only events by this actor.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the newest N events.")] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show audit events, oldest first."""
    from monoloop.audit import service

    c = cli(ctx, json=json)
    filters = service.EventFilter(subject=subject, kind=kind, actor=actor, limit=limit)
    with c.backend() as backend:
        found = backend.events(filters)

    def render(console: Console) -> None:
        from rich.table import Table

        table = Table("seq", "time", "actor", "kind", "subject", "payload")
        from monoloop.canonical import canonical_json

        for e in found:
            payload = canonical_json(e.payload).decode()
            short = payload if len(payload) <= 60 else payload[:57] + "..."
            table.add_row(str(e.seq), e.time, e.actor, e.kind, e.subject, short)
        console.print(table)

    c.output.result([e.to_dict() for e in found], render)


@app.command("verify")
def verify(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Verify the chain, its head and every Git anchor; exit 1 and name the first bad seq."""
    c = cli(ctx, json=json)
    with c.backend() as backend:
        report = backend.verify_ledger()

    def render(console: Console) -> None:

        if report.ok:
            anchors = len(report.anchors_checked)
            console.print(
                f"[green]ok[/green]: {report.count} events, head seq {report.head_seq} "
                f"{report.head_hash[:16]}…, {anchors} anchor(s) checked",
                highlight=False,
            )
        else:
            console.print(
                f"[bold red]BROKEN[/bold red] at seq {report.first_bad_seq}: {report.problem}",
                highlight=False,
            )

    c.output.result(report.to_dict(), render)
    if not report.ok:
        raise typer.Exit(1)


@app.command("export")
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="Export format: jsonl.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export every event with its hashes, so the chain can be checked elsewhere."""
    from monoloop.audit import service
    from monoloop.errors import InvalidInput
    from monoloop.fsutil import atomic_text_writer

    c = cli(ctx)
    if format != "jsonl":
        raise InvalidInput(f"unknown export format {format!r}", hint="use --format jsonl")
    with c.workspace() as ws:
        if output is None:
            service.export_jsonl(ws, sys.stdout)
            return
        target = c.path(output)
        with atomic_text_writer(target) as f:
            count = service.export_jsonl(ws, f)
    c.output.info(f"exported {count} events to {target}")


@app.command("anchor")
def anchor(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Record the chain's head in Git (an annotated tag); push tags to keep it off this machine."""
    from monoloop.audit import service

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        result = service.anchor(ws)
    if result.created:
        c.output.info(
            f"anchored seq {result.seq} as tag {result.tag}; `git push --tags` to share it"
        )
    else:
        c.output.info(f"seq {result.seq} is already anchored by tag {result.tag}")
    c.output.result(result.to_dict())
