"""Where the SDK and the CLI send their work: this workspace, or a monoloop server.

    with open_backend() as backend:            # MONOLOOP_SERVER_URL set: the server
        backend.search_runs(where="metrics.acc > 0.9")

`MONOLOOP_SERVER_URL` (with `MONOLOOP_TOKEN`) selects the server; otherwise the workspace
around the current directory. A workspace given explicitly (an object, a path, or
MONOLOOP_WORKSPACE, which pipeline stages get) is always local.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monoloop.errors import ConfigError

if TYPE_CHECKING:
    from monoloop.backend.base import Backend
    from monoloop.workspace import Workspace

ENV_SERVER_URL = "MONOLOOP_SERVER_URL"
ENV_TOKEN = "MONOLOOP_TOKEN"  # noqa: S105 - the variable's name, not a token


@dataclass(frozen=True)
class Remote:
    url: str
    token: str | None

    def __repr__(self) -> str:  # never the token
        return f"Remote({self.url!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Remote | None:
        env = os.environ if env is None else env
        url = env.get(ENV_SERVER_URL, "").strip()
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{ENV_SERVER_URL} must be an http:// or https:// URL, got {url!r}",
                hint="e.g. MONOLOOP_SERVER_URL=https://monoloop.example.com",
            )
        return cls(url, env.get(ENV_TOKEN) or None)


def open_backend(start: Path | None = None, *, env: Mapping[str, str] | None = None) -> Backend:
    """The server when MONOLOOP_SERVER_URL is set, else the workspace at or above `start`."""
    remote = Remote.from_env(env)
    if remote is not None:
        return remote_backend(remote, start or Path.cwd())
    from monoloop.backend.local import LocalBackend
    from monoloop.workspace import open_workspace

    return LocalBackend(open_workspace(start, env=env))


def backend_for(where: str | Path | Workspace | None) -> Backend:
    """The SDK's rule: a workspace named in the call is local; none, and it is open_backend()."""
    from monoloop.backend.local import LocalBackend
    from monoloop.workspace import Workspace, open_workspace

    if isinstance(where, Workspace):
        return LocalBackend(where, owns=False)
    if where is not None:
        return LocalBackend(open_workspace(Path(where)))
    return open_backend()


def remote_backend(remote: Remote, start: Path) -> Backend:
    from monoloop import gitutil
    from monoloop.backend.http import HttpBackend

    # Runs record the Git state of the caller's code, which is here, not on the server.
    root = gitutil.toplevel(start) or start
    return HttpBackend(remote.url, remote.token, root=root)
