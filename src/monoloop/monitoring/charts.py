"""Small charts drawn by hand, as inline SVG for the HTML report and as PNG for CI comments.

    svg = to_svg(chart)                 # a string: no scripts, no external references
    to_png(chart, Path("drift.png"))    # needs Pillow (pip install 'monoloop[png]')

A chart is plain data (`Chart`); each kind is drawn once, on a `Canvas` with a handful of
primitives, and the SVG and PNG canvases turn those into markup or pixels. So the two
outputs always agree, and no plotting library (nor its fonts or JavaScript) is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Protocol

WIDTH = 640
COLORS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d")
ALERT = "#d62728"
GRID = "#e3e3e3"
INK = "#333333"


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(frozen=True)
class Chart:
    """`bars` (grouped, over labels), `lines` (over labels, in order), `hbars` (one bar per
    label, labels down the side) or `heatmap` (rows x labels, cell = matrix value)."""

    id: str
    title: str
    kind: str
    labels: list[str]
    series: list[Series] = field(default_factory=list)
    threshold: float | None = None
    threshold_label: str = ""
    rows: list[str] = field(default_factory=list)
    matrix: list[list[float | None]] = field(default_factory=list)
    scale: float = 0.5  # heatmap: the value drawn in the darkest colour

    @property
    def height(self) -> int:
        if self.kind == "heatmap":
            return 70 + 18 * max(len(self.rows), 1)
        if self.kind == "hbars":
            return 76 + 20 * max(len(self.labels), 1)
        return 260

    @property
    def empty(self) -> bool:
        if self.kind == "heatmap":
            return not any(v is not None for row in self.matrix for v in row)
        return not any(v is not None for s in self.series for v in s.values)


class Canvas(Protocol):
    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> None: ...
    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str, dash: bool = False
    ) -> None: ...
    def polyline(self, points: list[tuple[float, float]], stroke: str) -> None: ...
    def dot(self, x: float, y: float, fill: str) -> None: ...
    def text(
        self, x: float, y: float, text: str, size: int = 11, anchor: str = "start", color: str = INK
    ) -> None: ...


def draw(chart: Chart, canvas: Canvas) -> None:
    canvas.rect(0, 0, WIDTH, chart.height, "#ffffff")
    canvas.text(8, 18, chart.title, size=13)
    if chart.empty:
        canvas.text(WIDTH / 2, chart.height / 2, "no data yet", anchor="middle", color="#888888")
        return
    {"bars": _bars, "lines": _lines, "hbars": _hbars, "heatmap": _heatmap}[chart.kind](
        chart, canvas
    )


def _legend(chart: Chart, canvas: Canvas) -> None:
    """On its own line under the title, so long names never cover it."""
    x = 8.0
    for i, s in enumerate(chart.series):
        canvas.rect(x, 27, 10, 10, COLORS[i % len(COLORS)])
        canvas.text(x + 14, 36, s.name, size=10)
        x += 14 + 6.0 * len(s.name) + 16


def _top(chart: Chart) -> float:
    values = [v for s in chart.series for v in s.values if v is not None]
    if chart.threshold is not None:
        values.append(chart.threshold)
    top = max(values, default=1.0)
    return top * 1.1 if top > 0 else 1.0


def _axis(canvas: Canvas, box: tuple[float, float, float, float], top: float) -> None:
    left, upper, right, lower = box
    for i in range(3):
        value = top * i / 2
        y = lower - (lower - upper) * i / 2
        canvas.line(left, y, right, y, GRID)
        canvas.text(left - 4, y + 4, _number(value), size=10, anchor="end")


def _xlabels(canvas: Canvas, labels: list[str], xs: list[float], lower: float, room: float) -> None:
    every = max(1, math.ceil(len(labels) / 12))
    chars = max(3, int(room * every / 6.2))
    for i in range(0, len(labels), every):
        canvas.text(xs[i], lower + 14, _clip(labels[i], chars), size=10, anchor="middle")


def _bars(chart: Chart, canvas: Canvas) -> None:
    box = (52.0, 52.0, WIDTH - 12.0, chart.height - 30.0)
    left, upper, right, lower = box
    top = _top(chart)
    _axis(canvas, box, top)
    _legend(chart, canvas)
    group = (right - left) / max(len(chart.labels), 1)
    bar = group * 0.8 / max(len(chart.series), 1)
    for j, s in enumerate(chart.series):
        for i, value in enumerate(s.values):
            if value is None:
                continue
            height = (lower - upper) * value / top
            x = left + group * i + group * 0.1 + bar * j
            tip = f"{s.name} {chart.labels[i]}: {_number(value)}"
            canvas.rect(x, lower - height, bar, height, COLORS[j % len(COLORS)], tip)
    xs = [left + group * (i + 0.5) for i in range(len(chart.labels))]
    _xlabels(canvas, chart.labels, xs, lower, group)


def _lines(chart: Chart, canvas: Canvas) -> None:
    # Room on the right for the last time label, centred on the last point.
    box = (52.0, 52.0, WIDTH - 40.0, chart.height - 30.0)
    left, upper, right, lower = box
    top = _top(chart)
    _axis(canvas, box, top)
    _legend(chart, canvas)
    n = len(chart.labels)
    step = (right - left) / max(n - 1, 1)
    xs = [left + step * i if n > 1 else (left + right) / 2 for i in range(n)]

    def y_of(value: float) -> float:
        return lower - (lower - upper) * value / top

    if chart.threshold is not None:
        y = y_of(chart.threshold)
        canvas.line(left, y, right, y, ALERT, dash=True)
        canvas.text(right, y - 4, chart.threshold_label, size=10, anchor="end", color=ALERT)
    for j, s in enumerate(chart.series):
        color = COLORS[j % len(COLORS)]
        run: list[tuple[float, float]] = []
        for i, value in enumerate([*s.values, None]):
            if value is None:
                if len(run) > 1:
                    canvas.polyline(run, color)
                run = []
                continue
            run.append((xs[i], y_of(value)))
            canvas.dot(xs[i], y_of(value), color)
    _xlabels(canvas, chart.labels, xs, lower, step)


def _hbars(chart: Chart, canvas: Canvas) -> None:
    left, right, upper = 130.0, WIDTH - 60.0, 48.0
    values = [abs(v) for s in chart.series for v in s.values if v is not None]
    top = max(values, default=1.0) or 1.0
    _legend(chart, canvas)
    row = 20.0
    bar = row * 0.8 / max(len(chart.series), 1)
    canvas.line(left, upper, left, upper + row * len(chart.labels), INK)
    for i, label in enumerate(chart.labels):
        y = upper + row * i
        canvas.text(left - 6, y + row / 2 + 4, _clip(label, 20), size=10, anchor="end")
        for j, s in enumerate(chart.series):
            value = s.values[i]
            if value is None:
                continue
            width = (right - left) * max(value, 0.0) / top
            color = COLORS[j % len(COLORS)]
            canvas.rect(left, y + row * 0.1 + bar * j, width, bar, color, f"{s.name}: {value:.4f}")
            canvas.text(left + width + 4, y + row * 0.1 + bar * (j + 1) - 2, _number(value), 9)


def _heatmap(chart: Chart, canvas: Canvas) -> None:
    left, upper, right = 130.0, 32.0, WIDTH - 12.0
    cols = max(len(chart.labels), 1)
    cell_w, cell_h = (right - left) / cols, 18.0
    for r, name in enumerate(chart.rows):
        y = upper + cell_h * r
        canvas.text(left - 6, y + 13, _clip(name, 20), size=10, anchor="end")
        for c, value in enumerate(chart.matrix[r]):
            tip = f"{name} {chart.labels[c]}: {_number(value) if value is not None else 'n/a'}"
            canvas.rect(left + cell_w * c, y, cell_w, cell_h, _heat(value, chart.scale), tip)
    lower = upper + cell_h * len(chart.rows)
    xs = [left + cell_w * (c + 0.5) for c in range(len(chart.labels))]
    _xlabels(canvas, chart.labels, xs, lower, cell_w)
    canvas.text(right, lower + 30, f"darkest: {_number(chart.scale)} or more", 9, "end")


def _heat(value: float | None, scale: float) -> str:
    if value is None:
        return "#f4f4f4"
    t = min(max(value / scale, 0.0), 1.0)
    # white -> orange -> red
    r = 255 if t < 0.5 else int(255 - (255 - 214) * (t - 0.5) * 2)
    g = int(255 - (255 - 160) * t * 2) if t < 0.5 else int(160 - (160 - 39) * (t - 0.5) * 2)
    b = int(255 - (255 - 60) * t * 2) if t < 0.5 else int(60 - (60 - 40) * (t - 0.5) * 2)
    return f"#{r:02x}{g:02x}{b:02x}"


def _number(value: float) -> str:
    return f"{value:.3g}"


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


# --- SVG ---------------------------------------------------------------------------------


class SvgCanvas:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> None:
        title = f"<title>{escape(tip)}</title>" if tip else ""
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
            f'fill="{fill}">{title}</rect>'
        )

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str, dash: bool = False
    ) -> None:
        pattern = ' stroke-dasharray="5 4"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}"{pattern}/>'
        )

    def polyline(self, points: list[tuple[float, float]], stroke: str) -> None:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.parts.append(
            f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="2"/>'
        )

    def dot(self, x: float, y: float, fill: str) -> None:
        self.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}"/>')

    def text(
        self, x: float, y: float, text: str, size: int = 11, anchor: str = "start", color: str = INK
    ) -> None:
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{color}">{escape(text)}</text>'
        )


def to_svg(chart: Chart) -> str:
    """Inline SVG (no xmlns: inside HTML it needs none, and it names no URL)."""
    canvas = SvgCanvas()
    draw(chart, canvas)
    return (
        f'<svg id="chart-{escape(chart.id)}" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {chart.height}" width="{WIDTH}" height="{chart.height}" '
        f'font-family="sans-serif" aria-label="{escape(chart.title)}">'
        + "".join(canvas.parts)
        + "</svg>"
    )


# --- PNG ---------------------------------------------------------------------------------


class PngCanvas:
    SCALE = 2  # drawn at twice the size: crisp in a CI comment on a high-density screen

    def __init__(self, height: int) -> None:
        from PIL import Image, ImageDraw

        self.image = Image.new("RGB", (WIDTH * self.SCALE, height * self.SCALE), "#ffffff")
        self.pen = ImageDraw.Draw(self.image)
        self.fonts: dict[int, Any] = {}

    def _font(self, size: int) -> Any:
        from PIL import ImageFont

        if size not in self.fonts:
            self.fonts[size] = ImageFont.load_default(size=size * self.SCALE)
        return self.fonts[size]

    def _xy(self, *values: float) -> list[float]:
        return [v * self.SCALE for v in values]

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> None:
        if w > 0 and h > 0:
            self.pen.rectangle(self._xy(x, y, x + w, y + h), fill=fill)

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str, dash: bool = False
    ) -> None:
        if not dash:
            self.pen.line(self._xy(x1, y1, x2, y2), fill=stroke, width=self.SCALE)
            return
        length = math.hypot(x2 - x1, y2 - y1)
        for start in range(0, int(length), 9):
            a, b = start / length, min(start + 5, length) / length
            dx, dy = x2 - x1, y2 - y1
            points = self._xy(x1 + dx * a, y1 + dy * a, x1 + dx * b, y1 + dy * b)
            self.pen.line(points, fill=stroke, width=self.SCALE)

    def polyline(self, points: list[tuple[float, float]], stroke: str) -> None:
        flat = [v * self.SCALE for point in points for v in point]
        self.pen.line(flat, fill=stroke, width=2 * self.SCALE, joint="curve")

    def dot(self, x: float, y: float, fill: str) -> None:
        self.pen.ellipse(self._xy(x - 3, y - 3, x + 3, y + 3), fill=fill)

    def text(
        self, x: float, y: float, text: str, size: int = 11, anchor: str = "start", color: str = INK
    ) -> None:
        where = {"start": "ls", "middle": "ms", "end": "rs"}[anchor]
        at = (x * self.SCALE, y * self.SCALE)
        self.pen.text(at, text, font=self._font(size), fill=color, anchor=where)


def to_png(chart: Chart, path: Path) -> None:
    canvas = PngCanvas(chart.height)
    draw(chart, canvas)
    canvas.image.save(path, format="PNG", optimize=True)
