"""`monoloop monitor ...`: run the monitors, read their history, attach labels, report."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from monoloop.monitoring.monitors import MonitorResult

app = typer.Typer(
    help="Monitors over the prediction log: drift, decay with labels, alerts, reports.",
    no_args_is_help=True,
)

DEPLOYMENT = typer.Argument(help="A deployment of monoloop.yaml, e.g. churn-api.")
COLORS = {"ok": "green", "fired": "red", "skipped": "dim", "error": "yellow"}


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def log_alerts() -> None:
    """Alert lines (and the controller's decisions) on stderr, once per process."""
    for name in ("monoloop.alerts", "monoloop.ct"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _Stderr) for h in logger.handlers):
            handler = _Stderr()
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)


def result_line(r: MonitorResult) -> tuple[str, str | None]:
    from monoloop.tracking.model import iso

    version = f"{r.model}:{r.version}" if r.version is not None else "-"
    alert = f" [alert {r.alert}]" if r.alert else ""
    when = (iso(r.time) or "")[:19]
    text = (
        f"{r.id:>5}  {when}  {r.deployment}  {r.monitor:<10} {r.role:<7} {version:<10} "
        f"{r.verdict.upper():<7} {r.summary}{alert}"
    )
    return text, COLORS.get(r.verdict)


@app.command("run")
def run(
    ctx: typer.Context,
    deployment: Annotated[
        list[str],
        typer.Option("--deployment", "-d", help="Only this deployment's monitor (repeatable)."),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    once: Annotated[
        bool, typer.Option("--once", help="One pass, then exit (for cron and CI).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between passes when not --once.", min=1)
    ] = 60.0,
    fail_on_fire: Annotated[
        bool,
        typer.Option(
            "--fail-on-fire",
            help="With --once: exit 1 when any check fired (a CI step that fails on drift).",
        ),
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Evaluate the monitors over the prediction log, store every result, fire alerts."""
    from monoloop.monitoring.monitors import run_monitors

    c = cli(ctx, json=json)
    if fail_on_fire and not once:
        from monoloop.errors import UserError

        raise UserError(
            "--fail-on-fire needs --once: a loop that never ends has no exit status to fail",
            hint="monoloop monitor run --once --fail-on-fire",
        )
    log_alerts()
    while True:
        with c.workspace() as ws:
            results = run_monitors(ws, deployment or None)
        if c.output.json and not once:
            # One JSON document per pass, one per line: a stream a script can follow.
            sys.stdout.write(_jsonl([r.to_dict() for r in results]))
            sys.stdout.flush()
        else:
            shown = [result_line(r) for r in results] or [("no monitors configured", "dim")]
            _print(c, [r.to_dict() for r in results], shown)
        if once:
            if fail_on_fire and any(r.fired for r in results):
                raise typer.Exit(1)
            return
        time.sleep(interval)


def _print(c: Any, data: list[dict[str, Any]], lines: list[tuple[str, str | None]]) -> None:
    c.output.result(data, lambda _con: c.output.lines(lines))


def _jsonl(data: Any) -> str:
    import json as json_mod

    return json_mod.dumps(data, sort_keys=True, default=str) + "\n"


@app.command("history")
def history(
    ctx: typer.Context,
    deployment: Annotated[str, DEPLOYMENT],
    monitor: Annotated[
        str | None, typer.Option("--monitor", "-m", help="drift, decay or importance.")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="primary or canary.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="The newest N results.")] = 50,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Stored monitor results of a deployment, oldest first."""
    from monoloop.monitoring.monitors import history as results_of

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        found = results_of(ws, deployment, monitor=monitor, role=role, limit=limit)
    c.output.result(
        [r.to_dict() for r in found],
        lambda _con: c.output.lines(
            [result_line(r) for r in found] or [(f"no results for {deployment} yet", "dim")]
        ),
    )


@app.command("labels")
def labels(
    ctx: typer.Context,
    deployment: Annotated[str, DEPLOYMENT],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines: request_id and label.")],
    id_column: Annotated[
        str, typer.Option("--id-column", help="The column of request ids.")
    ] = "request_id",
    label_column: Annotated[
        str, typer.Option("--label-column", help="The column of true values.")
    ] = "label",
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Attach ground truth to logged predictions by request id (a label again replaces it)."""
    from monoloop.monitoring.labels import attach_file

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        found = attach_file(
            ws, deployment, c.path(file), id_column=id_column, label_column=label_column
        )
    c.output.result(
        found.to_dict(),
        lambda con: con.print(
            f"{deployment}: {found.attached} labels attached, {found.replaced} replaced"
            + (f", {found.skipped} rows without a label skipped" if found.skipped else "")
        ),
    )


@app.command("report")
def report(
    ctx: typer.Context,
    deployment: Annotated[str, DEPLOYMENT],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Also write each chart as DIR/CHART.png (needs Pillow)."),
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """A self-contained HTML report: distributions, drift and decay over time, importances."""
    from monoloop.monitoring.report_html import write_report

    c = cli(ctx, json=json)
    target = c.path(output)
    charts = None if png is None else c.path(png)
    with c.workspace() as ws:
        written = write_report(ws, deployment, target, png=charts)
    c.output.result(
        written,
        lambda con: con.print(
            f"wrote {written['html']} ({len(written['charts'])} charts)"
            + (f" and {len(written['png'])} PNG files" if written["png"] else "")
        ),
    )
