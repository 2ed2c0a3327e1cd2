"""The `monoloop` command as a typer app: every command group and the options they share.

`monoloop.cli.main` runs it (and shows every error); the hot data commands skip it (see
cli/fast.py), since typer, click and the command modules take about 0.1 s to import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monoloop import __version__
from monoloop.cli import (
    audit,
    ci,
    config,
    data,
    demo,
    init,
    models,
    runs,
    store,
    sweep,
    tokens,
    validate,
)
from monoloop.cli import check as check_cmd
from monoloop.cli import controller as controller_cmd
from monoloop.cli import monitor as monitor_cmd
from monoloop.cli import predict as predict_cmd
from monoloop.cli import run as run_cmd
from monoloop.cli import serve as serve_cmd
from monoloop.cli import server as server_cmd
from monoloop.cli.context import CliContext
from monoloop.cli.output import Output

app = typer.Typer(
    name="monoloop",
    help="One loop for code, data and models, with Git as the single source of truth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"monoloop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option("-C", "--directory", help="Run as if started in this directory."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print results only: no status, no progress.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = CliContext(cwd=directory or Path.cwd(), output=Output(quiet=quiet, debug=debug))


app.command("init")(init.init)
app.add_typer(config.app, name="config")
app.add_typer(data.app, name="data")
app.add_typer(store.app, name="store")
app.add_typer(validate.app, name="validate")
app.add_typer(audit.app, name="audit")
app.add_typer(runs.app, name="runs")
app.command("run")(run_cmd.run)
app.command("sweep")(sweep.sweep)
app.add_typer(models.app, name="models")
app.command("check")(check_cmd.check)
app.add_typer(ci.app, name="ci")
app.command("demo")(demo.demo)
app.add_typer(monitor_cmd.app, name="monitor")
app.command("controller")(controller_cmd.controller)
app.command("server")(server_cmd.server)
app.add_typer(tokens.app, name="tokens")
app.command("serve")(serve_cmd.serve)
app.command("predict")(predict_cmd.predict)


def invoke(args: list[str], output: Output) -> int:
    """Run the typer app on `args`; usage errors are shown here, MonoloopError propagates."""
    try:
        result = app(args=args, prog_name="monoloop", standalone_mode=False)
    except typer.Exit as stop:
        return stop.exit_code
    except typer.TyperException as usage:
        # Usage errors (bad option, missing argument) know how to show themselves.
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            output.err.print(f"error: {usage.format_message()}", highlight=False, markup=False)
        return usage.exit_code
    except typer.Abort:
        output.err.print("aborted", highlight=False)
        return 130
    return result if isinstance(result, int) else 0
