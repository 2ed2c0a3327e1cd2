"""Models (list, one model's versions and alias history, one version with its gates, card,
signature and lineage) and the audit ledger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from monoloop.audit import service as audit
from monoloop.audit.anchors import read_anchors
from monoloop.errors import Forbidden
from monoloop.monitoring.charts import Chart, Series, to_svg
from monoloop.registry import aliases, gates, versions
from monoloop.registry.card import current_card
from monoloop.registry.lineage import lineage
from monoloop.registry.model import ModelVersion
from monoloop.server.errors import JSON
from monoloop.ui import lineage_graph
from monoloop.ui.cards import card_html
from monoloop.ui.render import page
from monoloop.ui.session import Viewing

router = APIRouter(include_in_schema=False)

TOP_FEATURES = 6
SHOWN_VERSIONS = 100
CHART_VERSIONS = 30
AUDIT_PAGE = 200


@router.get("/models")
def models_page(request: Request, who: Viewing) -> Response:
    return page(request, "models.html", who, title="Models", models=versions.list_models(who.ws))


@router.get("/models/{name}")
def model_page(request: Request, name: str, who: Viewing) -> Response:
    found = versions.list_versions(who.ws, name)
    moves = aliases.history(who.ws, name)
    newest = sorted(found, key=lambda v: -v.version)
    chart = _importance(newest[:CHART_VERSIONS])
    return page(
        request,
        "model.html",
        who,
        title=f"Model {name}",
        name=name,
        versions=newest[:SHOWN_VERSIONS],
        total=len(found),
        moves=list(reversed(moves)),
        chart=chart,
    )


def _importance(found: list[ModelVersion]) -> str | None:
    """The top features' importance across versions (lines over versions)."""
    ranked = [v for v in sorted(found, key=lambda v: v.version) if v.importance]
    if not ranked:
        return None
    last = sorted(ranked[-1].importance or [], key=lambda r: -float(r["importance"]))
    features = [str(r["feature"]) for r in last[:TOP_FEATURES]]
    by_version = [
        {str(r["feature"]): float(r["importance"]) for r in v.importance or []} for v in ranked
    ]
    series = [Series(f, [imp.get(f) for imp in by_version]) for f in features]
    labels = [f"v{v.version}" for v in ranked]
    kind = "lines" if len(ranked) > 1 else "bars"
    title = "Feature importance across versions (top features of the latest)"
    return to_svg(Chart("importance", title, kind, labels, series))


@router.get("/models/{name}/versions/{version}")
def version_page(request: Request, name: str, version: int, who: Viewing) -> Response:
    mv = versions.get_version(who.ws, f"{name}:{version}")
    trace = lineage(who.ws, mv.ref)
    served = {d: spec.refs() for d, spec in who.ws.config.deployments.items()}
    card = current_card(who.ws, mv.ref)
    return page(
        request,
        "version.html",
        who,
        title=f"{name} version {version}",
        mv=mv,
        check=gates.latest_check(who.ws, name, version),
        card=card,
        card_html=card_html(card),
        trace=trace,
        graph=lineage_graph.to_svg(lineage_graph.build(trace, served)),
        moves=list(reversed(aliases.history(who.ws, name))),
    )


@router.get("/models/{name}/versions/{version}/card.md")
def card_download(name: str, version: int, who: Viewing) -> Response:
    """The model card as it is now, as a Markdown file."""
    card = current_card(who.ws, f"{name}:{version}")
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100]
    return Response(
        card.encode(),
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}-v{version}-card.md"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/audit/verify")
def verify_page(request: Request, who: Viewing) -> Response:
    """Recompute the whole chain and check its Git anchors: on demand, since it reads every
    event (seconds with hundreds of thousands)."""
    chain = audit.verify(who.ws)
    return page(request, "verify.html", who, title="Ledger verification", chain=chain)


@router.get("/audit")
def audit_page(
    request: Request,
    who: Viewing,
    subject: str = "",
    kind: str = "",
    actor: str = "",
) -> Response:
    filters = audit.EventFilter(
        subject=subject or None, kind=kind or None, actor=actor or None, limit=AUDIT_PAGE
    )
    found = list(reversed(audit.log(who.ws, filters)))
    head = audit.log(who.ws, audit.EventFilter(limit=1))
    cfg = who.ws.config
    anchors = read_anchors(who.ws.root, prefix=cfg.audit.anchor_prefix, project=cfg.project)
    latest: Any = max(anchors, key=lambda a: a.seq, default=None)
    return page(
        request,
        "audit.html",
        who,
        title="Audit ledger",
        events=found,
        head=head[0] if head else None,
        anchor=latest,
        subject=subject,
        kind=kind,
        actor=actor,
        limit=AUDIT_PAGE,
    )


class PromoteForm(BaseModel):
    version: int
    to: str = Field(min_length=1, max_length=100)


@router.post("/models/{name}/promote")
def promote(name: str, body: PromoteForm, who: Viewing) -> Response:
    """The version page's promote button: JSON from ui.js (CSRF-safe, see session.py), the
    same gated promotion as `POST /v1/models/{name}/promote`, with the same scope."""
    if not who.can("promote"):
        raise Forbidden(
            f"{who.name!r} has the {who.scope} scope; promoting needs promote",
            hint="log in with a token that has the promote scope",
        )
    move, report = aliases.promote(who.ws, name, body.version, to=body.to)
    return JSON({"move": move.to_dict(), "check": report.to_dict()})
