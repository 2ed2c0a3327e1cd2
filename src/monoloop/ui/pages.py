"""Runs: the table (the CLI's `--where` language, sort, column picker, pages), one run,
and a comparison of 2-10 runs; object downloads for artifacts and logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from monoloop.errors import InvalidInput, MonoloopError
from monoloop.hashing import parse_id
from monoloop.monitoring.charts import Chart, Series, to_svg
from monoloop.tracking import service as tracking
from monoloop.tracking.model import Run
from monoloop.ui.render import page
from monoloop.ui.session import Viewing

router = APIRouter(include_in_schema=False)

PAGE = 50
FIXED = ("name", "stage", "status", "start", "duration")
MAX_COMPARE = 10


@router.get("/")
def runs_page(
    request: Request,
    who: Viewing,
    where: str = "",
    order_by: str = "",
    cols: Annotated[list[str] | None, Query()] = None,
    offset: int = 0,
) -> Response:
    offset = max(offset, 0)
    error = None
    found: list[Run] = []
    try:
        found = tracking.search_runs(
            who.ws,
            where=where or None,
            order_by=order_by or None,
            limit=PAGE + 1,
            offset=offset,
        )
    except MonoloopError as e:
        error = f"{e} {getattr(e, 'hint', '') or ''}".strip()
    more = len(found) > PAGE
    found = found[:PAGE]
    keys = sorted(
        {f"params.{k}" for r in found for k in r.params}
        | {f"metrics.{k}" for r in found for k in r.metrics}
    )
    chosen = [c for c in (cols or []) if c.startswith(("params.", "metrics."))]
    if cols is None:
        chosen = [k for k in keys if k.startswith("metrics.")][:4]
    return page(
        request,
        "runs.html",
        who,
        title="Runs",
        runs=found,
        where=where,
        order_by=order_by,
        keys=sorted(set(keys) | set(chosen)),
        chosen=chosen,
        offset=offset,
        page_size=PAGE,
        more=more,
        error=error,
        cell=cell,
        status=400 if error else 200,
    )


def cell(run: Run, column: str) -> Any:
    kind, _, key = column.partition(".")
    return (run.params if kind == "params" else run.metrics).get(key)


@router.get("/runs/compare")
def compare_page(
    request: Request, who: Viewing, ids: Annotated[list[str] | None, Query()] = None
) -> Response:
    wanted = list(dict.fromkeys(ids or []))
    if not 2 <= len(wanted) <= MAX_COMPARE:
        raise InvalidInput(
            f"compare takes 2 to {MAX_COMPARE} runs, got {len(wanted)}",
            hint="tick between 2 and 10 runs in the runs table, then press Compare",
        )
    chosen = [tracking.get_run(who.ws, i) for i in wanted]
    params = sorted({k for r in chosen for k in r.params})
    metrics = sorted({k for r in chosen for k in r.metrics})
    differs = {k for k in params if len({repr(r.params.get(k)) for r in chosen}) > 1}
    charts = [_overlay(who, chosen, key) for key in metrics]
    return page(
        request,
        "compare.html",
        who,
        title="Compare runs",
        runs=chosen,
        params=params,
        metrics=metrics,
        differs=differs,
        charts=[c for c in charts if c],
    )


def _overlay(who: Viewing, chosen: list[Run], key: str) -> str | None:
    """One metric of every run by step, overlaid; None when no run has more than a point."""
    history = {r.id: tracking.metric_history(who.ws, r.id, key) for r in chosen}
    steps = sorted({s for points in history.values() for s, _, _ in points})
    if len(steps) < 2:
        return None
    series = []
    for r in chosen:
        by_step = {s: v for s, v, _ in history[r.id]}
        series.append(Series(r.name or r.id[:8], [by_step.get(s) for s in steps]))
    chart = Chart(
        id=f"metric-{key}", title=key, kind="lines", labels=[str(s) for s in steps], series=series
    )
    return to_svg(chart)


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, who: Viewing) -> Response:
    run = tracking.get_run(who.ws, run_id)
    charts = [c for c in (_overlay(who, [run], k) for k in run.metrics) if c]
    return page(request, "run.html", who, title=f"Run {run.id[:8]}", run=run, charts=charts)


@router.get("/objects/{object_id}")
def download(object_id: str, who: Viewing, name: str = "object") -> Response:
    """An artifact or log, as a download (never rendered inline: it is user content)."""
    parse_id(object_id)
    size = who.ws.objects.size(object_id)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "object"
    reader = who.ws.objects.open(object_id)

    def chunks() -> Iterator[bytes]:
        with reader:
            while chunk := reader.read(1 << 20):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{safe}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
