"""The `monoloop` entry point, and the one place errors are shown.

Kept light: it imports typer and the command groups (cli/app.py) only for commands the
fast path (cli/fast.py) does not take, so `monoloop data status` starts in a few
hundredths of a second.
"""

from __future__ import annotations

import sys
from typing import Any

from monoloop.cli import fast
from monoloop.cli.output import Output
from monoloop.errors import MonoloopError


def run(argv: list[str] | None = None, *, fast_path: bool = True) -> int:
    """Run the CLI and return its exit code; every error is rendered here and only here.

    fast_path=False sends every command through typer (the tests compare both ways).
    """
    args = _hoist_global_flags(sys.argv[1:] if argv is None else argv)
    output = Output(debug="--debug" in args, json="--json" in args)
    try:
        command = fast.parse(args) if fast_path else None
        if command is not None:
            command()
            return 0
        from monoloop.cli.app import invoke

        return invoke(args, output)
    except MonoloopError as error:
        if output.debug:
            import traceback

            traceback.print_exc()
        output.error(error)
        return error.exit_code
    except KeyboardInterrupt:
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


_GLOBAL_FLAGS = ("-q", "--quiet", "--debug")


def _hoist_global_flags(args: list[str]) -> list[str]:
    """Accept -q/--quiet/--debug after the command too (`monoloop demo -q`), as users type them."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in _GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in _GLOBAL_FLAGS]
    return flags + rest + args[end:]


def main() -> None:
    sys.exit(run())


def __getattr__(name: str) -> Any:
    # The typer app and its root callback, for code that mounts commands on them.
    if name in ("app", "root"):
        from monoloop.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
