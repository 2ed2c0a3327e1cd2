"""The hot `monoloop data` commands, parsed without importing typer.

Typer, click and the command modules the full CLI registers take about 0.1 s to import:
as long as `monoloop data status` should take on 10,000 files. So `monoloop [-C DIR] [-q]
[--debug] data add|status|push|pull|checkout ...` with plain arguments is parsed here and
run by the functions the typer commands call (cli/data_commands.py). Anything this
parser does not take as it stands (--help, an unknown, repeated-letter or `--opt=value`
option, a missing argument, `--`) goes to typer, which gives the usual help or usage
error. A test checks that every spelling here is one the typer command declares, with
the same meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoloop.cli import data_commands
from monoloop.cli.output import Output
from monoloop.cli.session import CliContext


@dataclass(frozen=True)
class Command:
    """A command's options: spelling -> keyword of its data_commands function."""

    run: Callable[..., None]
    flags: Mapping[str, str] = field(default_factory=dict)  # booleans
    values: Mapping[str, str] = field(default_factory=dict)  # options taking one value
    needs_paths: bool = False


_REMOTE = {"--remote": "remote", "-r": "remote"}
_FORCE = {"--force": "force"}
_NO_HARDLINKS = {"--no-hardlinks": "no_hardlinks"}

COMMANDS: dict[str, Command] = {
    "add": Command(data_commands.add, needs_paths=True),
    "status": Command(
        data_commands.status, flags={"-v": "verbose", "--verbose": "verbose"}, values=_REMOTE
    ),
    "push": Command(data_commands.push, flags=_NO_HARDLINKS, values=_REMOTE),
    "pull": Command(
        data_commands.pull,
        flags={"--no-checkout": "no_checkout", **_FORCE, **_NO_HARDLINKS},
        values=_REMOTE,
    ),
    "checkout": Command(
        data_commands.checkout, flags={"--link": "link", **_FORCE}, values={"--rev": "rev"}
    ),
}
GROUP = "data"
JSON = "--json"


def parse(args: list[str]) -> Callable[[], None] | None:
    """The command `args` spell, ready to run; None when typer should handle them."""
    cwd: Path | None = None
    quiet = debug = False
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg in ("-q", "--quiet"):
            quiet = True
        elif arg == "--debug":
            debug = True
        elif arg in ("-C", "--directory") and _is_value(args, i + 1):
            cwd = Path(args[i + 1])
            i += 1
        else:
            return None
        i += 1
    if args[i : i + 1] != [GROUP] or i + 1 >= len(args) or args[i + 1] not in COMMANDS:
        return None
    command = COMMANDS[args[i + 1]]
    keywords: dict[str, Any] = dict.fromkeys(command.flags.values(), False)
    keywords.update(dict.fromkeys(command.values.values()))
    as_json = False
    paths: list[Path] = []
    rest = args[i + 2 :]
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg == JSON:
            as_json = True
        elif arg in command.flags:
            keywords[command.flags[arg]] = True
        elif arg in command.values and _is_value(rest, j + 1):
            keywords[command.values[arg]] = rest[j + 1]
            j += 1
        elif arg.startswith("-"):
            return None
        else:
            paths.append(Path(arg))
        j += 1
    if command.needs_paths and not paths:
        return None
    output = Output(quiet=quiet, debug=debug, json=as_json)
    context = CliContext(cwd=cwd or Path.cwd(), output=output)
    given = paths if command.needs_paths else (paths or None)
    return lambda: command.run(context, given, **keywords)


def _is_value(args: list[str], at: int) -> bool:
    """Whether args[at] is there and plainly a value (not something that looks like an option)."""
    return at < len(args) and not args[at].startswith("-")
