"""/v1/deployments: what each deployment of monoloop.yaml serves now, and the traffic its
serving processes reported, read-only.

The serving processes themselves (`monoloop serve`) answer predictions; this is the
registry's view of them and what they wrote to the DB, for people, dashboards and CD
tooling."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monoloop.server.deps import ReadWs
from monoloop.server.errors import JSON
from monoloop.serving.service import describe_deployments
from monoloop.serving.traffic import DEFAULT_WINDOW, server_traffic

router = APIRouter(prefix="/deployments", tags=["deployments"])


@router.get("")
def deployments(ws: ReadWs) -> Response:
    """Every deployment: each role (primary, canary, shadow), its NAME@ALIAS, the version
    that alias resolves to now, and its share of traffic."""
    return JSON([view.to_dict() for view in describe_deployments(ws)])


@router.get("/{name}")
def deployment(ws: ReadWs, name: str) -> Response:
    """One deployment, as above; 404 for a name monoloop.yaml does not declare."""
    (view,) = describe_deployments(ws, [name])
    return JSON(view.to_dict())


@router.get("/{name}/traffic")
def traffic(ws: ReadWs, name: str, window: str = DEFAULT_WINDOW) -> Response:
    """Requests, errors (4xx, 5xx) and p50/p99 latency over `window` (1h, 6h, 24h, 7d) in
    buckets, summed over every serving process; the last minute's figures; each process
    that reported. From the per-minute counters `monoloop serve` writes."""
    describe_deployments(ws, [name])  # 404 for a name monoloop.yaml does not declare
    return JSON(server_traffic(ws, name, window=window).to_dict())
