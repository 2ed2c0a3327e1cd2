"""`monoloop run`: bring a pipeline's outputs up to date.

Kept light: an up-to-date pipeline is answered without the DB, pydantic or rich; rich
is loaded only to draw live progress for a person at a terminal.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import RenderableType

    from monoloop.cli.output import Output
    from monoloop.pipelines.result import PipelineResult, Progress


def run(
    ctx: typer.Context,
    pipeline: Annotated[
        str | None,
        typer.Argument(metavar="PIPELINE", help="The pipeline to run (default: every pipeline)."),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage",
            "-s",
            help="Run only this stage (NAME or PIPELINE:NAME) and the stages it needs.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Run the selected stages even if up to date.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "-n", help="Show what would run and why; run nothing."),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="Override a value of params.yaml for this run: -p key=value."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Stages run at once (default: CPU count)."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-e",
            metavar="local|ray",
            help="Where stages run (default: execution.executor in monoloop.yaml, else local).",
        ),
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run a pipeline: skip stages that are up to date, restore missing outputs, run the rest."""
    from monoloop.pipelines.context import PipelineContext
    from monoloop.pipelines.params import parse_overrides
    from monoloop.pipelines.service import run_pipeline

    c = cli(ctx, json=json)
    overrides = parse_overrides(param or [])
    pctx = PipelineContext.light(c.cwd)
    try:
        with stop_on_terminate(), _live(c.output, enabled=not dry_run) as progress:
            found = run_pipeline(
                pctx,
                pipeline,
                stage=stage,
                force=force,
                dry_run=dry_run,
                params=overrides,
                jobs=jobs,
                progress=progress,
                executor=executor,
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
        if failed:
            first = failed[0]
            raise StageFailed(
                f"stage {first.id} failed: {first.error}"
                + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
                hint=f"its full log: {first.log}"
                + (f" (stored as {first.log_id})" if first.log_id else ""),
            )


_COLORS = {
    "ran": "green",
    "restored": "green",
    "skipped": "dim",
    "failed": "red",
    "killed": "red",
    "blocked": "yellow",
    "would run": "yellow",
    "would restore": "yellow",
}


def _render(output: Output, found: PipelineResult) -> None:
    lines: list[tuple[str, str | None]] = []
    width = max((len(s.id) for s in found.stages), default=0)
    for s in found.stages:
        timing = f"{s.seconds:6.2f}s" if s.seconds is not None else " " * 7
        if s.status == "skipped":
            note = "up to date"
        elif s.status == "failed":
            note = s.error or ""
        else:
            note = "; ".join(s.reasons)
        text = f"{s.status:>13}  {s.id:<{width}}  {timing}  {note}".rstrip()
        lines.append((text, _COLORS.get(s.status)))
    if not found.stages:
        lines.append(("no stages selected", None))
    if found.dry_run:
        runs = found.count("would run")
        lines.append((f"dry run: {runs} stage(s) would run; nothing was changed", None))
    output.lines(lines)
    for s in found.failed:
        if s.log_tail and not output.quiet:
            sys.stderr.write(f"--- last lines of the log of {s.id} ---\n")
            sys.stderr.write("\n".join(s.log_tail) + "\n")
    if not found.dry_run and found.stages:
        counts = [(n, found.count(n)) for n in ("ran", "restored", "skipped", "failed", "blocked")]
        output.info(", ".join(f"{c} {n}" for n, c in counts if c))
    if found.lock_changed:
        output.info("monoloop.lock updated: commit it with the code that produced it")


@contextlib.contextmanager
def stop_on_terminate() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C does: running stages are stopped, their runs marked
    killed and the lock keeps what finished (stages run in their own process groups, so
    nothing else would stop them)."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _live(output: Output, *, enabled: bool) -> Iterator[Progress | None]:
    """Live per-stage state and timing on stderr, for a person at a terminal only."""
    if not enabled or output.quiet or output.json or not sys.stderr.isatty():
        yield None
        return
    from rich.live import Live

    board = _Board()
    with Live(board, console=output.err, refresh_per_second=8, transient=True):
        yield board.update


class _Board:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, float, float | None, str]] = {}

    def update(
        self, *, stage: str, state: str, seconds: float | None, reasons: list[str], **_: Any
    ) -> None:
        started = self.rows.get(stage, (state, time.monotonic(), None, ""))[1]
        self.rows[stage] = (state, started, seconds, "; ".join(reasons))

    def __rich__(self) -> RenderableType:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for sid, (state, started, seconds, note) in self.rows.items():
            took = seconds if seconds is not None else now - started
            color = _COLORS.get(state, "cyan")
            table.add_row(f"[{color}]{state:>9}[/]", sid, f"{took:6.1f}s", note[:60])
        return table
