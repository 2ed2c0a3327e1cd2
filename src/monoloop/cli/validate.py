"""`monoloop validate`: data contracts and PII checks.

`monoloop validate DATA` is short for `monoloop validate check DATA`: the group
sends a first argument that is not a subcommand's name to `check`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from monoloop.cli.context import JSON_OPTION, CliContext, cli

if TYPE_CHECKING:
    from rich.console import Console

    # typer vendors click; this is the context type its groups are declared with.
    from typer._click import Context as ClickContext

    from monoloop.workspace import Workspace


class DefaultGroup(TyperGroup):
    """A command group that runs a default subcommand when the first argument names none."""

    default_command = "check"

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DefaultGroup,
    help=(
        "Data contracts and PII checks. `monoloop validate DATA [OPTIONS]` is short for "
        "`monoloop validate check DATA [OPTIONS]`. Reports never show a raw value: "
        "samples are masked."
    ),
    no_args_is_help=True,
)

DATA_ARG = typer.Argument(help="A .csv, .tsv, .parquet or .jsonl file (CSV/JSONL may be .gz).")
REV_OPTION = typer.Option(
    "--rev", metavar="REV", help="Read DATA as of this Git revision (commit, branch or tag)."
)
CONTRACT_OPTION = typer.Option(
    "--contract",
    "-c",
    metavar="NAME|PATH",
    help="contracts/NAME.yaml, a contract in monoloop.yaml, or a path "
    "(default: the contract named like DATA).",
)


@contextlib.contextmanager
def _maybe_workspace(c: CliContext) -> Iterator[Workspace | None]:
    """The workspace when there is one; outside, validation still works on plain files."""
    from monoloop.errors import WorkspaceError

    try:
        ws = c.workspace()
    except WorkspaceError:
        yield None
        return
    with ws:
        yield ws


@app.command("check")
def check(
    ctx: typer.Context,
    data: Annotated[Path, DATA_ARG],
    contract: Annotated[str | None, CONTRACT_OPTION] = None,
    rev: Annotated[str | None, REV_OPTION] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Write JUnit XML here.")
    ] = None,
    report_md: Annotated[
        Path | None,
        typer.Option("--report-md", metavar="FILE", help="Write a Markdown report here."),
    ] = None,
    no_pii: Annotated[bool, typer.Option("--no-pii", help="Skip the PII scan.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Check DATA against its contract; exit 1 when an error-severity rule fails."""
    from monoloop.fsutil import atomic_write_text
    from monoloop.validation import reports, service

    c = cli(ctx, json=json)
    c.output.info(f"checking {data}" + (f" at {rev}" if rev else ""))
    with _maybe_workspace(c) as ws:
        report = service.check(ws, data, contract, rev=rev, pii=not no_pii, cwd=c.cwd)
    for target, text in ((junit, reports.junit_xml), (report_md, reports.markdown)):
        if target is not None:
            path = c.path(target)
            path.parent.mkdir(parents=True, exist_ok=True)  # CI writes into reports/ dirs
            atomic_write_text(path, text(report))
            c.output.info(f"wrote {path}")
    c.output.result(report.to_dict(), lambda console: reports.render_table(report, console))
    if not report.ok:
        raise typer.Exit(1)


@app.command("infer")
def infer(
    ctx: typer.Context,
    data: Annotated[Path, DATA_ARG],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", metavar="FILE", help="Write the contract here (default: stdout)."
        ),
    ] = None,
    rev: Annotated[str | None, REV_OPTION] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Infer a starting contract from DATA (types, widened ranges, categories, PII) to edit."""
    from monoloop.validation import service
    from monoloop.validation.contract import contract_to_dict

    c = cli(ctx, json=json)
    with _maybe_workspace(c) as ws:
        result = service.infer(ws, data, output=output, rev=rev, force=force, cwd=c.cwd)
    if result.path is not None:
        c.output.info(f"wrote {result.path}; review it, then commit it")

    def render(_console: Console) -> None:
        if result.path is None:
            sys.stdout.write(result.text)

    c.output.result({**result.to_dict(), "contract": contract_to_dict(result.contract)}, render)


@app.command("scan")
def scan(
    ctx: typer.Context,
    data: Annotated[Path, DATA_ARG],
    column: Annotated[
        list[str] | None,
        typer.Option("--column", metavar="NAME", help="Scan only this column (repeatable)."),
    ] = None,
    rev: Annotated[str | None, REV_OPTION] = None,
    fail: Annotated[bool, typer.Option("--fail", help="Exit 1 when any PII is found.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Scan DATA for PII: e-mails, phones, card numbers, IBANs, SSNs, IPs; samples masked."""
    from monoloop.validation import reports, service

    c = cli(ctx, json=json)
    with _maybe_workspace(c) as ws:
        found = service.scan_pii(ws, data, rev=rev, columns=column, cwd=c.cwd)

    def render(console: Console) -> None:
        if found.findings or found.hints:
            reports.render_pii(found, console)
        else:
            console.print(f"no PII found in {len(found.columns)} text column(s)", highlight=False)

    c.output.result(found.to_dict(), render)
    if fail and found.findings:
        raise typer.Exit(1)


@app.command("fix")
def fix(
    ctx: typer.Context,
    data: Annotated[Path, DATA_ARG],
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="FILE", help="Where to write the result.")
    ],
    contract: Annotated[str | None, CONTRACT_OPTION] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            metavar="NAME",
            help="Pseudonymize this column (repeatable; default: the contract's "
            "`pii: pseudonymize` columns).",
        ),
    ] = None,
    rev: Annotated[str | None, REV_OPTION] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Replace PII with keyed pseudonyms (key from $MONOLOOP_PII_KEY), writing OUTPUT."""
    from monoloop.validation import service

    c = cli(ctx, json=json)
    with _maybe_workspace(c) as ws:
        result = service.fix(
            ws, data, contract, output=output, columns=column, rev=rev, force=force, cwd=c.cwd
        )
    c.output.info(
        f"pseudonymized {result.cells:,} cells in {', '.join(result.columns)}: {result.output}"
    )
    c.output.result(result.to_dict())
