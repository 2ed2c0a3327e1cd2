"""Who is acting, when MONOLOOP_ACTOR does not say: Git's user.email, else the OS user.

Free of heavy imports: the data commands resolve the actor without opening a Workspace.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from monoloop import gitutil


def default_actor(root: Path) -> str:
    return gitutil.config_get("user.email", root) or os_user()


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
