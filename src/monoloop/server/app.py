"""The FastAPI app, built from settings; nothing happens at import.

    app = create_app(ServerSettings(root=Path(".")))    # uvicorn runs it; tests too

The lifespan opens the one workspace (engine + object store) the app shares, and, with
auth on and no active admin token, makes the bootstrap admin token and prints it once to
stderr: there are no default credentials.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response
from starlette.concurrency import run_in_threadpool

from monoloop import __version__
from monoloop.server import errors
from monoloop.server.deps import AppState
from monoloop.server.errors import JSON
from monoloop.server.guards import Guards
from monoloop.server.schemas import Health
from monoloop.server.settings import ServerSettings

DESCRIPTION = """\
The monoloop API: runs, metrics, objects, models, aliases and the audit ledger, over the
same service layer as the CLI and the SDK. Authenticate with `Authorization: Bearer <token>`
(`monoloop tokens create`); each route names the scope it needs (read < write < promote <
admin). Writes take `application/json`, object uploads `application/octet-stream`.
Errors are `{"error", "message", "hint"}`.
"""


def routers() -> list[APIRouter]:
    """Every /v1 router."""
    from monoloop.server import audit, deployments, models, objects, runs, tokens

    return [
        runs.router,
        objects.router,
        models.router,
        deployments.router,
        audit.router,
        tokens.router,
        tokens.whoami_router,
    ]


def create_app(settings: ServerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from monoloop.workspace import open_workspace

        ws = await run_in_threadpool(open_workspace, settings.root, env=settings.env)
        try:
            if settings.auth:
                await run_in_threadpool(_bootstrap, ws)
            app.state.monoloop = AppState(settings, ws)
            yield
        finally:
            ws.close()

    app = FastAPI(
        title="monoloop",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSON,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(Guards, loopback_only=not settings.auth)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["health"])
    for router in routers():
        app.include_router(router, prefix="/v1")
    if settings.ui:
        from monoloop import ui

        ui.mount(app)
    return app


def healthz() -> Response:
    """Liveness, without auth: the server is up and answering."""
    return JSON({"status": "ok", "version": __version__})


def _bootstrap(ws: object) -> None:
    from monoloop.auth.service import ensure_admin
    from monoloop.workspace import Workspace

    assert isinstance(ws, Workspace)
    first = ensure_admin(ws)
    if first is None:
        return
    # stderr, once, never a logger: the value must not end up in log files.
    sys.stderr.write(
        "\nmonoloop: no admin token existed, so one was created. It is shown only now:\n\n"
        f"    {first.secret}\n\n"
        "Store it (e.g. MONOLOOP_TOKEN), create tokens for people and CI with it "
        "(monoloop tokens create), then revoke it: monoloop tokens revoke bootstrap-admin\n\n"
    )
    sys.stderr.flush()


def serve(settings: ServerSettings) -> None:
    """Run the server in this process until interrupted (`monoloop server`)."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        server_header=False,
        log_level="info",
    )
