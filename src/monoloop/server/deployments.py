"""/v1/deployments: what each deployment of monoloop.yaml serves now, read-only.

The serving processes themselves (`monoloop serve`) answer predictions; this is the
registry's view of them, for people, dashboards and CD tooling."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monoloop.server.deps import ReadWs
from monoloop.server.errors import JSON
from monoloop.serving.service import describe_deployments

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
