"""`monoloop check`: evaluate a model version's gates, for people and for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli


def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[
        str, typer.Argument(help="A version number, or 'latest'.", show_default=True)
    ] = "latest",
    against: Annotated[
        str, typer.Option("--against", help="The alias whose holder the rules compare with.")
    ] = "champion",
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Write JUnit XML here.")
    ] = None,
    report_md: Annotated[
        Path | None,
        typer.Option("--report-md", metavar="FILE", help="Write a Markdown report for a MR."),
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Evaluate a model version's gates (monoloop.yaml models.NAME.gates); exit 1 on failure."""
    from monoloop.fsutil import atomic_write_bytes
    from monoloop.registry import reports
    from monoloop.registry.model import parse_version

    c = cli(ctx, json=json)
    number = None if version == "latest" else parse_version(version)
    with c.backend() as backend:
        report = backend.check(name, number, against=against)
    for target, content in (
        (junit, reports.to_junit(report)),
        (report_md, reports.to_markdown(report).encode()),
    ):
        if target is not None:
            path = c.path(target)
            path.parent.mkdir(parents=True, exist_ok=True)  # CI writes into reports/ dirs
            atomic_write_bytes(path, content)
    c.output.result(report.to_dict(), lambda con: reports.render_table(report, con))
    if not report.passed:
        raise typer.Exit(1)
