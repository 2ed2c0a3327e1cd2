"""How a server runs, as one value object built at the edge (the CLI) and passed down."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monoloop.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
MAX_OBJECT_BYTES = 4 * 2**30


@dataclass(frozen=True)
class ServerSettings:
    """`root` is the workspace served; `env` overrides its DB and store settings
    (None: the process environment). Auth is on unless the server binds only to
    loopback and `auth=False`."""

    root: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth: bool = True
    env: Mapping[str, str] | None = None
    max_object_bytes: int = MAX_OBJECT_BYTES
    ui: bool = True  # the web UI at / (monoloop.ui)

    def __post_init__(self) -> None:
        if not self.auth and not is_loopback(self.host):
            raise ConfigError(
                f"--no-auth is allowed only when the server binds to loopback, not {self.host}",
                hint="drop --no-auth and use API tokens (monoloop tokens create), or bind to "
                f"{DEFAULT_HOST}",
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(
                f"port {self.port} is not 0-65535", hint=f"e.g. --port {DEFAULT_PORT}"
            )


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine
    only: `localhost` or a loopback address. 0.0.0.0 and :: are every interface."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
