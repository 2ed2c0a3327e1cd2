"""/v1/tokens (admin) and /v1/whoami (any valid token)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monoloop.auth import service as auth
from monoloop.auth.tokens import parse_duration
from monoloop.backend.wire import TokenCreate
from monoloop.server.deps import AdminWs, Reader
from monoloop.server.errors import JSON
from monoloop.server.schemas import TokenCreated, TokenOut, WhoAmI

router = APIRouter(prefix="/tokens", tags=["tokens"])
whoami_router = APIRouter(tags=["tokens"])


@router.get("", response_model=list[TokenOut])
def list_tokens(ws: AdminWs, everything: bool = False) -> Response:
    """Active tokens (with `everything`, expired and revoked ones too); never their values."""
    return JSON([t.to_dict() for t in auth.list_tokens(ws, everything=everything)])


@router.post("", status_code=201, response_model=TokenCreated)
def create_token(body: TokenCreate, ws: AdminWs) -> Response:
    """A new token. Its value is in this response and nowhere else: only a hash is kept."""
    expires_in = parse_duration(body.expires) if body.expires else None
    new = auth.create_token(
        ws, body.name, scope=body.scope, project=body.project, expires_in=expires_in
    )
    return JSON(new.to_dict(), status_code=201)


@router.delete("/{ref}", response_model=TokenOut)
def revoke_token(ref: str, ws: AdminWs) -> Response:
    """Revoke by id or by active name; the token fails from its next request on."""
    return JSON(auth.revoke_token(ws, ref).to_dict())


@whoami_router.get("/whoami", response_model=WhoAmI)
def whoami(who: Reader) -> Response:
    """The caller as the server sees it: the token's name (the ledger actor) and scope."""
    return JSON(
        {"name": who.name, "scope": who.scope, "project": who.project, "token_id": who.token_id}
    )
