"""The deployments page's numbers: requests and latency per bucket and role, from the log."""

from __future__ import annotations

import pytest
from tests.integration.test_prediction_log import T0, batch

from monoloop.predictions import log
from monoloop.predictions.traffic import traffic
from monoloop.ui.session import safe_next
from monoloop.workspace import Workspace


def test_traffic_buckets_by_minute_and_role(ws: Workspace) -> None:
    log.append(ws, "churn-api", batch(120, T0, 1.0))  # 2 minutes, 1 request a second
    log.append(ws, "churn-api", batch(30, T0, 2.0, role="canary", seed=1))
    found = traffic(ws, "churn-api", bucket_s=60)
    primary = [b for b in found if b.role == "primary"]
    canary = [b for b in found if b.role == "canary"]
    assert [b.requests for b in primary] == [60, 60]
    assert primary[0].rate_per_s == pytest.approx(1.0)
    assert [b.requests for b in canary] == [30]
    assert all(0.5 <= b.p50_ms <= b.p99_ms <= 2.0 for b in found)
    assert [b.start for b in primary] == [T0, T0 + 60]


def test_traffic_of_a_deployment_with_no_log_is_empty(ws: Workspace) -> None:
    assert traffic(ws, "nothing-logged") == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "/"),
        ("/runs/abc?x=1", "/runs/abc?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_login_only_returns_to_a_path_on_this_server(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_deployments_page_shows_server_metrics_live_figures_and_instances(ws: Workspace) -> None:
    import os
    import re

    from tests.integration.registry_fixtures import configure
    from tests.integration.server_fixtures import live_server

    from monoloop.serving.minutes import MinuteCounts, MinuteWriter
    from monoloop.serving.spec import ServerMetricsSpec

    quiet = {"model": "m@quiet"}
    ws = configure(ws, {"deployments": {"api": {"model": "m@champion"}, "quiet": quiet}})
    counts = MinuteCounts()
    for _ in range(3):
        counts.record("api", "primary", "m", 1, 200, 0.004)
    counts.record("api", "primary", "m", 1, 422, 0.001)
    assert MinuteWriter(ws, counts, ServerMetricsSpec(), ["api"]).flush()
    try:
        with live_server(ws, auth_on=False) as server, server.client() as client:
            html = client.get("/deployments").text
            assert all(f'id="chart-api-{c}"' in html for c in ("rate", "latency", "errors"))
            live = re.search(r'data-figure="error-rate"[^>]*>([^<]*)', html)
            assert live is not None and live.group(1).strip() == "25%"
            assert "(1 of 4)" in html and f"<td>{os.getpid()}</td>" in html
            assert ">reporting<" in html
            assert "No requests counted in the last 1h" in html  # the quiet one
            assert "chart-quiet-" not in html and "No predictions logged yet" in html
            week = client.get("/deployments", params={"window": "7d"})
            assert week.status_code == 200 and 'aria-current="true">7d<' in week.text
            bad = client.get("/deployments", params={"window": "2h"})
            assert bad.status_code == 422 and "1h, 6h, 24h, 7d" in bad.text
    finally:
        ws.close()
