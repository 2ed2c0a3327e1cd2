"""`monoloop sweep`: run a stage over a grid of params and report the best trial."""

from __future__ import annotations

import json as json_mod
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from monoloop.cli.output import Output
    from monoloop.pipelines.sweep import SweepResult


def sweep(
    ctx: typer.Context,
    stage: Annotated[
        str, typer.Argument(metavar="STAGE", help="The stage to sweep: NAME or PIPELINE:NAME.")
    ],
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="A param of params.yaml and the values to try: -g train.lr=0.1,0.01. Repeat "
            "for more params; every combination is a trial.",
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", "-m", help="The metric that ranks the trials, e.g. acc."),
    ] = None,
    maximize: Annotated[
        bool | None,
        typer.Option(
            "--maximize/--minimize", help="Whether a higher or a lower --metric is better."
        ),
    ] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option(
            "--max-parallel",
            "-P",
            min=1,
            help="Trials at once (default: the CPUs here, or in the Ray cluster).",
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-e",
            metavar="local|ray",
            help="Where trials run (default: execution.executor in monoloop.yaml, else local).",
        ),
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run a stage once per combination of --grid values, each a tracked run; report the
    best by --metric. The workspace's outputs and monoloop.lock are left as they are."""
    from monoloop.cli.run import stop_on_terminate
    from monoloop.pipelines.context import PipelineContext
    from monoloop.pipelines.grid import expand, parse_grid
    from monoloop.pipelines.sweep import sweep as run_sweep

    c = cli(ctx, json=json)
    values = parse_grid(grid or [])
    total = len(expand(values))
    pctx = PipelineContext.light(c.cwd)
    try:
        with stop_on_terminate(), c.output.progress(total, "trials") as advance:

            def progress(*, state: str, **_: Any) -> None:
                if state != "running":
                    advance(1)

            found = run_sweep(
                pctx,
                stage,
                values,
                metric=metric,
                maximize=maximize,
                max_parallel=max_parallel,
                executor=executor,
                progress=progress,
            )
    finally:
        pctx.close()
    if c.output.json:
        c.output.result(found.to_dict())
        if not found.ok:
            raise typer.Exit(1)
        return
    _render(c.output, found)
    if not found.ok:
        from monoloop.pipelines.result import StageFailed

        failed = found.failed
        first = failed[0]
        raise StageFailed(
            f"{len(failed)} of {len(found.trials)} trials did not finish; trial {first.index}: "
            f"{first.error}",
            hint=f"its log: monoloop store cat {first.log_id}"
            if first.log_id
            else "see the trials above",
        )


def _render(output: Output, found: SweepResult) -> None:
    keys = list(found.grid)
    metric = found.metric or "metric"
    header = ["trial", *keys, metric, "status", "run"]
    rows = []
    for t in found.trials:
        value = "" if t.value is None else f"{t.value:.6g}"
        mark = "*" if found.best is t else " "
        run = (t.run_id or "")[:8]
        shown = [json_mod.dumps(t.params[k]) for k in keys]
        rows.append([f"{mark}{t.index}", *shown, value, t.status, run])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    colors = {"ran": None, "failed": "red", "killed": "red", "blocked": "yellow"}
    lines: list[tuple[str, str | None]] = [
        ("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), None)
    ]
    for row, t in zip(rows, found.trials, strict=True):
        text = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        lines.append((text, colors.get(t.status)))
    output.lines(lines)
    for t in found.failed:
        if t.log_tail and not output.quiet:
            sys.stderr.write(f"--- last lines of the log of trial {t.index} ---\n")
            sys.stderr.write("\n".join(t.log_tail) + "\n")
    if found.best is not None:
        best = found.best
        params = ", ".join(f"{k}={json_mod.dumps(v)}" for k, v in best.params.items())
        score = f"{found.metric}={best.value:.6g}"
        output.info(f"best: trial {best.index} ({params}): {score}, run {best.run_id}")
    elif found.metric is None and not found.failed:
        output.info("no ranking: name the metric with --metric and --maximize or --minimize")
    output.info(f"sweep {found.id}: monoloop runs list --where \"tags.sweep = '{found.id}'\"")
