"""A validation report as a terminal table, JUnit XML (one test per rule) and Markdown.

Every format is built from the report alone, whose samples are masked already;
nothing here looks at the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET  # only for writing; we never parse XML

from monoloop.validation.results import PiiScan, RuleResult, ValidationReport

if TYPE_CHECKING:
    from rich.console import Console

_MARK = {"pass": "pass", "fail": "FAIL", "error": "ERROR"}


def rows_text(rule: RuleResult, *, limit: int = 5) -> str:
    if not rule.rows:
        return ""
    more = rule.failing - len(rule.rows[:limit])
    return ", ".join(map(str, rule.rows[:limit])) + (f" (+{more:,})" if more > 0 else "")


def outcome(rule: RuleResult) -> str:
    """`FAIL`, `warn` or `pass`: a failed warn-severity rule does not fail the check."""
    if rule.failed and rule.severity == "warn":
        return "warn"
    return _MARK[rule.status]


def render_table(report: ValidationReport, console: Console) -> None:
    """Every cell is literal Text: column names and samples come from data, never markup."""
    from rich.table import Table
    from rich.text import Text

    where = f"{report.data}" + (
        f" at {report.rev}" if report.rev and "@" not in report.data else ""
    )
    title = f"{where}: contract {report.contract}, {report.rows:,} rows x {report.columns} columns"
    table = Table(title=Text(title))
    table.add_column("rule", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("failing", justify="right")
    table.add_column("rows")
    table.add_column("samples (masked)", overflow="fold")
    table.add_column("detail", overflow="fold")
    style = {"FAIL": "bold red", "ERROR": "bold red", "warn": "yellow", "pass": "green"}
    for r in report.rules:
        mark = outcome(r)
        table.add_row(
            Text(r.rule),
            Text(mark, style=style[mark]),
            f"{r.failing:,}" if r.failing else "",
            rows_text(r),
            Text(", ".join(r.samples)),
            Text(r.detail or ("" if r.status == "pass" else f"expected {r.expect}")),
        )
    console.print(table)
    if report.pii and (report.pii.findings or report.pii.hints):
        render_pii(report.pii, console)
    colour = "green" if report.ok else "bold red"
    console.print(Text(report.summary(), style=colour), highlight=False)


def render_pii(scan: PiiScan, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    title = f"PII scan: {len(scan.columns)} text column(s), {scan.cells:,} cells"
    table = Table(title=title)
    table.add_column("column", no_wrap=True)
    table.add_column("kind")
    table.add_column("cells", justify="right")
    table.add_column("rows")
    table.add_column("samples (masked)", overflow="fold")
    for f in scan.findings:
        more = f.cells - len(f.rows)
        rows = ", ".join(map(str, f.rows)) + (f" (+{more:,})" if more > 0 else "")
        table.add_row(Text(f.column), f.kind, f"{f.cells:,}", rows, Text(", ".join(f.samples)))
    for h in scan.hints:
        table.add_row(Text(h.column), f"name suggests {h.kind}", "", "", "")
    console.print(table)


def junit_xml(report: ValidationReport) -> str:
    """JUnit XML: a test case per rule; a failed warn rule is `skipped` so CI shows, not fails."""
    suite = ET.Element(
        "testsuite",
        {
            "name": f"contract {report.contract}: {report.data}",
            "tests": str(len(report.rules)),
            "failures": str(sum(1 for r in report.errors if r.status == "fail")),
            "errors": str(sum(1 for r in report.errors if r.status == "error")),
            "skipped": str(len(report.warnings)),
        },
    )
    for r in report.rules:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"{report.contract}.{r.rule.rsplit('.', 1)[0]}", "name": r.rule},
        )
        if not r.failed:
            continue
        message = _message(r)
        if r.severity == "warn":
            ET.SubElement(case, "skipped", {"message": f"warning: {message}"})
        else:
            tag = "error" if r.status == "error" else "failure"
            node = ET.SubElement(case, tag, {"message": message, "type": r.kind})
            node.text = _body(r)
    root = ET.Element("testsuites", {"name": "monoloop validate"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _message(r: RuleResult) -> str:
    count = f"{r.failing:,} failing row(s); " if r.failing else ""
    return f"{count}expected {r.expect}" + (f"; {r.detail}" if r.detail else "")


def _body(r: RuleResult) -> str:
    lines = [f"rule: {r.rule}", f"expected: {r.expect}"]
    if r.failing:
        lines.append(f"failing rows: {r.failing:,}")
    if r.rows:
        lines.append(f"example rows: {rows_text(r)}")
    if r.samples:
        lines.append(f"samples (masked): {', '.join(r.samples)}")
    if r.detail:
        lines.append(f"detail: {r.detail}")
    return "\n".join(lines)


def markdown(report: ValidationReport) -> str:
    """A merge-request comment: verdict first, failures before passes."""
    icon = {"FAIL": ":x:", "ERROR": ":x:", "warn": ":warning:", "pass": ":white_check_mark:"}
    verdict = ":white_check_mark:" if report.ok else ":x:"
    at = f" at `{report.rev}`" if report.rev and "@" not in report.data else ""
    lines = [
        f"### {verdict} Data contract `{report.contract}` on `{report.data}`{at}",
        "",
        f"{report.summary()}; {report.rows:,} rows x {report.columns} columns.",
        "",
        "| | rule | severity | failing | example rows | samples (masked) | detail |",
        "|---|---|---|---:|---|---|---|",
    ]
    ordered = sorted(report.rules, key=lambda r: (not r.failed, r.severity != "error"))
    for r in ordered:
        detail = r.detail or ("" if not r.failed else f"expected {r.expect}")
        cells = [
            icon[outcome(r)],
            f"`{r.rule}`",
            r.severity,
            f"{r.failing:,}" if r.failing else "",
            rows_text(r),
            ", ".join(_code(s) for s in r.samples),
            detail,
        ]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    scan = report.pii
    if scan and (scan.findings or scan.hints):
        lines += ["", "#### PII scan", "", "| column | kind | cells | samples (masked) |"]
        lines.append("|---|---|---:|---|")
        for f in scan.findings:
            samples = ", ".join(_code(s) for s in f.samples)
            lines.append(f"| {_md(f.column)} | {f.kind} | {f.cells:,} | {_md(samples)} |")
        for h in scan.hints:
            lines.append(f"| {_md(h.column)} | name suggests {h.kind} | | |")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
