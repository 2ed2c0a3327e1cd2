"""`monoloop monitor report`: one self-contained HTML page about a deployment's model.

    paths = write_report(ws, "churn-api", Path("report.html"), png=Path("charts/"))

Sections: the latest result of each check; every feature's (and the predictions')
distribution in the current window against the reference profile; drift over time (the
share of drifted features, and each feature's PSI as a heatmap); decay over time; and
the top feature importances, at registration and live. Styles and charts (charts.py) are
inline and there is no script: the page opens offline, as a CI artifact or an attachment.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from monoloop.errors import UserError
from monoloop.monitoring.charts import Chart, Series, to_png, to_svg
from monoloop.monitoring.monitors import MonitorResult, history, read_window
from monoloop.monitoring.spec import MonitorSpec
from monoloop.workspace import Workspace

TOP_IMPORTANCE = 10
SECTIONS = ("summary", "distributions", "drift", "decay", "importance")


@dataclass
class MonitorReport:
    deployment: str
    serves: str
    model: str | None
    version: int | None
    window: dict[str, Any]
    generated: float
    latest: list[MonitorResult]
    charts: dict[str, list[Chart]] = field(default_factory=dict)  # section -> charts
    notes: dict[str, str] = field(default_factory=dict)  # section -> why it is empty

    def all_charts(self) -> list[Chart]:
        return [c for section in SECTIONS for c in self.charts.get(section, [])]


def build_report(
    ws: Workspace, deployment: str, *, clock: Callable[[], float] = time.time, limit: int = 200
) -> MonitorReport:
    from monoloop.monitoring.labels import check_deployment

    check_deployment(ws, deployment)
    spec = ws.config.monitors.get(deployment) or MonitorSpec()
    now = clock()
    window = read_window(ws, deployment, now=now, last=spec.window.last, hours=spec.window.hours)
    results = history(ws, deployment, role="primary", limit=limit)
    latest: dict[str, MonitorResult] = {}
    for r in results:
        latest[r.monitor] = r
    report = MonitorReport(
        deployment,
        ws.config.deployments[deployment].model,
        window.model,
        window.version,
        {**window.info, "spec": spec.window.describe(), "rows": len(window.rows)},
        now,
        list(latest.values()),
    )
    mv = _version(ws, report)
    report.charts["distributions"] = _distributions(ws, report, mv, window.rows)
    report.charts["drift"] = _drift(results)
    report.charts["decay"] = _decay(results)
    report.charts["importance"] = _importance(mv, results)
    for section in SECTIONS[1:]:
        if not report.charts[section] and section not in report.notes:
            report.notes[section] = "no results yet"
    return report


def _version(ws: Workspace, report: MonitorReport) -> Any:
    from monoloop.registry.versions import get_version

    ref = f"{report.model}:{report.version}" if report.version else report.serves
    try:
        return get_version(ws, ref)
    except UserError as exc:
        report.notes["distributions"] = exc.message
        report.notes["importance"] = exc.message
        return None


def _chart_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "chart"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M")


def _times(results: list[MonitorResult]) -> list[str]:
    """Time labels for a chart's x axis: the hour alone when every run was on one day."""
    stamps = [datetime.fromtimestamp(r.time, UTC) for r in results]
    same_day = len({s.date() for s in stamps}) <= 1
    return [s.strftime("%H:%M" if same_day else "%m-%d %H:%M") for s in stamps]


def _distributions(ws: Workspace, report: MonitorReport, mv: Any, rows: Any) -> list[Chart]:
    import pandas as pd  # type: ignore[import-untyped]

    from monoloop.monitoring.drift import bucket_labels, distribution
    from monoloop.monitoring.profile import ReferenceProfile
    from monoloop.predictions.log import PREDICTION, inputs
    from monoloop.registry.service import PREDICTION_COLUMN

    if mv is None:
        return []
    if mv.profile_id is None:
        report.notes["distributions"] = f"{mv.ref} has no reference profile"
        return []
    profile = ReferenceProfile.from_dict(json.loads(ws.objects.get(mv.profile_id)))
    frame = inputs(rows) if len(rows) else pd.DataFrame(columns=list(profile.columns))
    if len(rows) and PREDICTION in rows.columns:
        frame[PREDICTION_COLUMN] = rows[PREDICTION].to_numpy()
    charts = []
    # The features in the profile's order, then the predictions.
    columns = sorted(profile.columns, key=lambda c: c == PREDICTION_COLUMN)
    for column in columns:
        if len(rows) and column not in frame.columns:
            continue
        name = "prediction" if column == PREDICTION_COLUMN else column
        found = distribution(profile, frame, column) if len(rows) else None
        reference = _shares(found.reference if found else _ref_counts(profile, column))
        labels = found.labels if found else bucket_labels(profile.columns[column])
        series = [Series("reference", reference)]
        if found is not None:
            series.append(Series(f"current ({len(rows)} rows)", _shares(found.current)))
        title = f"{name}: share of values per bucket, reference vs current window"
        charts.append(Chart(f"dist-{_chart_id(name)}", title, "bars", labels, series))
    if not len(rows):
        report.notes["distributions"] = "no predictions in the window: reference only"
    return charts


def _ref_counts(profile: Any, column: str) -> list[int]:
    ref = profile.columns[column]
    if ref.kind == "numeric":
        return list(ref.sketch.bin_counts)
    return [n for _, n in ref.categories] + [ref.other, 0]


def _shares(counts: list[int]) -> list[float | None]:
    total = sum(counts)
    return [n / total if total else None for n in counts]


