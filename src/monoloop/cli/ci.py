"""`monoloop ci init`: write a GitLab CI or GitHub Actions pipeline for the loop."""

from __future__ import annotations

from typing import Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

app = typer.Typer(
    help="CI integration: pipelines that test data, models and code.", no_args_is_help=True
)


@app.command("init")
def init(
    ctx: typer.Context,
    gitlab: Annotated[bool, typer.Option("--gitlab", help="Write .gitlab-ci.yml.")] = False,
    github: Annotated[
        bool, typer.Option("--github", help="Write .github/workflows/monoloop.yml.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="The model to check and promote (default: the only one "
            "under models: in monoloop.yaml).",
        ),
    ] = None,
    alias: Annotated[str, typer.Option("--alias", help="The alias to promote to.")] = "champion",
    validate: Annotated[
        list[str], typer.Option("--validate", help="A data file to validate (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Write a CI pipeline: validate -> run -> check on merge requests, promote on main."""
    from monoloop.ci import templates

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        opts = templates.options_for(ws, model=model, alias=alias, data=validate)
        kind = templates.choose(gitlab=gitlab, github=github)
        path = templates.write(ws.root, kind=kind, opts=opts, force=force)
    c.output.result(
        {"path": str(path), "kind": kind, "model": opts.model},
        lambda con: con.print(f"wrote {path}: commit it to run the loop's checks in CI"),
    )
