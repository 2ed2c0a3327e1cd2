"""The web UI at `/`: server-rendered pages over the same service functions as the API.

`mount(app)` adds the page routers, the static files and the one exception handler that
turns "no session" into a redirect to /login. /v1 is untouched. See docs/ui.md.
"""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["mount"]


def mount(app: FastAPI) -> None:
    from fastapi.staticfiles import StaticFiles

    from monoloop.ui import ops_pages, pages, registry_pages, session

    app.include_router(session.router)
    app.include_router(pages.router)
    app.include_router(registry_pages.router)
    app.include_router(ops_pages.router)
    app.mount("/static", StaticFiles(packages=[("monoloop.ui", "static")]), name="static")
    session.install(app)
