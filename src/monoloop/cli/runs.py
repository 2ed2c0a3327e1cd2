from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(
    help="Tracked runs: params, metrics, tags, artifacts, and what they ran on.",
    no_args_is_help=True,
)

RUN = typer.Argument(help="A run id, or at least 6 of its first hex digits.")


@app.command("list")
def list_runs(
    ctx: typer.Context,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            "-w",
            help="Filter, e.g. 'metrics.acc > 0.9 and params.model = \"rf\"' "
            "(see docs/tracking.md).",
        ),
    ] = None,
    order_by: Annotated[
        str | None,
        typer.Option(
            "--order-by", "-o", help="Order key, e.g. -metrics.acc or 'start desc' (default)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most N runs.")] = 50,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """List runs, newest first, with a few params and metrics."""
    from monoloop.tracking import render

    c = cli(ctx, json=json)
    with c.backend() as backend:
        found = backend.search_runs(where=where, order_by=order_by, limit=limit)

    def show(console: Console) -> None:
        render.print_runs(console, found, f"{where or ''} {order_by or ''}")

    c.output.result([r.to_dict() for r in found], show)


@app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[str, RUN],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Everything about one run: code, environment, params, metrics, tags, data, artifacts."""
    from monoloop.tracking import render

    c = cli(ctx, json=json)
    with c.backend() as backend:
        found = backend.get_run(run)
    c.output.result(found.to_dict(), lambda console: render.print_run(console, found))


@app.command("compare")
def compare(
    ctx: typer.Context,
    runs: Annotated[list[str], typer.Argument(help="Two or more run ids or id prefixes.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Params and metrics of several runs side by side; values that differ stand out."""
    from monoloop.errors import InvalidInput
    from monoloop.tracking import render

    c = cli(ctx, json=json)
    if len(runs) < 2:
        raise InvalidInput("compare needs at least two runs", hint="give two or more run ids")
    with c.backend() as backend:
        found = [backend.get_run(r) for r in runs]
    data = render.compare(found)
    c.output.result(data, lambda console: render.print_compare(console, data))


@app.command("metric")
def metric(
    ctx: typer.Context,
    run: Annotated[str, RUN],
    key: Annotated[str, typer.Argument(help="The metric key, e.g. loss.")],
    plot: Annotated[bool, typer.Option("--plot", help="Draw a line chart by step.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """One metric's history by step, as a table or a chart."""
    from monoloop.errors import NotFound
    from monoloop.tracking import render
    from monoloop.tracking.model import jsonable

    c = cli(ctx, json=json)
    with c.backend() as backend:
        points = backend.metric_history(run, key)
        if not points:
            known = ", ".join(backend.get_run(run).metrics) or "none"
            raise NotFound(f"run {run} has no metric {key!r}", hint=f"its metrics are: {known}")
    data = [{"step": s, "value": jsonable(v), "timestamp": t} for s, v, t in points]
    c.output.result(data, lambda console: render.print_history(console, key, points, plot=plot))
