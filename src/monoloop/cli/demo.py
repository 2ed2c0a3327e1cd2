from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console


if TYPE_CHECKING:
    from monoloop.demo.run import Step


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Build the demo project here (kept afterwards)."),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary demo project.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run the monoloop loop end to end on a generated project; exit 0 only if every step held."""
    from monoloop.demo.run import run_demo

    c = cli(ctx, json=json)
    out = c.output

    def on_step(step: Step) -> None:
        mark = "[green]✓[/green]" if step.ok else "[bold red]✗[/bold red]"
        if not out.quiet and not out.json:
            out.err.print(f"{mark} {step.name} [dim]({step.seconds:.2f} s)[/dim]")
            if step.detail:
                out.err.print(f"    [dim]{step.detail}[/dim]", highlight=False)

    target = None if directory is None else c.path(directory)
    report = run_demo(target, keep=keep, on_step=on_step)

    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(title="monoloop demo", show_lines=False)
        table.add_column("what")
        table.add_column("outcome")
        for key, value in report.summary.items():
            shown = (
                "\n".join(f"{k}: {v}" for k, v in value.items())
                if isinstance(value, dict)
                else str(value)
            )
            table.add_row(key, shown)
        table.add_row("steps", f"{sum(s.ok for s in report.steps)}/{len(report.steps)} passed")
        table.add_row("project", str(report.directory) + ("" if report.kept else " (removed)"))
        console.print(table)

    out.result(report.to_dict(), render)
