from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(help="Inspect the workspace configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Print the effective settings and where each comes from (passwords hidden)."""
    from monoloop.root import find_root
    from monoloop.workspace import describe_settings, load_settings

    c = cli(ctx, json=json)
    settings = load_settings(find_root(c.cwd))
    info = describe_settings(settings)

    def render(console: Console) -> None:
        from rich.table import Table

        table = Table("setting", "value", "from", box=None)
        for key, entry in info.items():
            table.add_row(key, str(entry["value"]), entry["source"])
        console.print(table)

    c.output.result(info, render)


@app.command("validate")
def validate(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Check monoloop.yaml and the environment overrides; exit non-zero on a problem."""
    from monoloop.root import find_root
    from monoloop.workspace import load_settings

    c = cli(ctx, json=json)
    settings = load_settings(find_root(c.cwd))
    c.output.info(f"{settings.root / 'monoloop.yaml'} is valid")
    c.output.result({"ok": True, "root": str(settings.root)})
