"""`monoloop controller [--once]`: scheduled pipelines, monitors and retraining policies."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from monoloop.ct.controller import TickReport

COLORS = {"promoted": "green", "rejected": "red", "rolled_back": "red", "failed": "red"}


def controller(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One tick, then exit (for cron and CI schedules).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between ticks when not --once.", min=1)
    ] = 60.0,
    status: Annotated[
        bool,
        typer.Option("--status", help="Show the retraining cycles and schedules; change nothing."),
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run due scheduled pipelines, the monitors, and one step of each retraining policy."""
    from monoloop.cli.monitor import log_alerts
    from monoloop.ct.controller import Controller

    c = cli(ctx, json=json)
    if status:
        _status(c)
        return
    log_alerts()
    while True:
        # The workspace is opened on every tick, so an edited monoloop.yaml takes effect.
        with c.workspace() as ws:
            report = Controller(ws).tick()
        if c.output.json and not once:
            sys.stdout.write(_jsonl(report.to_dict()))
            sys.stdout.flush()
        else:
            _print(c, report)
        if once:
            return
        time.sleep(interval)


def _print(c: Any, report: TickReport) -> None:
    from monoloop.cli.monitor import result_line

    lines: list[tuple[str, str | None]] = []
    for f in report.schedules:
        color = "red" if f.status == "failed" else None
        lines.append((f"schedule {f.pipeline}: {f.status} {f.detail}".rstrip(), color))
    lines += [result_line(r) for r in report.results]
    for d in report.decisions:
        cycle = f" (cycle {d.cycle})" if d.cycle is not None else ""
        lines.append((f"policy {d.policy}{cycle}: {d.action}: {d.reason}", COLORS.get(d.action)))
    c.output.result(report.to_dict(), lambda _con: c.output.lines(lines or [("idle", "dim")]))


def _status(c: Any) -> None:
    from monoloop.ct.cycles import list_cycles
    from monoloop.ct.schedules import schedule_states
    from monoloop.tracking.model import iso

    with c.workspace() as ws:
        found = list_cycles(ws)
        schedules = schedule_states(ws)
    lines: list[tuple[str, str | None]] = []
    for cy in found:
        where = cy.step if cy.is_open else cy.state
        versions = f"v{cy.champion or '-'} -> v{cy.challenger or '-'}"
        last = cy.decisions[-1]["reason"] if cy.decisions else ""
        lines.append(
            (
                f"cycle {cy.id}  {(iso(cy.started) or '')[:19]}  {cy.policy}  {cy.model} "
                f"{versions}  {where}: {last}",
                COLORS.get(cy.state),
            )
        )
    for s in schedules:
        lines.append((f"schedule {s['pipeline']} '{s['schedule']}': last slot {s['slot']}, "
                      f"{s['status'] or 'armed'}", None))  # fmt: skip
    c.output.result(
        {"cycles": [cy.to_dict() for cy in found], "schedules": schedules},
        lambda _con: c.output.lines(lines or [("no cycles or schedules yet", "dim")]),
    )


def _jsonl(data: Any) -> str:
    import json as json_mod

    return json_mod.dumps(data, sort_keys=True, default=str) + "\n"
