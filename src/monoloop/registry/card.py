"""The model card: Markdown built from what the registry knows plus the user's own text."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from monoloop.registry.model import ModelRef, ModelVersion
from monoloop.tracking.model import iso

if TYPE_CHECKING:
    from monoloop.workspace import Workspace

# Sections people are asked for first; any other field the user gives follows them.
KNOWN_FIELDS = (
    "summary",
    "intended_use",
    "owner",
    "limitations",
    "ethical_considerations",
    "training_data",
)


def render_card(
    mv: ModelVersion, *, profile: dict[str, Any] | None = None, check: dict[str, Any] | None = None
) -> str:
    lines = [f"# Model card: {mv.model} version {mv.version}", ""]
    if mv.trusted:
        lines += [
            f"> **Warning:** this version is a {mv.format} file that runs code when loaded; "
            f"it was marked trusted by {mv.trusted_by}.",
            "",
        ]
    facts = [
        ("Format", f"{mv.format}" + (f" ({mv.flavor})" if mv.flavor else "")),
        ("Task", mv.task or "unknown"),
        ("Target", mv.target or "-"),
        ("Registered", f"{iso(mv.created)} by {mv.actor}"),
        ("Training run", mv.run_id or "-"),
        ("Git commit", mv.git_commit or "-"),
        ("Size", f"{mv.size:,} bytes"),
        ("Object", f"`{mv.object_id}`"),
        ("Aliases", ", ".join(mv.aliases) or "-"),
    ]
    if mv.format == "skops":
        from monoloop.registry.companion import describe

        found = f" (object `{mv.companion_id}`)" if mv.companion_id else ""
        facts.append(("ONNX companion", describe(mv.companion) + found))
    lines += ["| | |", "|---|---|", *[f"| {k} | {_cell(v)} |" for k, v in facts], ""]
    fields = dict(mv.card_fields)
    for key in [*KNOWN_FIELDS, *sorted(k for k in fields if k not in KNOWN_FIELDS)]:
        if key in fields:
            lines += [f"## {key.replace('_', ' ').capitalize()}", "", fields[key].strip(), ""]
    if mv.inputs:
        lines += ["## Training data", "", "| path | content id |", "|---|---|"]
        lines += [f"| {_cell(p)} | `{i}` |" for p, i in sorted(mv.inputs.items())]
        lines.append("")
    if mv.metrics:
        lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {v:.6g} |" for k, v in sorted(mv.metrics.items())]
        lines.append("")
    if mv.signature:
        lines += ["## Signature", "", "| input | type |", "|---|---|"]
        lines += [f"| {_cell(c.name)} | {c.type} |" for c in mv.signature.inputs]
        out = f"Output: {mv.signature.output}"
        if mv.signature.classes:
            out += " (classes: " + ", ".join(str(c) for c in mv.signature.classes) + ")"
        lines += ["", out, ""]
    if mv.importance:
        lines += [
            "## Feature importance (permutation, held-out data)",
            "",
            "| feature | importance | std |",
            "|---|---|---|",
        ]
        lines += [
            f"| {_cell(r['feature'])} | {r['importance']:.4f} | {r['std']:.4f} |"
            for r in mv.importance[:15]
        ]
        lines.append("")
    if profile is not None:
        rows = profile.get("rows")
        columns = profile.get("columns", {})
        lines += [
            "## Reference profile",
            "",
            f"{rows:,} training rows, {len(columns)} columns profiled "
            f"(object `{mv.profile_id}`); monitoring compares live traffic against it.",
            "",
        ]
    if check is not None:
        verdict = "passed" if check["passed"] else "FAILED"
        lines += [f"## Latest gate check: {verdict}", "", "| gate | result | detail |"]
        lines.append("|---|---|---|")
        for r in check["results"]:
            lines.append(f"| {_cell(r['gate'])} | {r['status']} | {_cell(r['detail'])} |")
        lines.append("")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def current_card(ws: Workspace, ref: str | ModelRef) -> str:
    """The card as of now: the registration-time facts, today's aliases, the latest check."""
    from monoloop.registry.gates import latest_check
    from monoloop.registry.versions import get_version

    mv = get_version(ws, ref)
    profile = json.loads(ws.objects.get(mv.profile_id)) if mv.profile_id else None
    return render_card(mv, profile=profile, check=latest_check(ws, mv.model, mv.version))
