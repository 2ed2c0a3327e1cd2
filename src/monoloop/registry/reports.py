"""A gate check as a terminal table, JUnit XML (one test case per gate) and Markdown written
to be posted as a merge-request comment: metric deltas against the alias holder, the gate
results, and the top feature importances."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET  # only for writing; we never parse XML

from monoloop.registry.gates import CheckReport

if TYPE_CHECKING:
    from rich.console import Console

_MARK = {"pass": "pass", "fail": "FAIL", "error": "ERROR"}


def render_table(report: CheckReport, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    mv = report.version
    against = (
        f" against {report.against} (v{report.reference.version})"
        if report.reference and report.against
        else ""
    )
    table = Table(title=Text(f"{mv.ref}: gates{against}"))
    table.add_column("gate")
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    style = {"FAIL": "bold red", "ERROR": "bold red", "pass": "green"}
    for r in report.results:
        mark = _MARK[r.status]
        table.add_row(Text(r.gate), Text(mark, style=style[mark]), Text(r.detail))
    console.print(table)
    if not report.results:
        console.print(f"{mv.model} has no gates in monoloop.yaml (models.{mv.model}.gates)")
    verdict = "[green]passed[/green]" if report.passed else "[bold red]FAILED[/bold red]"
    console.print(f"{mv.ref} {verdict}")


def to_junit(report: CheckReport) -> bytes:
    mv = report.version
    failures = sum(r.status == "fail" for r in report.results)
    errors = sum(r.status == "error" for r in report.results)
    suite = ET.Element(
        "testsuite",
        name=f"monoloop gates {mv.ref}",
        tests=str(len(report.results)),
        failures=str(failures),
        errors=str(errors),
    )
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"gates.{mv.model}", name=r.gate)
        if r.status == "fail":
            ET.SubElement(case, "failure", message=r.detail).text = r.detail
        elif r.status == "error":
            ET.SubElement(case, "error", message=r.detail).text = r.detail
        else:
            ET.SubElement(case, "system-out").text = r.detail
    root = ET.Element("testsuites")
    root.append(suite)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def to_markdown(report: CheckReport) -> str:
    mv = report.version
    verdict = "✅ passed" if report.passed else "❌ failed"
    lines = [f"### monoloop: `{mv.ref}` {verdict} its gates", ""]
    ref = report.reference
    if ref is not None:
        lines += [
            f"Compared with `{report.against}` (version {ref.version}).",
            "",
            f"| metric | {mv.ref} | {report.against} v{ref.version} | Δ |",
            "|---|---:|---:|---:|",
        ]
        for key in sorted(set(mv.metrics) | set(ref.metrics)):
            new, old = mv.metrics.get(key), ref.metrics.get(key)
            delta = f"{new - old:+.4g}" if new is not None and old is not None else ""
            lines.append(f"| {key} | {_num(new)} | {_num(old)} | {delta} |")
    elif mv.metrics:
        lines += [
            f"No version holds `{report.against}` yet.",
            "",
            "| metric | value |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {_num(v)} |" for k, v in sorted(mv.metrics.items())]
    lines += ["", "| gate | result | detail |", "|---|---|---|"]
    for r in report.results:
        icon = {"pass": "✅", "fail": "❌", "error": "⚠️"}[r.status]
        lines.append(f"| {_cell(r.gate)} | {icon} {r.status} | {_cell(r.detail)} |")
    if not report.results:
        lines.append(f"| (no gates configured for {mv.model}) | | |")
    if mv.importance:
        lines += ["", "Top feature importances (permutation, held-out data):", ""]
        lines += ["| feature | importance |", "|---|---:|"]
        lines += [f"| {_cell(r['feature'])} | {r['importance']:.4f} |" for r in mv.importance[:5]]
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
