"""Typed dependencies: who is calling (their token and its scope) and a workspace acting
as them.

    def promote(name: str, body: PromoteIn, ws: PromoteWs) -> Response: ...

`PromoteWs` verifies the bearer token on every request (a revoked token fails on its next
request), demands at least the `promote` scope, and gives the route the app's workspace
with the token's name as its actor, so the ledger records who did it. The scope also lands
in the OpenAPI schema, where a test checks that every route demands one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from monoloop.auth import service as auth
from monoloop.auth.tokens import strongest
from monoloop.errors import Unauthorized
from monoloop.server.settings import ServerSettings
from monoloop.workspace import Workspace


@dataclass(frozen=True)
class AppState:
    """What the lifespan opens once per app: the settings and the one workspace."""

    settings: ServerSettings
    ws: Workspace


@dataclass(frozen=True)
class Principal:
    """The caller: a token's name and scope, or the server's own actor without auth."""

    name: str
    scope: str
    project: str | None = None
    token_id: str | None = None


def app_state(request: Request) -> AppState:
    state = request.app.state.monoloop
    assert isinstance(state, AppState), "the lifespan sets the state"
    return state


bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `monoloop tokens create`: `Authorization: Bearer mlt_...`",
)


def principal(
    request: Request,
    scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    state = app_state(request)
    if not state.settings.auth:
        return Principal(state.ws.actor, "admin")
    if credentials is None:
        raise Unauthorized(
            "this request needs an API token",
            hint="send `Authorization: Bearer <token>`; create one with `monoloop tokens create`",
        )
    token = auth.verify_token(state.ws, credentials.credentials, need=strongest(scopes.scopes))
    return Principal(token.name, token.scope, token.project, token.id)


def acting(request: Request, who: Annotated[Principal, Depends(principal)]) -> Workspace:
    return app_state(request).ws.acting_as(who.name)


Reader = Annotated[Principal, Security(principal, scopes=["read"])]
Writer = Annotated[Principal, Security(principal, scopes=["write"])]
ReadWs = Annotated[Workspace, Security(acting, scopes=["read"])]
WriteWs = Annotated[Workspace, Security(acting, scopes=["write"])]
PromoteWs = Annotated[Workspace, Security(acting, scopes=["promote"])]
AdminWs = Annotated[Workspace, Security(acting, scopes=["admin"])]
State = Annotated[AppState, Depends(app_state)]
