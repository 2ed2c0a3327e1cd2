"""How runs look in a terminal (rich) and in `--json`: shared by the CLI commands.

Data shaping (which columns, what differs) is plain functions; only the `print_*`
functions touch rich, and they import it when called.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monoloop.tracking.model import Run, jsonable

if TYPE_CHECKING:
    from rich.console import Console

STATUS_STYLE = {"running": "cyan", "finished": "green", "failed": "red", "killed": "yellow"}
SHORT_ID = 8
MAX_KEY_COLUMNS = 3


def when(ts: float | None) -> str:
    """Local time to the second: what a person compares runs by."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def value_text(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)


def key_columns(runs: Sequence[Run], ns: str, mentioned: str = "") -> list[str]:
    """The few params or metrics worth a column: those the filter or order mention, then the
    most common among the runs shown."""
    named = re.findall(rf"\b{ns}\.([\w.\-/:]+)", mentioned)
    counts: Counter[str] = Counter()
    for run in runs:
        counts.update((run.params if ns == "params" else run.metrics).keys())
    chosen = [k for k in dict.fromkeys(named) if k in counts]
    for key, _ in counts.most_common():
        if len(chosen) >= MAX_KEY_COLUMNS:
            break
        if key not in chosen:
            chosen.append(key)
    return chosen


def print_runs(console: Console, runs: Sequence[Run], mentioned: str = "") -> None:
    from rich.table import Table

    params = key_columns(runs, "params", mentioned)
    metrics = key_columns(runs, "metrics", mentioned)
    staged = any(run.pipeline or run.stage for run in runs)
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("name", min_width=10)
    table.add_column("status", no_wrap=True)
    table.add_column("start", no_wrap=True)
    if staged:
        table.add_column("pipeline/stage")
    # Headers name the key alone; the color says params (blue) or metrics (magenta).
    for key in params:
        table.add_column(key, justify="right", style="blue", header_style="bold blue")
    for key in metrics:
        table.add_column(key, justify="right", style="magenta", header_style="bold magenta")
    for run in runs:
        where = "/".join(x for x in (run.pipeline, run.stage) if x)
        cells = [
            run.id[:SHORT_ID],
            run.name or "",
            f"[{STATUS_STYLE.get(run.status, '')}]{run.status}[/]",
            when(run.start),
            *([where] if staged else []),
        ]
        cells += [value_text(run.params[k]) if k in run.params else "" for k in params]
        cells += [value_text(run.metrics[k]) if k in run.metrics else "" for k in metrics]
        table.add_row(*cells)
    console.print(table)
    if not runs:
        console.print("[dim]no runs match[/dim]")


def print_run(console: Console, run: Run) -> None:
    from rich.table import Table

    about = Table.grid(padding=(0, 2))
    about.add_column(style="bold")
    about.add_column()
    dirty = " (dirty)" if run.git_dirty else ""
    duration = "" if run.duration is None else f"{run.duration:.3f}s"
    rows = [
        ("id", run.id),
        ("name", run.name or ""),
        ("status", f"[{STATUS_STYLE.get(run.status, '')}]{run.status}[/]"),
        ("start", when(run.start)),
        ("end", when(run.end)),
        ("duration", duration),
        ("pipeline/stage", "/".join(x for x in (run.pipeline, run.stage) if x)),
        ("git commit", (run.git_commit or "") + dirty),
        ("python", run.python or ""),
        ("packages", run.packages_hash or ""),
        ("actor", run.actor or ""),
        ("log", run.log_id or ""),
        ("error", run.error or ""),
    ]
    for label, value in rows:
        if value:
            about.add_row(label, value)
    console.print(about)
    sections: list[tuple[str, dict[str, Any]]] = [
        ("params", run.params),
        ("metrics", run.metrics),
        ("tags", run.tags),
        ("inputs", run.inputs),
        ("outputs", run.outputs),
        ("artifacts", {k: a.id for k, a in run.artifacts.items()}),
    ]
    for title, values in sections:
        if not values:
            continue
        table = Table("key", "value", title=title, title_justify="left")
        for key, value in values.items():
            table.add_row(key, value_text(value))
        console.print(table)


def compare(runs: Sequence[Run]) -> dict[str, Any]:
    """Params and metrics side by side: every key any run has, one value (or None) per run."""

    def side_by_side(values: list[dict[str, Any]]) -> dict[str, list[Any]]:
        keys = sorted({k for v in values for k in v})
        return {k: [jsonable(v.get(k)) for v in values] for k in keys}

    params = side_by_side([r.params for r in runs])
    metrics = side_by_side([r.metrics for r in runs])
    return {
        "runs": [r.id for r in runs],
        "names": [r.name for r in runs],
        "params": params,
        "metrics": metrics,
        "differ": {
            "params": [k for k, v in params.items() if _differs(v)],
            "metrics": [k for k, v in metrics.items() if _differs(v)],
        },
    }


def _differs(values: list[Any]) -> bool:
    return any(v != values[0] for v in values[1:])


def print_compare(console: Console, data: dict[str, Any]) -> None:
    from rich.table import Table

    heads = [
        f"{rid[:SHORT_ID]}" + (f"\n{name}" if name else "")
        for rid, name in zip(data["runs"], data["names"], strict=True)
    ]
    table = Table("", *heads)
    for ns in ("params", "metrics"):
        differ = set(data["differ"][ns])
        for key, values in data[ns].items():
            style = "bold yellow" if key in differ else "dim"
            cells = ["" if v is None else value_text(v) for v in values]
            table.add_row(f"{ns}.{key}", *cells, style=style)
    console.print(table)
    console.print("[dim]values that differ between runs are highlighted[/dim]")


def print_history(
    console: Console, key: str, points: list[tuple[int, float, float]], *, plot: bool
) -> None:
    if plot:
        from monoloop.tracking.plot import line_chart

        console.print(f"{key} by step ({len(points)} points)", highlight=False)
        for line in line_chart([(float(s), v) for s, v, _ in points]):
            console.print(line, highlight=False, markup=False)
        return
    from rich.table import Table

    table = Table("step", key, "time")
    for step, value, ts in points:
        table.add_row(str(step), value_text(value), when(ts))
    console.print(table)
