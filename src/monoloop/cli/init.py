from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli


def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Directory to make a workspace (default: here).")
    ] = None,
    git_init: Annotated[
        bool, typer.Option("--git-init", help="Run `git init` first if PATH is not in a repo.")
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Make a Git repository a monoloop workspace: monoloop.yaml, .monoloop/, .gitignore."""
    from monoloop.workspace import init_workspace

    c = cli(ctx, json=json)
    target = None if path is None else c.path(path)
    result = init_workspace(target or c.cwd, git_init=git_init)
    if result.changed:
        made = ", ".join(result.created) or "nothing new"
        git_note = " (ran git init)" if result.git_initialized else ""
        c.output.info(f"Initialized monoloop workspace in {result.root}{git_note}: {made}")
    else:
        c.output.info(f"{result.root} is already a monoloop workspace; nothing changed")
    c.output.result(result.to_dict())
