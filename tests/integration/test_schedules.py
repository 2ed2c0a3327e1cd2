"""Scheduled pipelines run by the controller: armed on first sight, fired once per due slot,
once (not once per slot) after downtime, never twice for one slot; and a real pipeline
whose source stage re-runs while the rest runs only when its input changed."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from tests.integration.registry_fixtures import configure

from monoloop.audit import service as audit
from monoloop.ct import schedules
from monoloop.ct.controller import Controller
from monoloop.errors import Conflict
from monoloop.pipelines.result import PipelineResult
from monoloop.workspace import Workspace

PY = json.dumps(sys.executable)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def etl(schedule: str = "0 2 * * *") -> dict[str, Any]:
    return {
        "pipelines": {
            "etl": {
                "schedule": schedule,
                "stages": {
                    "ingest": {"cmd": f"{PY} src/ingest.py", "outs": ["data/raw.txt"]},
                    "count": {
                        "cmd": f"{PY} src/count.py",
                        "deps": ["data/raw.txt", "src/count.py"],
                        "outs": ["data/count.txt"],
                    },
                },
            },
            "manual": {"stages": {"x": {"cmd": "true"}}},
        }
    }


class Runner:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def __call__(self, ws: Workspace, pipeline: str, **kw: Any) -> PipelineResult:
        self.calls.append((pipeline, kw))
        if self.fail:
            raise Conflict("another run holds the pipeline lock")
        return PipelineResult()


def test_armed_then_fired_once_per_slot_and_once_after_downtime(ws: Workspace) -> None:
    opened = configure(ws, etl())
    runner = Runner()
    try:
        armed = schedules.run_schedules(opened, now=at("2026-01-01T10:00:00"), runner=runner)
        assert [(f.status, f.slot) for f in armed] == [("armed", at("2026-01-01T02:00:00"))]
        assert schedules.run_schedules(opened, now=at("2026-01-01T23:59:00"), runner=runner) == []
        [fired] = schedules.run_schedules(opened, now=at("2026-01-02T02:00:30"), runner=runner)
        assert (fired.status, fired.missed, fired.slot) == ("ok", 0, at("2026-01-02T02:00:00"))
        assert runner.calls == [("etl", {"forced": ["etl:ingest"]})]
        assert schedules.run_schedules(opened, now=at("2026-01-02T03:00:00"), runner=runner) == []

        # The controller was down from the 2nd to the 5th: one run, for the latest slot.
        [late] = schedules.run_schedules(opened, now=at("2026-01-05T09:00:00"), runner=runner)
        assert (late.slot, late.missed) == (at("2026-01-05T02:00:00"), 2)
        assert len(runner.calls) == 2
        fires = [e.payload for e in audit.log(opened) if e.kind == "schedule.fire"]
        assert [(p["slot"], p["missed"]) for p in fires] == [
            ("2026-01-02T02:00:00Z", 0), ("2026-01-05T02:00:00Z", 2)
        ]  # fmt: skip
        state = schedules.schedule_states(opened)
        assert state == [
            {"pipeline": "etl", "schedule": "0 2 * * *", "slot": "2026-01-05T02:00:00Z",
             "fired": "2026-01-05T09:00:00Z", "status": "ok", "missed": 2}
        ]  # fmt: skip
    finally:
        opened.close()


def test_one_slot_is_claimed_once_a_failure_is_recorded_and_a_new_schedule_rearms(
    ws: Workspace,
) -> None:
    opened = configure(ws, etl("*/15 * * * *"))
    try:
        schedules.run_schedules(opened, now=at("2026-01-01T10:01:00"), runner=Runner())
        first = schedules._claim(opened, "etl", "*/15 * * * *", at("2026-01-01T10:16:00"))
        second = schedules._claim(opened, "etl", "*/15 * * * *", at("2026-01-01T10:16:00"))
        assert first is not None and first.status == "running" and second is None

        failing = Runner(fail=True)
        [failed] = schedules.run_schedules(opened, now=at("2026-01-01T10:31:00"), runner=failing)
        assert failed.status == "failed" and "pipeline lock" in failed.detail
        done = [e.payload for e in audit.log(opened) if e.kind == "schedule.done"]
        assert done[-1]["status"] == "failed"

        changed = configure(opened, etl("0 * * * *"))
        [rearmed] = schedules.run_schedules(changed, now=at("2026-01-01T10:40:00"), runner=failing)
        assert rearmed.status == "armed" and len(failing.calls) == 1
        changed.close()
    finally:
        opened.close()


def test_the_controller_runs_a_real_scheduled_pipeline(ws: Workspace) -> None:
    root = ws.root
    (root / "src").mkdir()
    (root / "feed").mkdir()
    (root / "feed" / "today.txt").write_text("a\nb\n")
    # The source stage reads outside data (here a file no stage declares): only a forced
    # run notices that it changed.
    (root / "src" / "ingest.py").write_text(
        "import os, shutil\nos.makedirs('data', exist_ok=True)\n"
        "shutil.copyfile('feed/today.txt', 'data/raw.txt')\n"
    )
    (root / "src" / "count.py").write_text(
        "n = len(open('data/raw.txt').read().split())\nopen('data/count.txt', 'w').write(str(n))\n"
    )
    opened = configure(ws, etl("0 * * * *"))
    now = [at("2026-01-01T10:30:00")]
    control = Controller(opened, clock=lambda: now[0])
    try:
        assert control.tick().schedules[0].status == "armed"
        statuses = []
        for hour, feed in ((11, None), (12, None), (13, "a\nb\nc\n")):
            if feed is not None:
                (root / "feed" / "today.txt").write_text(feed)
            now[0] = at(f"2026-01-01T{hour}:00:05")
            [firing] = control.tick().schedules
            statuses.append((firing.status, firing.detail))
        assert statuses == [
            ("ok", "2 ran, 0 up to date"),  # the first run of both stages
            ("ok", "1 ran, 1 up to date"),  # the same data: count is not run again
            ("ok", "2 ran, 0 up to date"),  # new data: count runs
        ]
        assert (root / "data" / "count.txt").read_text() == "3"
    finally:
        opened.close()
