"""`monoloop server`: the REST API over this workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from monoloop.cli.context import cli
from monoloop.server.settings import DEFAULT_HOST, DEFAULT_PORT


def server(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 for every interface.")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="No API tokens: allowed only when bound to loopback."),
    ] = False,
) -> None:
    """Serve the REST API (docs at /docs). The first start prints a one-time admin token."""
    from monoloop.root import find_root
    from monoloop.server.app import serve
    from monoloop.server.settings import ServerSettings

    c = cli(ctx)
    settings = ServerSettings(root=find_root(c.cwd), host=host, port=port, auth=not no_auth)
    c.output.info(f"serving {settings.root} on http://{host}:{port} (API docs at /docs)")
    serve(settings)
