"""The serving process's own per-minute counters in the DB: written off the request path,
failed requests included, rolled up per hour, summed over replicas, pruned past their
retention, read back by `server_traffic` through the (deployment, span, start) index."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import func, select, text
from tests.integration.serving_fixtures import alias, churn_rows, deploy, register_churn, serving

from monoloop.errors import InvalidInput
from monoloop.serving.minutes import MinuteCounts, MinuteWriter
from monoloop.serving.spec import ServerMetricsSpec
from monoloop.serving.tables import HOUR, MINUTE, serving_counts, serving_instances
from monoloop.serving.traffic import server_traffic
from monoloop.workspace import Workspace

NOW = 1_800_000_000.0  # a minute boundary (divisible by 60)


def wait_for(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the serving metrics")


# The HTTP path does not depend on the DB (one backend); the writes and reads run on both.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_served_deployment_reports_requests_errors_and_its_instance(ws: Workspace) -> None:
    register_churn(ws)
    alias(ws, "churn@champion", 1)
    spec = {"model": "churn@champion"}
    ws = deploy(ws, {"churn-api": spec}, metrics={"flush_interval_s": 0.1})
    bad = [{**churn_rows(1)[0], "tenure": "long"}]
    with serving(ws) as srv:
        for _ in range(6):
            assert srv.predict("churn-api", churn_rows(3)).status_code == 200
        assert srv.predict("churn-api", bad).status_code == 422
        assert srv.predict("churn-api", bad).status_code == 422
        refused = srv.client.post(
            "/v1/deployments/churn-api/predict", content=b"x", headers={"content-type": "text/csv"}
        )
        assert refused.status_code == 415
        wait_for(lambda: server_traffic(ws, "churn-api").total.requests == 9)
        live = server_traffic(ws, "churn-api")
        assert (live.total.errors_4xx, live.total.errors_5xx) == (3, 0)
        assert live.live.requests == 9 and live.live.error_rate == pytest.approx(3 / 9)
        assert live.live.p50_ms is not None and 0 < live.live.p50_ms <= live.live.p99_ms  # type: ignore[operator]
        (instance,) = live.instances
        assert instance.pid == os.getpid() and instance.reporting and instance.requests == 9
        by_version = {(v.role, v.model, v.version): v for v in live.versions}
        assert by_version[("primary", "churn", 1)].requests == 8  # 6 answered, 2 refused (422)
        assert by_version[("primary", "churn", 1)].errors_4xx == 2
        assert by_version[("", "", 0)].errors_4xx == 1  # 415: refused before routing
        assert len(live.points) == 60
        assert sum(p.requests for p in live.points[-2:]) == 9  # this minute or the one before
    stopped = server_traffic(ws, "churn-api")
    (instance,) = stopped.instances
    assert instance.stopped is not None and not instance.reporting
    assert stopped.total.requests == 9, "a graceful stop writes what is left"


def writer(ws: Workspace, clock: list[float], *, retention_days: int = 14) -> MinuteWriter:
    counts = MinuteCounts(clock=lambda: clock[0])
    spec = ServerMetricsSpec(flush_interval_s=1, retention_days=retention_days)
    return MinuteWriter(ws, counts, spec, ["api"])


def test_replicas_add_up_and_failed_requests_count_as_errors(ws: Workspace) -> None:
    clock = [NOW + 5]
    one, two = writer(ws, clock), writer(ws, clock)
    two.started += 1  # another process: its own instance, its own rows
    for i in range(10):
        one.counts.record("api", "primary", "m", 1, 200, 0.002 + i / 10000)
        two.counts.record("api", "canary", "m", 2, 200, 0.010)
    two.counts.record("api", "canary", "m", 2, 500, 0.001)
    one.counts.record("api", "", "", 0, 415, 0.0)
    assert one.flush() and two.flush()
    clock[0] = NOW + 65  # the next minute, written twice (absolute values: no double count)
    one.counts.record("api", "primary", "m", 1, 200, 0.002)
    assert one.flush() and one.flush(heartbeat=True)

    found = server_traffic(ws, "api", now=NOW + 70)
    assert (found.total.requests, found.total.errors_4xx, found.total.errors_5xx) == (23, 1, 1)
    assert [i.requests for i in found.instances] == [12, 11]
    assert found.total.error_rate == pytest.approx(2 / 23)
    first = next(p for p in found.points if p.start == NOW)
    assert first.by_role == {"primary": 10, "canary": 11, "": 1}
    assert first.rate_per_s == pytest.approx(22 / 60)
    assert 2.0 * 0.9 <= first.p50_ms <= 10.0 * 1.1  # type: ignore[operator]
    assert first.p99_ms == pytest.approx(10.0, rel=0.1)
    assert found.live.requests == 23 and found.live.since == NOW
    spans = select(serving_counts.c.span, func.count()).group_by(serving_counts.c.span)
    with ws.db.read() as conn:
        rows = dict(conn.execute(spans).all())  # type: ignore[arg-type]
    # minutes: 2 keys in the first (of one), 1 (of two), 1 in the second; hours: 2 + 1
    assert rows == {MINUTE: 4, HOUR: 3}

    day = server_traffic(ws, "api", window="24h", now=NOW + 70)
    assert day.bucket_s == 900 and day.total.requests == 23
    week = server_traffic(ws, "api", window="7d", now=NOW + 70)  # from the hour rows
    assert week.bucket_s == 7200 and week.total.requests == 23
    assert (week.total.errors_4xx, week.total.errors_5xx) == (1, 1)
    assert week.total.p99_ms == found.total.p99_ms and week.live.requests == 23
    assert [i.requests for i in week.instances] == [12, 11]
    with pytest.raises(InvalidInput, match="unknown traffic window '2h'"):
        server_traffic(ws, "api", window="2h")


def test_old_rows_and_silent_instances_are_pruned_as_new_ones_are_written(
    ws: Workspace,
) -> None:
    clock = [NOW - 5 * 86400]
    old = writer(ws, clock, retention_days=4)
    old.counts.record("api", "primary", "m", 1, 200, 0.001)
    assert old.flush()
    clock[0] = NOW - 3 * 86400  # within the retention, past the minute rows' two days
    recent = writer(ws, clock, retention_days=4)
    recent.counts.record("api", "primary", "m", 1, 200, 0.001)
    assert recent.flush()
    clock[0] = NOW
    current = writer(ws, clock, retention_days=4)
    current.counts.record("api", "primary", "m", 1, 200, 0.001)
    assert current.flush()
    query = select(serving_counts.c.span, serving_counts.c.start).order_by("start", "span")
    with ws.db.read() as conn:
        kept = [tuple(r) for r in conn.execute(query)]
        instances = conn.execute(select(serving_instances.c.id)).scalars().all()
    hour = int(NOW) // HOUR * HOUR
    assert kept == [(HOUR, hour - 3 * 86400), (MINUTE, NOW), (HOUR, hour)]
    assert sorted(instances) == sorted([*recent.instances.values(), *current.instances.values()])


def test_a_failed_write_keeps_the_counts_for_the_next(ws: Workspace) -> None:
    clock = [NOW + 1]
    w = writer(ws, clock)
    w.counts.record("api", "primary", "m", 1, 200, 0.001)
    with ws.db.write() as conn:  # the table is gone for a while: every write fails
        conn.execute(text("ALTER TABLE serving_counts RENAME TO serving_counts_away"))
    try:
        assert not w.flush()
    finally:
        with ws.db.write() as conn:
            conn.execute(text("ALTER TABLE serving_counts_away RENAME TO serving_counts"))
    assert w.failed_writes == 1
    assert w.flush()
    assert server_traffic(ws, "api", now=NOW + 5).total.requests == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_window_query_reads_through_the_deployment_span_start_index(ws: Workspace) -> None:
    with ws.db.read() as conn:
        plan = conn.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT * FROM serving_counts "
                "WHERE deployment = 'api' AND span = 60 AND start >= 0 AND start <= 1"
            )
        ).all()
    detail = " ".join(str(r[-1]) for r in plan)
    assert "USING INDEX ix_serving_counts_deployment_span_start" in detail, detail
