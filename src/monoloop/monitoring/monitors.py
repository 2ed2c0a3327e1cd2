"""Running the monitors of monoloop.yaml over the prediction log, and their history.

    results = run_monitors(ws)                   # every deployment with a monitor
    history(ws, "churn-api", monitor="drift")    # what was found, oldest first

A run reads each deployment's window of primary predictions, keeps the rows answered by
the version serving now (the newest row's: drift and decay are a property of that
version), runs its checks, and stores one result per check in `monitor_results` with a
`monitor.result` ledger event. A check that fires is alerted (alerts.py) when it did not
fire the run before, or when its last alert is older than `alerts.repeat_minutes`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import select, update

from monoloop.errors import InvalidInput, NotFound, UserError
from monoloop.monitoring import checks
from monoloop.monitoring.alerts import Delivery, notify
from monoloop.monitoring.checks import ERROR, FIRED, SKIPPED, Finding
from monoloop.monitoring.spec import CHECKS, AlertSpec, DecaySpec, DriftSpec, MonitorSpec
from monoloop.monitoring.tables import monitor_results
from monoloop.predictions import log
from monoloop.workspace import Workspace

Clock = Callable[[], float]
Notifier = Callable[[AlertSpec | None, dict[str, Any]], Delivery]


@dataclass
class MonitorResult:
    deployment: str
    monitor: str
    role: str
    time: float
    window: dict[str, Any]
    rows: int
    model: str | None
    version: int | None
    statistics: dict[str, Any]
    verdict: str
    summary: str
    alert: str | None = None
    id: int | None = None

    @property
    def fired(self) -> bool:
        return self.verdict == FIRED

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Window:
    """A window of logged predictions, cut to the rows of one version."""

    rows: pd.DataFrame
    info: dict[str, Any]
    model: str | None = None
    version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def monitor_spec(ws: Workspace, deployment: str) -> MonitorSpec:
    spec = ws.config.monitors.get(deployment)
    if spec is None:
        known = ", ".join(sorted(ws.config.monitors)) or "none are configured"
        raise NotFound(
            f"deployment {deployment!r} has no monitor in monoloop.yaml",
            hint=f"add monitors.{deployment} (docs/monitoring.md); monitored: {known}",
        )
    return spec


def read_window(
    ws: Workspace,
    deployment: str,
    *,
    now: float,
    last: int | None,
    hours: float | None,
    role: str = "primary",
    since: float | None = None,
    version: int | None = None,
) -> Window:
    """The window of `role` rows; cut to `version`, or else to the newest row's version."""
    start = since
    if hours is not None:
        start = max(start or 0.0, now - hours * 3600)
    rows = log.read(ws, deployment, last_n=last, since=start, roles=[role])
    info: dict[str, Any] = {
        "role": role,
        "last": last,
        "hours": hours,
        "since": start,
        "read": len(rows),
    }
    if rows.empty:
        return Window(rows, info)
    model = str(rows["model"].iloc[-1])
    chosen = int(rows["version"].iloc[-1]) if version is None else version
    info["versions"] = {
        f"{m}:{v}": int(n) for (m, v), n in rows.groupby(["model", "version"]).size().items()
    }
    rows = rows[(rows["model"] == model) & (rows["version"] == chosen)].reset_index(drop=True)
    if not rows.empty:
        info["first_time"] = float(rows["time"].iloc[0])
        info["last_time"] = float(rows["time"].iloc[-1])
    return Window(rows, info, model, chosen)


