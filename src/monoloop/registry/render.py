"""Terminal renderings of registry records (the CLI prints these; `--json` prints to_dict)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monoloop.registry.lineage import Lineage
from monoloop.registry.model import AliasMove, ModelSummary, ModelVersion
from monoloop.tracking.model import iso

if TYPE_CHECKING:
    from rich.console import Console


def print_models(console: Console, found: list[ModelSummary]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not found:
        console.print("no models registered yet (monoloop models register, or register_model)")
        return
    table = Table()
    for col in ("model", "latest", "aliases", "description"):
        table.add_column(col)
    for m in found:
        aliases = ", ".join(f"{a}->v{v}" for a, v in m.aliases.items())
        table.add_row(Text(m.name), f"v{m.latest}", Text(aliases), Text(m.description or ""))
    console.print(table)


def print_versions(console: Console, found: list[ModelVersion]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for col in ("version", "created", "format", "aliases", "run", "metrics"):
        table.add_column(col)
    for mv in found:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(mv.metrics.items())[:4])
        fmt = mv.format + (" [trusted]" if mv.trusted else "")
        table.add_row(
            f"v{mv.version}",
            iso(mv.created) or "",
            fmt,
            Text(", ".join(mv.aliases)),
            (mv.run_id or "")[:12],
            Text(metrics),
        )
    console.print(table)


def print_version(console: Console, mv: ModelVersion) -> None:
    from rich.text import Text

    console.print(Text(f"{mv.ref}", style="bold"))
    if mv.trusted:
        console.print(
            Text(
                f"  TRUSTED {mv.format}: loading runs code; marked trusted by {mv.trusted_by}",
                style="bold yellow",
            )
        )
    facts = [
        ("aliases", ", ".join(mv.aliases) or "-"),
        ("format", mv.format + (f" ({mv.flavor})" if mv.flavor else "")),
        ("task", f"{mv.task or '-'} (target: {mv.target or '-'})"),
        ("created", f"{iso(mv.created)} by {mv.actor}"),
        ("run", mv.run_id or "-"),
        ("commit", mv.git_commit or "-"),
        ("object", f"{mv.object_id} ({mv.size:,} bytes)"),
        ("profile", mv.profile_id or "-"),
        ("card", mv.card_id),
    ]
    if mv.format == "skops":
        from monoloop.registry.companion import describe

        found = f" {mv.companion_id}" if mv.companion_id else ""
        facts.append(("onnx", describe(mv.companion) + found))
    for key, value in facts:
        console.print(Text(f"  {key:<9}{value}"))
    if mv.metrics:
        console.print(
            Text("  metrics  ")
            + Text(", ".join(f"{k}={v:.4g}" for k, v in sorted(mv.metrics.items())))
        )
    if mv.signature:
        cols = ", ".join(f"{c.name}:{c.type}" for c in mv.signature.inputs)
        console.print(Text(f"  inputs   {cols}"))
        console.print(Text(f"  output   {mv.signature.output}"))
    for path, oid in sorted(mv.inputs.items()):
        console.print(Text(f"  data     {path} {oid}"))
    if mv.importance:
        top = ", ".join(f"{r['feature']} {r['importance']:.3f}" for r in mv.importance[:5])
        console.print(Text(f"  top features {top}"))


def print_history(console: Console, moves: list[AliasMove]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for col in ("time", "alias", "action", "version", "previous", "actor", "reason"):
        table.add_column(col)
    for m in moves:
        action = m.action + (" (forced)" if m.forced else "")
        table.add_row(
            iso(m.time) or "",
            Text(m.alias),
            action,
            "-" if m.version is None else f"v{m.version}",
            "-" if m.previous is None else f"v{m.previous}",
            Text(m.actor),
            Text(m.reason or ""),
        )
    console.print(table)


def print_lineage(console: Console, lin: Lineage) -> None:
    from rich.text import Text
    from rich.tree import Tree

    mv = lin.version
    tree = Tree(Text(f"{mv.ref}", style="bold"))
    data = tree.add("data")
    for path, oid in lin.data.items():
        data.add(Text(f"{path}  {oid}"))
    runs = tree.add("runs")
    for r in lin.runs:
        label = "/".join(x for x in (r.pipeline, r.stage) if x) or r.name or "run"
        runs.add(Text(f"{label}  {r.id[:12]}  {r.status}  commit {(r.git_commit or '-')[:12]}"))
    tree.add(Text(f"commit  {lin.commit or '-'}"))
    tree.add(Text(f"aliases  {', '.join(lin.aliases) or '-'}"))
    tree.add(Text(f"deployments  {', '.join(lin.deployments) or '-'}"))
    events = tree.add(f"ledger events ({len(lin.events)})")
    for e in lin.events:
        node = events.add(Text(f"#{e.seq} {e.time} {e.kind} {e.subject} by {e.actor}"))
        why = e.payload.get("reason")
        if isinstance(why, str) and why:
            node.add(Text(why if len(why) <= 400 else why[:399] + "…", style="dim"))
    # Wrapped, not cropped: a reason is worth reading whole.
    console.print(tree, soft_wrap=False)
