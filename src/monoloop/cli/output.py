"""How the CLI speaks: results on stdout (JSON with --json), status and progress on stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monoloop.errors import MonoloopError


@dataclass
class Output:
    quiet: bool = False
    debug: bool = False
    json: bool = False
    out: Console = field(default_factory=lambda: Console(soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    def result(self, data: Any, render: Callable[[Console], None] | None = None) -> None:
        """Print a command's result: JSON when asked, else the human rendering."""
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
        elif render is not None:
            render(self.out)

    def info(self, message: str) -> None:
        """Status for people; silent with --quiet and with --json."""
        if not self.quiet and not self.json:
            self.err.print(escape(message), highlight=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr, only for a person watching a terminal."""
        if self.quiet or self.json or not self.err.is_terminal:
            yield lambda _n: None
            return
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
        self.err.print(f"[bold red]error:[/bold red] {escape(error.message)}", highlight=False)
        if error.hint:
            self.err.print(f"[dim]hint:[/dim] {escape(error.hint)}", highlight=False)
