"""What every typer command gets: its CliContext, and the options many commands share."""

from __future__ import annotations

import typer

from monoloop.cli.session import CliContext

__all__ = ["JSON_OPTION", "CliContext", "cli"]


def cli(ctx: typer.Context, *, json: bool = False) -> CliContext:
    """The command's context, with --json applied to its output."""
    state = ctx.find_root().obj
    assert isinstance(state, CliContext), "the root callback sets the context"
    state.output.json = json
    return state


JSON_OPTION = typer.Option("--json", help="Print the result as JSON on stdout.")
