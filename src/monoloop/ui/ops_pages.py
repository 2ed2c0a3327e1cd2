"""Deployments (what is served, the traffic split; request rate, error rate and p50/p99
latency over time and in the last minute, as the serving processes counted them; traffic
by role from the prediction log) and monitoring (drift per feature over time, reference vs
current distributions, decay, alerts and the CT controller's decisions)."""

from __future__ import annotations

import time
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
from monoloop.serving.traffic import (
    BEFORE_ROUTING,
    DEFAULT_WINDOW,
    WINDOWS,
    ServerTraffic,
    server_traffic,
    window_of,
)
from monoloop.ui.render import page
from monoloop.ui.session import Viewing

router = APIRouter(include_in_schema=False)


def _declared(who: Viewing) -> list[DeploymentView]:
    """Every deployment in monoloop.yaml; none declared is an empty page, not an error."""
    return describe_deployments(who.ws) if who.ws.config.deployments else []


@router.get("/deployments")
def deployments_page(request: Request, who: Viewing, window: str = DEFAULT_WINDOW) -> Response:
    window_of(window)  # an unknown window is an error page that lists the known ones
    now = time.time()
    shown = []
    for view in _declared(who):
        server = server_traffic(who.ws, view.name, window=window, now=now)
        shown.append(
            {
                "view": view,
                "server": server,
                "server_charts": _server_charts(view.name, server),
                "logged": count(who.ws, view.name),
                "log_charts": _log_charts(view.name, traffic(who.ws, view.name)),
            }
        )
    return page(
        request,
        "deployments.html",
        who,
        title="Deployments",
        deployments=shown,
        window=window,
        windows=list(WINDOWS),
        before_routing=BEFORE_ROUTING,
    )


def _time_labels(starts: list[float], with_day: bool) -> list[str]:
    fmt = "%m-%d %H:%M" if with_day else "%H:%M"
    return [datetime.fromtimestamp(s, UTC).strftime(fmt) for s in starts]


def _server_charts(name: str, t: ServerTraffic) -> list[str]:
    """Request rate (per role when there are several), p50/p99 latency and error rate."""
    if t.empty:
        return []
    labels = _time_labels([p.start for p in t.points], with_day=t.bucket_s >= 3600)
    roles = sorted({r for p in t.points for r in p.by_role})
    rates = [Series("all", [p.rate_per_s for p in t.points])]
    if len(roles) > 1:
        for role in roles:
            values: list[float | None] = [p.by_role.get(role, 0) / p.seconds for p in t.points]
            rates.append(Series(role or "refused before routing", values))
    per = f"{t.bucket_s // 60} min" if t.bucket_s < 3600 else f"{t.bucket_s // 3600} h"
    rate = Chart(f"{name}-rate", f"Requests per second (per {per})", "lines", labels, rates)
    latency = Chart(
        f"{name}-latency",
        "Latency of answered requests (ms)",
        "lines",
        labels,
        [Series("p50", [p.p50_ms for p in t.points]), Series("p99", [p.p99_ms for p in t.points])],
    )

    def share(count: int, total: int) -> float | None:
        return 100.0 * count / total if total else None

    errors = Chart(
        f"{name}-errors",
        "Error rate (% of requests)",
        "lines",
        labels,
        [
            Series("4xx", [share(p.errors_4xx, p.requests) for p in t.points]),
            Series("5xx", [share(p.errors_5xx, p.requests) for p in t.points]),
        ],
    )
    return [to_svg(c) for c in (rate, latency, errors)]


def _log_charts(name: str, buckets: list[Bucket]) -> list[str]:
    """Predictions per second and p99 latency per role, shadow included, from the log."""
    if not buckets:
        return []
    starts = sorted({b.start for b in buckets})
    labels = _time_labels(starts, with_day=starts[-1] - starts[0] > 86400)
    roles = list(dict.fromkeys(b.role for b in buckets))
    at = {(b.start, b.role): b for b in buckets}

    def series(field: str) -> list[Series]:
        out = []
        for role in roles:
            values = [getattr(at[(s, role)], field) if (s, role) in at else None for s in starts]
            out.append(Series(role, values))
        return out

    rate = Chart(
        f"{name}-log-rate",
        "Logged predictions per second by role (per minute)",
        "lines",
        labels,
        series("rate_per_s"),
    )
    p99 = Chart(f"{name}-log-p99", "p99 latency by role (ms)", "lines", labels, series("p99_ms"))
    return [to_svg(c) for c in (rate, p99)]


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
