"""Where a workspace is: the directory holding monoloop.yaml, and its local state dir.

Kept free of heavy imports: fast commands find the root before deciding what to load.
"""

from __future__ import annotations

from pathlib import Path

from monoloop.errors import WorkspaceError

CONFIG_FILE = "monoloop.yaml"
STATE_DIR = ".monoloop"


def find_root(start: Path) -> Path:
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise WorkspaceError(
        f"{start} is not inside a monoloop workspace (no {CONFIG_FILE} here or above)",
        hint="run `monoloop init` at the root of your Git repository, or pass -C PATH",
    )


def default_db_url(root: Path) -> str:
    """The metadata DB when neither MONOLOOP_DB_URL nor monoloop.yaml names one."""
    return f"sqlite:///{root / STATE_DIR / 'monoloop.db'}"
