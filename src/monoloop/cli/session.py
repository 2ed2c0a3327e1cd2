"""What every command gets from the top-level options: where to work and how to speak.

Free of typer, so the fast path (cli/fast.py) can build one without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monoloop.cli.output import Output

if TYPE_CHECKING:
    from monoloop.backend.base import Backend
    from monoloop.workspace import Workspace


@dataclass
class CliContext:
    cwd: Path
    output: Output

    def path(self, given: Path) -> Path:
        """A path the user typed, relative to -C DIR (an absolute one stays as it is)."""
        return self.cwd / given

    def workspace(self) -> Workspace:
        from monoloop.workspace import open_workspace

        return open_workspace(self.cwd)

    def backend(self) -> Backend:
        """The server when MONOLOOP_SERVER_URL is set, else this workspace."""
        from monoloop.backend import open_backend

        return open_backend(self.cwd)