def _drift(results: list[MonitorResult]) -> list[Chart]:
    drift = [r for r in results if r.monitor == "drift" and r.verdict in ("ok", "fired")]
    if not drift:
        return []
    labels = _times(drift)
    share = [float(r.statistics.get("drifted_share", 0.0)) for r in drift]
    threshold = _float(drift[-1].statistics.get("share"))
    charts = [
        Chart(
            "drift-share",
            "Share of drifted features per monitor run",
            "lines",
            labels,
            [Series("drifted share", list(share))],
            threshold=threshold,
            threshold_label="data set drift" if threshold is not None else "",
        )
    ]
    features = list(dict.fromkeys(c for r in drift for c in r.statistics.get("columns", {})))
    matrix = [[_psi(r.statistics.get("columns", {}).get(f)) for r in drift] for f in features] + [
        [_psi(r.statistics.get("prediction")) for r in drift]
    ]
    charts.append(
        Chart(
            "drift-psi",
            "PSI per feature per monitor run (darker: more drift)",
            "heatmap",
            labels,
            rows=[*features, "prediction"],
            matrix=matrix,
        )
    )
    return charts


def _psi(stats: dict[str, Any] | None) -> float | None:
    value = (stats or {}).get("psi")
    return float(value) if isinstance(value, int | float) else None


def _decay(results: list[MonitorResult]) -> list[Chart]:
    decay = [r for r in results if r.monitor == "decay" and r.verdict in ("ok", "fired")]
    if not decay:
        return []
    last = decay[-1].statistics
    metric = str(last.get("metric", "metric"))
    bound = last.get("min") if last.get("min") is not None else last.get("max")
    return [
        Chart(
            "decay",
            f"{metric} on labelled predictions per monitor run",
            "lines",
            _times(decay),
            [Series(metric, [_float(r.statistics.get("value")) for r in decay])],
            threshold=_float(bound),
            threshold_label=("min " if last.get("min") is not None else "max ") + f"{bound}",
        )
    ]


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _importance(mv: Any, results: list[MonitorResult]) -> list[Chart]:
    if mv is None or not mv.importance:
        return []
    ranked = sorted(mv.importance, key=lambda r: -float(r["importance"]))[:TOP_IMPORTANCE]
    features = [str(r["feature"]) for r in ranked]
    series = [Series(f"at registration (v{mv.version})", [float(r["importance"]) for r in ranked])]
    live = [
        r
        for r in results
        if r.monitor == "importance" and r.version == mv.version and r.statistics.get("live")
    ]
    if live:
        by = {str(x["feature"]): float(x["importance"]) for x in live[-1].statistics["live"]}
        series.append(Series(f"live ({_when(live[-1].time)})", [by.get(f) for f in features]))
    title = "Top feature importances (mean accuracy or R2 drop when shuffled)"
    return [Chart("importance", title, "hbars", features, series)]


# --- HTML ----------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#333;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;font-size:.9rem}
th{background:#f6f6f6}.fired{color:#d62728;font-weight:600}.ok{color:#2a7d2a}
.skipped,.note{color:#888}.error{color:#b8860b}figure{margin:1rem 0}
figcaption{font-size:.8rem;color:#666}svg.chart{max-width:100%;height:auto}
"""


def render_html(report: MonitorReport) -> str:
    from monoloop import __version__
    from monoloop.tracking.model import iso

    title = f"Monitoring report: {report.deployment}"
    version = f"{report.model}:{report.version}" if report.version else "-"
    facts = [
        ("deployment", report.deployment),
        ("serves", report.serves),
        ("version in the window", version),
        ("window", f"{report.window.get('spec')} ({report.window.get('rows')} rows)"),
        ("generated", iso(report.generated) or ""),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    status = "".join(
        f"<tr><td>{escape(r.monitor)}</td><td>{escape((iso(r.time) or '')[:19])}</td>"
        f'<td class="{escape(r.verdict)}">{escape(r.verdict)}</td>'
        f"<td>{escape(r.summary)}</td></tr>"
        for r in report.latest
    )
    status_table = (
        "<table><tr><th>check</th><th>time (UTC)</th><th>verdict</th><th>finding</th></tr>"
        f"{status}</table>"
        if status
        else '<p class="note">no monitor results yet: run `monoloop monitor run`</p>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<section id="summary"><table>{rows}</table>',
        f"<h2>Latest checks</h2>{status_table}</section>",
    ]
    headings = {
        "distributions": "Reference vs current distributions",
        "drift": "Drift over time",
        "decay": "Decay over time",
        "importance": "Feature importance",
    }
    for section, heading in headings.items():
        parts.append(f'<section id="{section}"><h2>{escape(heading)}</h2>')
        if section in report.notes:
            parts.append(f'<p class="note">{escape(report.notes[section])}</p>')
        for chart in report.charts.get(section, []):
            parts.append(
                f"<figure>{to_svg(chart)}<figcaption>{escape(chart.title)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append(f'<footer class="note">monoloop {escape(__version__)}</footer></body></html>')
    return "\n".join(parts) + "\n"


def write_report(
    ws: Workspace,
    deployment: str,
    output: Path,
    *,
    png: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Write the HTML report (and, with `png`, one PNG per chart); returns what was written."""
    from monoloop.fsutil import atomic_write_text

    if png is not None:
        _require_pillow()
    report = build_report(ws, deployment, clock=clock)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, render_html(report))
    written: dict[str, Any] = {
        "html": str(output),
        "charts": [c.id for c in report.all_charts()],
        "png": [],
    }
    if png is not None:
        png.mkdir(parents=True, exist_ok=True)
        for chart in report.all_charts():
            path = png / f"{chart.id}.png"
            to_png(chart, path)
            written["png"].append(str(path))
    return written


def _require_pillow() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise UserError(
            "PNG export needs the Pillow library, which is not installed",
            hint="pip install 'monoloop[png]' (or leave out --png: the HTML needs nothing)",
        ) from None
