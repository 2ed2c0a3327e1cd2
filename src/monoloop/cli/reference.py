"""The CLI reference (docs/cli.md), generated from the CLI itself.

    python -m monoloop.cli.reference > docs/cli.md      # or: make docs

A test fails when docs/cli.md differs from what this renders, so the reference cannot
drift from the commands.
"""

from __future__ import annotations

import sys
from typing import Any

HEADER = """\
# CLI reference

Generated from the CLI by `make docs` (`python -m monoloop.cli.reference`); do not edit
by hand. Every command also takes `--help`. Options of the `monoloop` command itself
(`-C DIR`, `-q`, `--debug`) may come before or after the command.
"""


def render() -> str:
    import typer

    from monoloop.cli.app import app

    root = typer.main.get_command(app)
    parts = [HEADER]
    for path, command in _walk(root, []):
        parts.append(_section(path, command))
    return "\n".join(parts).rstrip() + "\n"


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    for name in sorted(getattr(command, "commands", {}) or {}):
        found += _walk(command.commands[name], [*path, name])
    return found


def _section(path: list[str], command: Any) -> str:
    title = " ".join(["monoloop", *path])
    lines = [f"## `{title}`", ""]
    help_text = (command.help or "").strip()
    if help_text:
        lines += [help_text.split("\n\n")[0].replace("\n", " "), ""]
    subcommands = sorted(getattr(command, "commands", {}) or {})
    if subcommands:
        lines += ["Commands: " + ", ".join(f"`{s}`" for s in subcommands), ""]
        if path:
            return "\n".join(lines)
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [
        p for p in command.params if p.param_type_name == "option" and "--help" not in p.opts
    ]
    usage = " ".join([title, *(_arg(a) for a in arguments)]) + (" [OPTIONS]" if options else "")
    if subcommands:
        usage += " COMMAND [ARGS]..."
    lines += ["```", usage, "```", ""]
    rows = [(_arg(a), getattr(a, "help", None) or "") for a in arguments]
    rows += [(", ".join(f"`{o}`" for o in p.opts), _option_help(p)) for p in options]
    if rows:
        lines += ["| | |", "|---|---|", *[f"| {k} | {_cell(v)} |" for k, v in rows], ""]
    return "\n".join(lines)


def _arg(param: Any) -> str:
    name = param.human_readable_name.upper()
    text = f"{name}..." if param.nargs == -1 else name
    return text if param.required else f"[{text}]"


def _option_help(param: Any) -> str:
    text = (param.help or "").strip()
    default = param.default
    if not param.is_flag and default not in (None, (), [], False) and not callable(default):
        text += f" (default: {default})"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    sys.stdout.write(render())
