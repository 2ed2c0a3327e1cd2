"""/v1/runs: search, read and write tracked runs."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monoloop.backend.wire import BatchIn, RunCreate, RunWrites
from monoloop.server.deps import ReadWs, WriteWs
from monoloop.server.errors import JSON
from monoloop.server.schemas import PointOut, RunCreated, RunOut
from monoloop.tracking import service as tracking
from monoloop.tracking.model import jsonable
from monoloop.tracking.writes import Batch

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("", response_model=list[RunOut])
def search_runs(
    ws: ReadWs,
    where: str | None = None,
    order_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Response:
    """Runs matching `where` (e.g. `metrics.acc > 0.9 and params.lr = 0.1`), newest first
    unless `order_by` (e.g. `-metrics.acc`) says otherwise."""
    found = tracking.search_runs(ws, where=where, order_by=order_by, limit=limit, offset=offset)
    return JSON([r.to_dict() for r in found])


@router.post("", status_code=201, response_model=RunCreated)
def create_run(body: RunCreate, ws: WriteWs) -> Response:
    """Start a run (status running); the token's name is its actor."""
    batch = Batch()
    batch.add_run(body.to_new_run(ws.actor))
    tracking.apply_batch(ws, batch)
    return JSON({"id": next(iter(batch.new_runs))}, status_code=201)


@router.post("/batch", status_code=204)
def write_batch(body: BatchIn, ws: WriteWs) -> Response:
    """New runs and writes to any runs in one transaction: what the SDK sends per flush."""
    tracking.apply_batch(ws, body.to_batch(ws.actor))
    return Response(status_code=204)


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: str, ws: ReadWs) -> Response:
    """One run, by its id or at least 6 of its first hex digits."""
    return JSON(tracking.get_run(ws, run_id).to_dict())


@router.post("/{run_id}/batch", status_code=204)
def write_run(run_id: str, body: RunWrites, ws: WriteWs) -> Response:
    """Params, tags, metric points, artifacts and the finish of one run, in one transaction."""
    batch = Batch()
    body.add_to(batch, run_id)
    tracking.apply_batch(ws, batch)
    return Response(status_code=204)


@router.get("/{run_id}/metrics/{key:path}", response_model=list[PointOut])
def metric_history(run_id: str, key: str, ws: ReadWs) -> Response:
    """Every point of one metric, by step."""
    points = tracking.metric_history(ws, run_id, key)
    return JSON([{"step": s, "value": jsonable(v), "timestamp": t} for s, v, t in points])
