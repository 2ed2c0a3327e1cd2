"""/v1/models: the registry. Reading needs `read`; registering and gate checks `write`;
moving an alias in any way (promote, rollback, set, remove) and trusting a pickle need
`promote`, since setting an alias directly would bypass the gates a promotion runs."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monoloop.auth.tokens import includes
from monoloop.backend.wire import AliasSet, CheckIn, PromoteIn, RollbackIn, TrustIn, VersionCreate
from monoloop.errors import Forbidden
from monoloop.registry import aliases, gates, record, versions
from monoloop.registry.card import current_card
from monoloop.registry.lineage import lineage
from monoloop.registry.model import parse_version
from monoloop.server.deps import PromoteWs, ReadWs, Writer, WriteWs
from monoloop.server.errors import JSON
from monoloop.server.schemas import (
    CardOut,
    CheckOut,
    LineageOut,
    ModelOut,
    MoveOut,
    PromotionOut,
    VersionOut,
)

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelOut])
def list_models(ws: ReadWs) -> Response:
    """Every model with its latest version and its aliases."""
    return JSON([m.to_dict() for m in versions.list_models(ws)])


@router.get("/{name}/versions", response_model=list[VersionOut])
def list_versions(name: str, ws: ReadWs) -> Response:
    return JSON([v.to_dict() for v in versions.list_versions(ws, name)])


@router.post("/{name}/versions", status_code=201, response_model=VersionOut)
def register(name: str, body: VersionCreate, ws: WriteWs, who: Writer) -> Response:
    """Record a prepared version whose objects are uploaded (the SDK's register_model does
    both). The server re-checks the bytes: format, safe types, trust."""
    if body.trusted and not includes(who.scope, "promote"):
        raise Forbidden(
            "registering a trusted pickle needs the promote scope",
            hint="register in skops or onnx, or use a token with the promote scope",
        )
    mv = record.insert_version(ws, name, body.to_draft(), description=body.description)
    return JSON(mv.to_dict(), status_code=201)


@router.post("/{name}/versions/{version}/check", response_model=CheckOut)
def check(name: str, version: str, body: CheckIn, ws: WriteWs) -> Response:
    """Evaluate the model's gates on a version (or `latest`) and record the result."""
    number = None if version == "latest" else parse_version(version)
    return JSON(gates.check(ws, name, number, against=body.against).to_dict())


@router.post("/{name}/versions/{version}/trust", status_code=204)
def trust(name: str, version: int, body: TrustIn, ws: PromoteWs) -> Response:
    """Mark a pickle-format version trusted, so that it may be loaded."""
    aliases.trust(ws, name, version, reason=body.reason)
    return Response(status_code=204)


@router.get("/{name}/history", response_model=list[MoveOut])
def history(name: str, ws: ReadWs, alias: str | None = None) -> Response:
    """Every move of the model's aliases (or of one alias)."""
    return JSON([m.to_dict() for m in aliases.history(ws, name, alias)])


@router.put("/{name}/aliases/{alias}", response_model=MoveOut)
def set_alias(name: str, alias: str, body: AliasSet, ws: PromoteWs) -> Response:
    """Point an alias at a version without running the gates."""
    return JSON(aliases.set_alias(ws, name, alias, body.version).to_dict())


@router.delete("/{name}/aliases/{alias}", response_model=MoveOut)
def remove_alias(name: str, alias: str, ws: PromoteWs) -> Response:
    return JSON(aliases.remove_alias(ws, name, alias).to_dict())


@router.post("/{name}/promote", response_model=PromotionOut)
def promote(name: str, body: PromoteIn, ws: PromoteWs) -> Response:
    """Run the gates against the alias's holder; move the alias only if they pass (or with
    `force` and a `reason`, by an actor in registry.promoters)."""
    move, report = aliases.promote(
        ws, name, body.version, to=body.to, force=body.force, reason=body.reason
    )
    return JSON({"move": move.to_dict(), "check": report.to_dict()})


@router.post("/{name}/rollback", response_model=MoveOut)
def rollback(name: str, body: RollbackIn, ws: PromoteWs) -> Response:
    """Move the alias back to the version that held it before."""
    return JSON(aliases.rollback(ws, name, body.alias, reason=body.reason).to_dict())


@router.get("/{ref}", response_model=VersionOut)
def get_version(ref: str, ws: ReadWs) -> Response:
    """`NAME`, `NAME:VERSION`, `NAME:latest` or `NAME@ALIAS`."""
    return JSON(versions.get_version(ws, ref).to_dict())


@router.get("/{ref}/card", response_model=CardOut)
def card(ref: str, ws: ReadWs) -> Response:
    """The model card (Markdown), with today's aliases and the latest gate check."""
    return JSON({"card": current_card(ws, ref)})


@router.get("/{ref}/lineage", response_model=LineageOut)
def trace(ref: str, ws: ReadWs) -> Response:
    """Data -> runs -> commit -> version -> aliases -> deployments, with ledger events."""
    return JSON(lineage(ws, ref).to_dict())
