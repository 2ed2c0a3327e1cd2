"""/v1/audit: the ledger, read-only."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monoloop.audit import service as audit
from monoloop.server.deps import ReadWs
from monoloop.server.errors import JSON
from monoloop.server.schemas import ChainOut, EventOut

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/events", response_model=list[EventOut])
def events(
    ws: ReadWs,
    subject: str | None = None,
    kind: str | None = None,
    actor: str | None = None,
    after: int | None = None,
    limit: int | None = None,
) -> Response:
    """Events oldest first; `kind=model.*` matches a family; `limit` keeps the newest N;
    `after=SEQ` pages forward."""
    filters = audit.EventFilter(subject=subject, kind=kind, actor=actor, after=after, limit=limit)
    return JSON([e.to_dict() for e in audit.log(ws, filters)])


@router.get("/verify", response_model=ChainOut)
def verify(ws: ReadWs) -> Response:
    """Recompute the chain and check its head and Git anchors; `ok` false names the first bad
    seq (the response is 200 either way: the report is the answer)."""
    return JSON(audit.verify(ws).to_dict())