def evaluate(
    ws: Workspace,
    deployment: str,
    window: Window,
    *,
    drift: DriftSpec | None,
    decay: DecaySpec | None = None,
    importance: Any = None,
    min_rows: int,
) -> list[Finding]:
    """Run the given checks on a window (the version's records read from the registry)."""
    wanted = [
        name
        for name, spec in (("drift", drift), ("decay", decay), ("importance", importance))
        if spec is not None
    ]
    if window.rows.empty or window.version is None or window.model is None:
        return [Finding(n, SKIPPED, "no predictions logged in the window") for n in wanted]
    from monoloop.registry.versions import get_version

    try:
        mv = get_version(ws, f"{window.model}:{window.version}")
    except NotFound as exc:
        return [Finding(n, ERROR, exc.message) for n in wanted]
    found: list[Finding] = []
    if drift is not None:
        found.append(_drift(ws, mv, window, drift, min_rows))
    labelled = None
    if decay is not None or importance is not None:
        from monoloop.monitoring.labels import join

        labelled = join(ws, deployment, window.rows)
    task = mv.task or "classification"
    if decay is not None:
        assert labelled is not None
        found.append(checks.decay(task, labelled, decay, mv.metrics))
    if importance is not None:
        assert labelled is not None
        found.append(_importance(ws, mv, task, labelled, importance))
    return found


def _drift(ws: Workspace, mv: Any, window: Window, spec: DriftSpec, min_rows: int) -> Finding:
    from monoloop.monitoring.profile import ReferenceProfile

    if mv.profile_id is None:
        return Finding(
            "drift", ERROR, f"{mv.ref} was registered without a reference profile to compare with"
        )
    try:
        profile = ReferenceProfile.from_dict(json.loads(ws.objects.get(mv.profile_id)))
    except UserError as exc:
        return Finding("drift", ERROR, exc.message)
    return checks.drift(profile, window.rows, spec, min_rows=min_rows)


def _importance(ws: Workspace, mv: Any, task: str, labelled: pd.DataFrame, spec: Any) -> Finding:
    if len(labelled) < spec.min_labels:
        return checks.importance(None, task, labelled, spec, mv.importance)
    from monoloop.registry.loading import load_version

    try:
        model = load_version(ws, mv)
    except UserError as exc:
        return Finding("importance", ERROR, exc.message)
    return checks.importance(model, task, labelled, spec, mv.importance)


def run_monitors(
    ws: Workspace,
    deployments: Sequence[str] | None = None,
    *,
    clock: Clock = time.time,
    notifier: Notifier | None = None,
) -> list[MonitorResult]:
    """Run every configured monitor (or those of `deployments`) once; store and alert."""
    names = list(deployments) if deployments else sorted(ws.config.monitors)
    results: list[MonitorResult] = []
    for name in names:
        spec = monitor_spec(ws, name)
        now = clock()
        window = read_window(ws, name, now=now, last=spec.window.last, hours=spec.window.hours)
        window.info["spec"] = spec.window.describe()
        found = evaluate(
            ws,
            name,
            window,
            drift=spec.drift,
            decay=spec.decay,
            importance=spec.importance,
            min_rows=spec.min_rows,
        )
        stored = store(ws, name, window, found, role="primary", now=now)
        for result in stored:
            if result.fired and should_alert(ws, result, spec.alerts, now):
                alert(ws, result, spec.alerts, notifier=notifier)
        results.extend(stored)
    return results


