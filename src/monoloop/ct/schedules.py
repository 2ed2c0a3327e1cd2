"""Scheduled pipelines: `schedule: "0 2 * * *"` on a pipeline, run by the controller.

Schedules are cron expressions in UTC, read by croniter. The controller keeps, per
pipeline, the last slot it fired (`pipeline_schedules`). On each tick a pipeline is due
when a slot has come since then; it runs once, for the latest slot, however many slots
passed while the controller was down (the skipped ones are counted in `missed` and in
the ledger). A schedule seen for the first time, or changed, is armed from its latest
slot: it does not fire for the past.

A scheduled run re-runs the pipeline's source stages (those reading no other stage's
output: they bring outside data in) and brings the rest up to date, so a nightly ETL
fetches fresh data and retrains only when that data changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from monoloop.ct.tables import pipeline_schedules
from monoloop.errors import MonoloopError
from monoloop.workspace import Workspace

log = logging.getLogger("monoloop.ct")
MAX_COUNTED = 100_000  # missed slots beyond this are not counted one by one

Runner = Callable[..., Any]  # run_pipeline's signature


@dataclass
class Firing:
    pipeline: str
    slot: float  # the cron time it ran for
    missed: int  # earlier slots skipped over (downtime)
    status: str  # armed | ok | failed | skipped
    detail: str = ""
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "slot_time": _iso(self.slot)}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_slot(schedule: str, now: float) -> float:
    """The newest cron time at or before `now`."""
    from croniter import croniter

    before = float(croniter(schedule, now).get_prev(float))
    following = float(croniter(schedule, before).get_next(float))
    return following if following <= now else before


def slots_between(schedule: str, after: float, until: float) -> int:
    """How many cron times lie in (after, until)."""
    from croniter import croniter

    found, it = 0, croniter(schedule, after)
    while found < MAX_COUNTED and float(it.get_next(float)) < until:
        found += 1
    return found


def run_schedules(ws: Workspace, *, now: float, runner: Runner | None = None) -> list[Firing]:
    """Fire every scheduled pipeline that is due at `now` (once each)."""
    from monoloop.pipelines.service import run_pipeline, source_stages

    run = runner or run_pipeline
    fired: list[Firing] = []
    raw = {name: p.model_dump() for name, p in ws.config.pipelines.items()}
    for name, spec in sorted(ws.config.pipelines.items()):
        if spec.schedule is None:
            continue
        firing = _claim(ws, name, spec.schedule, now)
        if firing is None or firing.status == "armed":
            if firing is not None:
                fired.append(firing)
            continue
        log.info(
            "schedule: %s due (slot %s, %d missed): running", name, _iso(firing.slot), firing.missed
        )
        try:
            result = run(ws, name, forced=source_stages(raw, name))
        except MonoloopError as exc:
            firing.status, firing.detail = "failed", exc.message
        else:
            firing.runs = [s.run_id for s in result.stages if s.run_id]
            failed = [s.stage for s in result.stages if s.status in ("failed", "blocked", "killed")]
            firing.status = "failed" if failed else "ok"
            firing.detail = (
                f"stages failed: {', '.join(failed)}"
                if failed
                else (f"{result.count('ran')} ran, {result.count('skipped')} up to date")
            )
        _finish(ws, firing)
        fired.append(firing)
    return fired


def _claim(ws: Workspace, name: str, schedule: str, now: float) -> Firing | None:
    """Arm a new schedule, or take its due slot (compare-and-set, so two controllers never
    both run one slot); None when nothing is due."""
    slot = latest_slot(schedule, now)
    with ws.db.write() as conn:
        row = conn.execute(
            select(pipeline_schedules).where(pipeline_schedules.c.pipeline == name)
        ).first()
        if row is None or row.schedule != schedule:
            values = {
                "schedule": schedule,
                "slot": slot,
                "fired": None,
                "status": None,
                "missed": 0,
            }
            if row is None:
                conn.execute(insert(pipeline_schedules).values(pipeline=name, **values))
            else:
                conn.execute(
                    update(pipeline_schedules)
                    .where(pipeline_schedules.c.pipeline == name)
                    .values(**values)
                )
            ws.record(conn, "schedule.arm", name, {"schedule": schedule, "from": _iso(slot)})
            return Firing(name, slot, 0, "armed", f"armed from {_iso(slot)}")
        if slot <= row.slot:
            return None
        missed = slots_between(schedule, row.slot, slot)
        claimed = conn.execute(
            update(pipeline_schedules)
            .where(pipeline_schedules.c.pipeline == name, pipeline_schedules.c.slot == row.slot)
            .values(slot=slot, fired=now, status="running", missed=missed)
        )
        if claimed.rowcount != 1:
            return None
        ws.record(
            conn,
            "schedule.fire",
            name,
            {
                "schedule": schedule,
                "slot": _iso(slot),
                "missed": missed,
                "previous": _iso(row.slot),
            },
        )
    return Firing(name, slot, missed, "running")


def _finish(ws: Workspace, firing: Firing) -> None:
    with ws.db.write() as conn:
        conn.execute(
            update(pipeline_schedules)
            .where(pipeline_schedules.c.pipeline == firing.pipeline)
            .values(status=firing.status)
        )
        ws.record(
            conn,
            "schedule.done",
            firing.pipeline,
            {
                "slot": _iso(firing.slot),
                "status": firing.status,
                "detail": firing.detail,
                "runs": firing.runs,
            },
        )
    log.info("schedule: %s %s: %s", firing.pipeline, firing.status, firing.detail)


def schedule_states(ws: Workspace) -> list[dict[str, Any]]:
    with ws.db.read() as conn:
        rows = conn.execute(select(pipeline_schedules).order_by(pipeline_schedules.c.pipeline))
        return [
            {
                "pipeline": r.pipeline,
                "schedule": r.schedule,
                "slot": _iso(r.slot),
                "fired": _iso(r.fired) if r.fired is not None else None,
                "status": r.status,
                "missed": r.missed,
            }
            for r in rows
        ]
