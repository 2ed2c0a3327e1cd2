"""Deployments (what is served, the traffic split, request rate and latency over time) and
monitoring (drift per feature over time, reference vs current distributions, decay, alerts
and the CT controller's decisions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from monoloop.ct.cycles import list_cycles
from monoloop.errors import UserError
from monoloop.monitoring.charts import Chart, Series, to_svg
from monoloop.monitoring.monitors import history
from monoloop.monitoring.report_html import build_report
from monoloop.predictions.log import count
from monoloop.predictions.traffic import Bucket, traffic
from monoloop.serving.service import DeploymentView, describe_deployments
from monoloop.ui.render import page
from monoloop.ui.session import Viewing

router = APIRouter(include_in_schema=False)


def _declared(who: Viewing) -> list[DeploymentView]:
    """Every deployment in monoloop.yaml; none declared is an empty page, not an error."""
    return describe_deployments(who.ws) if who.ws.config.deployments else []


@router.get("/deployments")
def deployments_page(request: Request, who: Viewing) -> Response:
    shown = []
    for view in _declared(who):
        buckets = traffic(who.ws, view.name)
        shown.append(
            {
                "view": view,
                "logged": count(who.ws, view.name),
                "charts": _traffic_charts(view.name, buckets),
            }
        )
    return page(request, "deployments.html", who, title="Deployments", deployments=shown)


def _traffic_charts(name: str, buckets: list[Bucket]) -> list[str]:
    if not buckets:
        return []
    starts = sorted({b.start for b in buckets})
    labels = [datetime.fromtimestamp(s, UTC).strftime("%H:%M") for s in starts]
    roles = list(dict.fromkeys(b.role for b in buckets))
    at = {(b.start, b.role): b for b in buckets}

    def series(field: str) -> list[Series]:
        out = []
        for role in roles:
            values = [getattr(at[(s, role)], field) if (s, role) in at else None for s in starts]
            out.append(Series(role, values))
        return out

    rate = Chart(
        f"{name}-rate", "Requests per second (per minute)", "lines", labels, series("rate_per_s")
    )
    p50 = Chart(f"{name}-p50", "p50 latency (ms)", "lines", labels, series("p50_ms"))
    p99 = Chart(f"{name}-p99", "p99 latency (ms)", "lines", labels, series("p99_ms"))
    return [to_svg(c) for c in (rate, p50, p99)]


@router.get("/monitoring")
def monitoring_page(request: Request, who: Viewing, feature: str = "") -> Response:
    shown: list[dict[str, Any]] = []
    for view in _declared(who):
        try:
            report = build_report(who.ws, view.name)
        except UserError as e:
            shown.append({"name": view.name, "error": str(e)})
            continue
        dists = report.charts.get("distributions", [])
        features = [c.id.removeprefix("dist-") for c in dists]
        chosen = feature if feature in features else (features[0] if features else "")
        alerts = [r for r in history(who.ws, view.name, limit=200) if r.alert or r.fired]
        shown.append(
            {
                "name": view.name,
                "error": None,
                "report": report,
                "features": features,
                "feature": chosen,
                "drift": [to_svg(c) for c in report.charts.get("drift", [])],
                "dist": [to_svg(c) for c in dists if c.id == f"dist-{chosen}"],
                "decay": [to_svg(c) for c in report.charts.get("decay", [])],
                "alerts": list(reversed(alerts))[:20],
            }
        )
    cycles = list_cycles(who.ws, limit=20)
    return page(
        request, "monitoring.html", who, title="Monitoring", deployments=shown, cycles=cycles
    )
