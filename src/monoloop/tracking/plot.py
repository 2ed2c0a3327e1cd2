"""A line chart drawn with plain characters, for `monoloop runs metric --plot` in any terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence


def line_chart(
    points: Sequence[tuple[float, float]], *, width: int = 64, height: int = 16
) -> list[str]:
    """Rows of text: a y axis with labels, `*` marks joined by `.`, and an x axis with labels.

    Points are (x, y); non-finite values are skipped. Several points falling in one column
    are drawn as the span between their lowest and highest value.
    """
    finite = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    if not finite:
        return ["(no finite values to plot)"]
    width, height = max(width, 8), max(height, 3)
    xs = [x for x, _ in finite]
    ys = [y for _, y in finite]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y0 == y1:
        y0, y1 = y0 - 1, y1 + 1
    x_span = (x1 - x0) or 1.0

    def col(x: float) -> int:
        return min(width - 1, int((x - x0) / x_span * (width - 1) + 0.5))

    def row(y: float) -> int:
        return min(height - 1, int((y1 - y) / (y1 - y0) * (height - 1) + 0.5))

    grid = [[" "] * width for _ in range(height)]
    spans: dict[int, tuple[int, int]] = {}
    for x, y in finite:
        c, r = col(x), row(y)
        lo, hi = spans.get(c, (r, r))
        spans[c] = (min(lo, r), max(hi, r))
    previous: tuple[int, int] | None = None
    for c in sorted(spans):
        lo, hi = spans[c]
        for r in range(lo, hi + 1):
            grid[r][c] = "*"
        if previous is not None:
            _join(grid, previous, (c, (lo + hi) // 2))
        previous = (c, (lo + hi) // 2)
    top, bottom = _fmt(y1), _fmt(y0)
    pad = max(len(top), len(bottom))
    lines = []
    for r, cells in enumerate(grid):
        label = top if r == 0 else bottom if r == height - 1 else ""
        lines.append(f"{label:>{pad}} |{''.join(cells)}".rstrip())
    lines.append(" " * pad + " +" + "-" * width)
    left, right = _fmt(x0), _fmt(x1)
    gap = max(1, width - len(left) - len(right))
    lines.append(" " * (pad + 2) + left + " " * gap + right)
    return lines


def _join(grid: list[list[str]], a: tuple[int, int], b: tuple[int, int]) -> None:
    """Dots between two marks, so a sparse series still reads as a line."""
    (c0, r0), (c1, r1) = a, b
    steps = max(abs(c1 - c0), abs(r1 - r0))
    for i in range(1, steps):
        c = c0 + round((c1 - c0) * i / steps)
        r = r0 + round((r1 - r0) * i / steps)
        if grid[r][c] == " ":
            grid[r][c] = "."


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"
