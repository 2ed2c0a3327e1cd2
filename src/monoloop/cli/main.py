"""The `monoloop` command: options shared by every command, and the one place errors are shown."""

from __future__ import annotations

import sys
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
from monoloop.errors import MonoloopError

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


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every error is rendered here and only here."""
    args = _hoist_global_flags(sys.argv[1:] if argv is None else argv)
    output = Output(debug="--debug" in args, json="--json" in args)
    try:
        result = app(args=args, prog_name="monoloop", standalone_mode=False)
    except MonoloopError as error:
        if output.debug:
            import traceback

            traceback.print_exc()
        output.error(error)
        return error.exit_code
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
    except (typer.Abort, KeyboardInterrupt):
        output.err.print("aborted", highlight=False)
        return 130
    except Exception as bug:
        if output.debug:
            import traceback

            traceback.print_exc()
        output.error(
            MonoloopError(
                f"internal error: {type(bug).__name__}: {bug}",
                hint="this is a bug in monoloop; rerun with --debug and report the traceback",
            )
        )
        return 1
    return result if isinstance(result, int) else 0


_GLOBAL_FLAGS = ("-q", "--quiet", "--debug")


def _hoist_global_flags(args: list[str]) -> list[str]:
    """Accept -q/--quiet/--debug after the command too (`monoloop demo -q`), as users type them."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in _GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in _GLOBAL_FLAGS]
    return flags + rest + args[end:]


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