def store(
    ws: Workspace, deployment: str, window: Window, found: list[Finding], *, role: str, now: float
) -> list[MonitorResult]:
    """Keep each finding as a result row, with a `monitor.result` event, in one transaction."""
    results = [
        MonitorResult(
            deployment=deployment,
            monitor=f.monitor,
            role=role,
            time=now,
            window=window.info,
            rows=len(window.rows),
            model=window.model,
            version=window.version,
            statistics=f.statistics,
            verdict=f.verdict,
            summary=f.summary,
        )
        for f in found
    ]
    with ws.db.write() as conn:
        for r in results:
            inserted = conn.execute(
                monitor_results.insert().values(
                    deployment=r.deployment,
                    monitor=r.monitor,
                    role=r.role,
                    time=r.time,
                    window_info=json.dumps(r.window, default=str),
                    rows=r.rows,
                    model=r.model,
                    version=r.version,
                    statistics=json.dumps(r.statistics, default=_json),
                    verdict=r.verdict,
                    summary=r.summary,
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            r.id = int(key[0])
            ws.record(
                conn,
                "monitor.result",
                deployment,
                {
                    "id": r.id,
                    "monitor": r.monitor,
                    "role": r.role,
                    "verdict": r.verdict,
                    "model": r.model,
                    "version": r.version,
                    "rows": r.rows,
                    "summary": r.summary,
                },
            )
    return results


def _json(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def should_alert(ws: Workspace, result: MonitorResult, spec: AlertSpec | None, now: float) -> bool:
    """Alert on a check that starts firing, and again every `repeat_minutes` while it does."""
    key = (
        (monitor_results.c.deployment == result.deployment)
        & (monitor_results.c.monitor == result.monitor)
        & (monitor_results.c.role == result.role)
        & (monitor_results.c.id < (result.id or 0))
    )
    with ws.db.read() as conn:
        before = conn.execute(
            select(monitor_results.c.verdict)
            .where(key, monitor_results.c.verdict != SKIPPED)
            .order_by(monitor_results.c.id.desc())
            .limit(1)
        ).scalar()
        if before != FIRED:
            return True
        last = conn.execute(
            select(monitor_results.c.time)
            .where(key, monitor_results.c.alert.in_(["sent", "logged"]))
            .order_by(monitor_results.c.id.desc())
            .limit(1)
        ).scalar()
    repeat = (spec.repeat_minutes if spec is not None else 60.0) * 60
    return last is None or now - float(last) >= repeat


def alert_body(ws: Workspace, result: MonitorResult) -> dict[str, Any]:
    stats = {k: v for k, v in result.statistics.items() if k not in ("columns", "live", "scores")}
    return {
        "kind": "monitor.fired",
        "project": ws.config.project,
        "deployment": result.deployment,
        "monitor": result.monitor,
        "role": result.role,
        "result_id": result.id,
        "time": result.time,
        "model": result.model,
        "version": result.version,
        "summary": result.summary,
        "statistics": stats,
    }


def alert(
    ws: Workspace,
    result: MonitorResult,
    spec: AlertSpec | None,
    *,
    notifier: Notifier | None = None,
) -> Delivery:
    """Send the alert of a fired result and record how it went (result row + event)."""
    delivery = (notifier or notify)(spec, alert_body(ws, result))
    result.alert = delivery.status
    with ws.db.write() as conn:
        conn.execute(
            update(monitor_results)
            .where(monitor_results.c.id == result.id)
            .values(alert=delivery.status)
        )
        ws.record(
            conn,
            "monitor.alert",
            result.deployment,
            {"result": result.id, "monitor": result.monitor, **delivery.to_dict()},
        )
    return delivery


def history(
    ws: Workspace,
    deployment: str,
    *,
    monitor: str | None = None,
    role: str | None = None,
    limit: int | None = 100,
) -> list[MonitorResult]:
    """Stored results of a deployment, oldest first (the newest `limit`)."""
    if monitor is not None and monitor not in CHECKS:
        raise InvalidInput(f"unknown monitor {monitor!r}", hint=f"one of {', '.join(CHECKS)}")
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    query = select(monitor_results).where(monitor_results.c.deployment == deployment)
    if monitor is not None:
        query = query.where(monitor_results.c.monitor == monitor)
    if role is not None:
        query = query.where(monitor_results.c.role == role)
    query = query.order_by(monitor_results.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with ws.db.read() as conn:
        rows = conn.execute(query).all()
    return [to_result(r) for r in reversed(rows)]


def get_result(ws: Workspace, result_id: int) -> MonitorResult:
    with ws.db.read() as conn:
        row = conn.execute(select(monitor_results).where(monitor_results.c.id == result_id)).first()
    if row is None:
        raise NotFound(f"no monitor result {result_id}", hint="see `monoloop monitor history`")
    return to_result(row)


def to_result(row: Any) -> MonitorResult:
    return MonitorResult(
        deployment=row.deployment,
        monitor=row.monitor,
        role=row.role,
        time=row.time,
        window=json.loads(row.window_info),
        rows=row.rows,
        model=row.model,
        version=row.version,
        statistics=json.loads(row.statistics),
        verdict=row.verdict,
        summary=row.summary,
        alert=row.alert,
        id=row.id,
    )
