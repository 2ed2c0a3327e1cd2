"""Who is looking at a page: a token held in a cookie, checked on every request.

Login is `POST /login` with `{"token": ...}` as `application/json`, sent by the login
page's few lines of JavaScript, so the server's 415 guard stays as it is: a page on another
origin cannot send JSON here without a CORS preflight this server never grants, and the
cookie is `SameSite=Strict` (never sent on a cross-site request) and `HttpOnly` (no script
reads it). The cookie holds the token itself; every page verifies it as the API verifies a
bearer token, so a revoked token logs its sessions out on their next request. Logout is a
JSON `POST /logout` too. Without auth (loopback only) everyone is the server's own actor
with the admin scope and there is no login.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from monoloop.auth import service as auth
from monoloop.auth.tokens import includes
from monoloop.errors import MonoloopError, Unauthorized
from monoloop.server.deps import app_state
from monoloop.server.errors import error_response
from monoloop.ui.render import page
from monoloop.workspace import Workspace

COOKIE = "monoloop_session"
MAX_AGE_S = 8 * 3600

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Viewer:
    """The page's caller and a workspace acting as them."""

    name: str
    scope: str
    auth: bool
    ws: Workspace

    def can(self, scope: str) -> bool:
        return includes(self.scope, scope)


class LoginNeeded(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def viewer(request: Request) -> Viewer:
    """The caller, with at least the read scope; no valid session sends them to /login."""
    state = app_state(request)
    if not state.settings.auth:
        return Viewer(state.ws.actor, "admin", False, state.ws)
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise LoginNeeded(_here(request))
    try:
        token = auth.verify_token(state.ws, secret, need="read")
    except Unauthorized as e:
        raise LoginNeeded(_here(request)) from e
    return Viewer(token.name, token.scope, True, state.ws.acting_as(token.name))


Viewing = Annotated[Viewer, Depends(viewer)]


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def install(app: FastAPI) -> None:
    async def to_login(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginNeeded)
        return RedirectResponse(f"/login?next={quote(exc.path, safe='')}", status_code=303)

    async def domain_error(request: Request, exc: Exception) -> Response:
        """A page gets an HTML error page; the API and JSON posts keep the JSON body."""
        assert isinstance(exc, MonoloopError)
        if request.url.path.startswith("/v1/") or request.method != "GET":
            return error_response(exc)
        return page(
            request,
            "error.html",
            None,
            status=exc.http_status,
            title=type(exc).__name__,
            message=str(exc),
            hint=exc.hint,
        )

    app.add_exception_handler(LoginNeeded, to_login)
    app.add_exception_handler(MonoloopError, domain_error)


def safe_next(target: str | None) -> str:
    """Only a path on this server: `//evil.example` and `https://...` become `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if not app_state(request).settings.auth:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", None, title="Log in", next=safe_next(next))


class LoginIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


@router.post("/login", status_code=204)
def login(request: Request, body: LoginIn) -> Response:
    """Check the token (read scope at least) and keep it in the session cookie."""
    state = app_state(request)
    if not state.settings.auth:
        return Response(status_code=204)
    auth.verify_token(state.ws, body.token, need="read")
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        body.token,
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", status_code=204)
def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
