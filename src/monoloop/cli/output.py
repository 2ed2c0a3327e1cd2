"""How the CLI speaks: results on stdout (JSON with --json), status and progress on stderr.

Rich is imported only when something is drawn with it, so that quick commands
(`data status` in a script) start fast.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from monoloop.errors import MonoloopError

if TYPE_CHECKING:
    from rich.console import Console


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@dataclass
class Output:
    quiet: bool = False
    debug: bool = False
    json: bool = False

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True)

    def result(self, data: Any, render: Callable[[Console], None] | None = None) -> None:
        """Print a command's result: JSON when asked, else the human rendering."""
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
        elif render is not None:
            render(self.out)

    def lines(self, lines: list[tuple[str, str | None]]) -> None:
        """Plain result lines, each with an optional color for a terminal; no rich needed."""
        tty = sys.stdout.isatty()
        codes = {"green": "32", "yellow": "33", "red": "31", "dim": "2"}
        for text, color in lines:
            if tty and color in codes:
                text = f"\x1b[{codes[color]}m{text}\x1b[0m"
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def info(self, message: str) -> None:
        """Status for people; silent with --quiet and with --json."""
        if not self.quiet and not self.json:
            self.err.print(_escape(message), highlight=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {_escape(message)}", highlight=False)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr, only for a person watching a terminal."""
        if self.quiet or self.json or not sys.stderr.isatty():
            yield lambda _n: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.err, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)

    def error(self, error: MonoloopError) -> None:
        if self.json:
            sys.stdout.write(json.dumps(error.to_dict(), sort_keys=True) + "\n")
            sys.stdout.flush()
            return
        self.err.print(f"[bold red]error:[/bold red] {_escape(error.message)}", highlight=False)
        if error.hint:
            self.err.print(f"[dim]hint:[/dim] {_escape(error.hint)}", highlight=False)
