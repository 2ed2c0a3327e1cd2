"""What every command gets from the top-level options: where to work and how to speak."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from monoloop.cli.output import Output
from monoloop.workspace import Workspace, open_workspace


@dataclass
class CliContext:
    cwd: Path
    output: Output

    def workspace(self) -> Workspace:
        return open_workspace(self.cwd)


def cli(ctx: typer.Context, *, json: bool = False) -> CliContext:
    """The command's context, with --json applied to its output."""
    state = ctx.find_root().obj
    assert isinstance(state, CliContext), "the root callback sets the context"
    state.output.json = json
    return state


JSON_OPTION = typer.Option("--json", help="Print the result as JSON on stdout.")
