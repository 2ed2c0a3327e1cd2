"""Templates: one Jinja environment per process, autoescaped, loaded from the package."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

if TYPE_CHECKING:
    from monoloop.ui.session import Viewer

NAV = [
    ("/", "Runs"),
    ("/models", "Models"),
    ("/deployments", "Deployments"),
    ("/monitoring", "Monitoring"),
    ("/audit", "Audit"),
]


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monoloop.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["num"] = num
    env.filters["pct"] = pct
    env.filters["short"] = lambda text: (text or "")[:10]
    env.globals["svg"] = lambda markup: Markup(markup)  # noqa: S704 - our own SVG, escaped
    return env


def page(
    request: Request, template: str, who: Viewer | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    html = (
        environment()
        .get_template(template)
        .render(request=request, who=who, nav=NAV, path=request.url.path, **context)
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


# Nothing but this server: no CDN, no fonts, no frames, inline styles only for SVG.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def when(ts: float | str | None) -> str:
    if ts is None:
        return ""
    if isinstance(ts, str):
        return ts.replace("T", " ")[:19]
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def pct(value: float | None) -> str:
    """A share as a percentage: 0.125 -> "12.5%"; none -> "-"."""
    return "-" if value is None else f"{value * 100:.3g}%"
