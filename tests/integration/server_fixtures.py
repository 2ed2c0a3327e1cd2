"""A real monoloop server on loopback for the tests: uvicorn in a thread, on a free port,
over the test's workspace (same DB and object store as the `ws` fixture)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import uvicorn

from monoloop.auth import service as auth
from monoloop.server.app import create_app
from monoloop.server.settings import ServerSettings
from monoloop.workspace import Workspace


@dataclass
class LiveServer:
    url: str
    ws: Workspace
    server: uvicorn.Server
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, scope: str, name: str | None = None) -> str:
        """A token of `scope` named `name` (default: the scope's name), made once per server."""
        name = name or scope
        if name not in self.tokens:
            self.tokens[name] = auth.create_token(self.ws, name, scope=scope).secret
        return self.tokens[name]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextlib.contextmanager
def live_server(
    ws: Workspace,
    *,
    auth_on: bool = True,
    bootstrap: bool = False,
    log_level: str = "warning",
    **settings: object,
) -> Iterator[LiveServer]:
    """The server over `ws`. Unless `bootstrap`, an admin token named "admin" exists first,
    so the server does not make (and print) its bootstrap token."""
    seeded = {}
    if auth_on and not bootstrap:
        seeded["admin"] = auth.create_token(ws, "admin", scope="admin").secret
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = ServerSettings(
        root=ws.root,
        port=port,
        auth=auth_on,
        env={"MONOLOOP_DB_URL": ws.settings.db_url},
        **settings,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level=log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", ws, server, seeded)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
