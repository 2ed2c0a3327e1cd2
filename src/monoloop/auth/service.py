"""API tokens in the metadata DB: create, list, revoke, and verify one on every request.

    new = create_token(ws, "ci-bot", scope="write", expires_in=parse_duration("30d"))
    print(new.secret)                   # shown once; only its hash is stored
    token = verify_token(ws, secret, need="read")

Verification reads the row each time, so a revocation holds from the next request on.
Creating and revoking are ledger events (`token.create`, `token.revoke`) that name the
token, never its value.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from monoloop.auth import tokens
from monoloop.auth.tables import api_tokens
from monoloop.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from monoloop.tracking.model import from_iso, iso
from monoloop.workspace import Workspace

BOOTSTRAP_NAME = "bootstrap-admin"
# `last_used` is written at most this often per token: a write per request would queue
# every read behind the database's write lock.
LAST_USED_EVERY_S = 60.0


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scope: str
    project: str | None
    created: float
    created_by: str
    expires: float | None = None
    last_used: float | None = None
    revoked: float | None = None
    revoked_by: str | None = None

    def status(self, now: float | None = None) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= (time.time() if now is None else now):
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "project": self.project,
            "status": self.status(),
            "created": iso(self.created),
            "created_by": self.created_by,
            "expires": iso(self.expires),
            "last_used": iso(self.last_used),
            "revoked": iso(self.revoked),
            "revoked_by": self.revoked_by,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Token:
        created = from_iso(d["created"])
        assert created is not None
        return cls(
            id=d["id"],
            name=d["name"],
            scope=d["scope"],
            project=d["project"],
            created=created,
            created_by=d["created_by"],
            expires=from_iso(d["expires"]),
            last_used=from_iso(d["last_used"]),
            revoked=from_iso(d["revoked"]),
            revoked_by=d["revoked_by"],
        )


@dataclass(frozen=True)
class NewToken:
    token: Token
    secret: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.token.to_dict(), "token": self.secret}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NewToken:
        return cls(Token.from_dict(d), d["token"])


def create_token(
    ws: Workspace,
    name: str,
    *,
    scope: str,
    project: str | None = None,
    expires_in: float | None = None,
) -> NewToken:
    """A new token; its value is in the result and nowhere else."""
    tokens.check_name(name)
    tokens.check_scope(scope)
    if project is not None:
        _check_project(project)
    if expires_in is not None and expires_in <= 0:
        raise InvalidInput("a token must expire in the future", hint="e.g. --expires 30d")
    token_id, secret = tokens.new_token()
    now = time.time()
    token = Token(
        id=token_id,
        name=name,
        scope=scope,
        project=project,
        created=now,
        created_by=ws.actor,
        expires=None if expires_in is None else now + expires_in,
    )
    with ws.db.write() as conn:
        if _active(conn, name, now) is not None:
            raise Conflict(
                f"an active token named {name!r} exists already",
                hint=f"pick another name, or revoke it first: monoloop tokens revoke {name}",
            )
        conn.execute(
            insert(api_tokens).values(
                id=token.id,
                name=name,
                scope=scope,
                project=project,
                hash=tokens.digest(secret),
                created=now,
                created_by=ws.actor,
                expires=token.expires,
            )
        )
        ws.record(
            conn,
            "token.create",
            name,
            {"id": token.id, "scope": scope, "project": project, "expires": iso(token.expires)},
        )
    return NewToken(token, secret)


def list_tokens(ws: Workspace, *, everything: bool = False) -> list[Token]:
    """Active tokens by name; with `everything`, expired and revoked ones too."""
    query = select(api_tokens).order_by(api_tokens.c.name, api_tokens.c.created)
    with ws.db.read() as conn:
        found = [_token(row) for row in conn.execute(query)]
    return found if everything else [t for t in found if t.status() == "active"]


def revoke_token(ws: Workspace, ref: str) -> Token:
    """Revoke a token by its id, or the active token with that name."""
    now = time.time()
    with ws.db.write() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == ref)).first()
        found = _token(row) if row is not None else _active(conn, ref, now)
        if found is None:
            raise NotFound(
                f"no token with id or active name {ref!r}", hint="see `monoloop tokens list`"
            )
        if found.revoked is not None:
            raise Conflict(f"token {found.name!r} ({found.id}) is already revoked")
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == found.id)
            .values(revoked=now, revoked_by=ws.actor)
        )
        ws.record(conn, "token.revoke", found.name, {"id": found.id})
    return dataclasses.replace(found, revoked=now, revoked_by=ws.actor)


def verify_token(ws: Workspace, secret: str, *, need: str) -> Token:
    """The token `secret` names, if it is valid here and has scope `need`; else Unauthorized
    (no usable token) or Forbidden (a valid token without the permission)."""
    invalid = Unauthorized(
        "the API token is not valid",
        hint="send `Authorization: Bearer <token>` with a token from `monoloop tokens create`",
    )
    token_id = tokens.parse(secret)
    if token_id is None:
        raise invalid
    with ws.db.read() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    # The hash is compared even for an unknown id, so both cases take the same time.
    if not tokens.matches(secret, row.hash if row is not None else "0" * 64) or row is None:
        raise invalid
    token = _token(row)
    now = time.time()
    status = token.status(now)
    if status == "revoked":
        raise Unauthorized(
            f"the API token {token.name!r} was revoked", hint="ask an admin for a new token"
        )
    if status == "expired":
        raise Unauthorized(
            f"the API token {token.name!r} expired at {iso(token.expires)}",
            hint="ask an admin for a new token (monoloop tokens create)",
        )
    if token.project is not None and token.project != ws.config.project:
        raise Forbidden(
            f"the token {token.name!r} is for project {token.project!r}; "
            f"this server serves {ws.config.project!r}",
            hint="use a token made for this project, or one with no --project",
        )
    if not tokens.includes(token.scope, need):
        raise Forbidden(
            f"the token {token.name!r} has the {token.scope} scope; this needs {need}",
            hint=f"use a token with the {need} scope (monoloop tokens create --scope {need})",
        )
    if token.last_used is None or now - token.last_used >= LAST_USED_EVERY_S:
        with ws.db.write() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token.id).values(last_used=now)
            )
    return token


def ensure_admin(ws: Workspace) -> NewToken | None:
    """A first admin token when there is no active one: how a fresh server is reached at
    all, since there are no default credentials. None when an admin token exists."""
    now = time.time()
    live = and_(
        api_tokens.c.scope == "admin",
        api_tokens.c.revoked.is_(None),
        or_(api_tokens.c.expires.is_(None), api_tokens.c.expires > now),
    )
    with ws.db.read() as conn:
        if conn.execute(select(api_tokens.c.id).where(live).limit(1)).first() is not None:
            return None
    return create_token(ws, BOOTSTRAP_NAME, scope="admin")


def _active(conn: Connection, name: str, now: float) -> Token | None:
    rows = conn.execute(
        select(api_tokens).where(api_tokens.c.name == name, api_tokens.c.revoked.is_(None))
    )
    for row in rows:
        token = _token(row)
        if token.status(now) == "active":
            return token
    return None


def _token(row: Any) -> Token:
    return Token(
        id=row.id,
        name=row.name,
        scope=row.scope,
        project=row.project,
        created=row.created,
        created_by=row.created_by,
        expires=row.expires,
        last_used=row.last_used,
        revoked=row.revoked,
        revoked_by=row.revoked_by,
    )


def _check_project(project: str) -> None:
    from monoloop.registry.model import check_name

    check_name(project, "project name")
