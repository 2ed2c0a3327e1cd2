"""`monoloop models ...`: the registry from the command line, each command one backend call
(this workspace, or the server named by MONOLOOP_SERVER_URL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

app = typer.Typer(
    help="The model registry: versions, aliases, promotion through gates, cards, lineage.",
    no_args_is_help=True,
)

NAME = typer.Argument(help="The model's name.")
REF = typer.Argument(help="NAME (latest), NAME:VERSION or NAME@ALIAS, e.g. churn@champion.")
VERSION = typer.Argument(help="A version number, e.g. 3.")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from monoloop.errors import InvalidInput

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                f"{what} {item!r} is not KEY=VALUE", hint=f"e.g. {what} owner=ml-team"
            )
        out[key.strip()] = value
    return out


def _frame(cwd: Path, path: Path | None) -> pd.DataFrame | None:
    if path is None:
        return None
    from monoloop.validation.readers import read_path

    return read_path(cwd / path)


@app.command("register")
def register(
    ctx: typer.Context,
    name: Annotated[str, NAME],
    artifact: Annotated[
        Path, typer.Option("--artifact", "-a", help="The model file: .skops, .onnx, or a pickle.")
    ],
    run: Annotated[
        str | None, typer.Option("--run", help="The run that trained it (metrics, data, commit).")
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="Feature rows (CSV/Parquet) to infer the signature from."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Training features to profile (default: --sample)."),
    ] = None,
    holdout: Annotated[
        Path | None,
        typer.Option("--holdout", help="Held-out rows with the target: metrics, importance."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="The target column of --holdout.")
    ] = None,
    metric: Annotated[
        list[str], typer.Option("--metric", "-m", help="Extra metric KEY=VALUE (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    card_field: Annotated[
        list[str],
        typer.Option("--card-field", help="Model card field KEY=TEXT, e.g. owner=ml-team."),
    ] = [],  # noqa: B006
    description: Annotated[str | None, typer.Option("--description")] = None,
    trusted: Annotated[
        bool,
        typer.Option("--trusted", help="Allow a pickle: you vouch it runs no harmful code."),
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Register a saved model file as the next version of NAME."""
    from monoloop.errors import InvalidInput
    from monoloop.registry import service

    c = cli(ctx, json=json)
    metrics: dict[str, float] = {}
    for key, value in _pairs(metric, "--metric").items():
        try:
            metrics[key] = float(value)
        except ValueError:
            raise InvalidInput(f"--metric {key}={value}: not a number") from None
    with c.backend() as backend:
        mv = service.register_file(
            backend,
            name,
            c.path(artifact),
            sample_input=_frame(c.cwd, sample),
            run=run,
            reference=_frame(c.cwd, reference),
            holdout=_frame(c.cwd, holdout),
            target=target,
            metrics=metrics,
            card=_pairs(card_field, "--card-field"),
            trusted=trusted,
            description=description,
        )
    c.output.result(mv.to_dict(), lambda console: console.print(f"registered {mv.ref}"))


@app.command("list")
def list_models(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="List this model's versions.")] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Models with their latest version and aliases; or one model's versions."""
    from monoloop.registry import render

    c = cli(ctx, json=json)
    with c.backend() as backend:
        if name is None:
            found = backend.list_models()
            c.output.result(
                [m.to_dict() for m in found], lambda con: render.print_models(con, found)
            )
            return
        vs = backend.list_versions(name)
    c.output.result([v.to_dict() for v in vs], lambda con: render.print_versions(con, vs))


@app.command("show")
def show(
    ctx: typer.Context, ref: Annotated[str, REF], json: Annotated[bool, JSON_OPTION] = False
) -> None:
    """Everything about one version: format, trust, run, data, metrics, signature."""
    from monoloop.registry import render

    c = cli(ctx, json=json)
    with c.backend() as backend:
        mv = backend.get_version(ref)
    c.output.result(mv.to_dict(), lambda con: render.print_version(con, mv))


@app.command("card")
def card(
    ctx: typer.Context,
    ref: Annotated[str, REF],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the Markdown to this file.")
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """The model card (Markdown), with the current aliases and the latest gate check."""
    from monoloop.fsutil import atomic_write_text

    c = cli(ctx, json=json)
    with c.backend() as backend:
        text = backend.card(ref)
    if output is not None:
        path = c.path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        c.output.info(f"wrote {path}")
    c.output.result({"card": text}, None if output else lambda con: con.out(text, highlight=False))


@app.command("lineage")
def lineage(
    ctx: typer.Context, ref: Annotated[str, REF], json: Annotated[bool, JSON_OPTION] = False
) -> None:
    """Data -> runs -> commit -> version -> aliases -> deployments, with the ledger events."""
    from monoloop.registry import render

    c = cli(ctx, json=json)
    with c.backend() as backend:
        found = backend.lineage(ref)
    c.output.result(found.to_dict(), lambda con: render.print_lineage(con, found))


@app.command("alias")
def alias(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="NAME@ALIAS, e.g. churn@challenger.")],
    version: Annotated[int, VERSION],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Point an alias at a version, without gates (use `promote` to run them)."""
    c = cli(ctx, json=json)
    ref = _alias_ref(target)
    with c.backend() as backend:
        move = backend.set_alias(ref.name, ref.alias, version)
    c.output.result(move.to_dict(), lambda con: con.print(_moved(move)))


def _alias_ref(text: str) -> Any:
    from monoloop.errors import InvalidInput
    from monoloop.registry.model import ModelRef

    ref = ModelRef.parse(text)
    if ref.alias is None:
        raise InvalidInput(f"{text!r} names no alias", hint="write NAME@ALIAS, e.g. churn@champion")
    return ref


def _moved(move: Any) -> str:
    before = f"v{move.previous}" if move.previous is not None else "nothing"
    after = f"v{move.version}" if move.version is not None else "nothing"
    forced = " (forced)" if move.forced else ""
    return f"{move.model}@{move.alias}: {before} -> {after}{forced}"


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: Annotated[str, NAME],
    version: Annotated[str, typer.Argument(help="A version number, or 'latest'.")],
    to: Annotated[str, typer.Option("--to", help="The alias to move, e.g. champion.")],
    force: Annotated[
        bool, typer.Option("--force", help="Move it past failed gates (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; kept in the ledger.")] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Run the gates against the alias's holder; move the alias only if they pass."""
    from monoloop.registry import reports
    from monoloop.registry.model import parse_version

    c = cli(ctx, json=json)
    number = None if version == "latest" else parse_version(version)
    with c.backend() as backend:
        move, report = backend.promote(name, number, to=to, force=force, reason=reason)

    def show(con: Any) -> None:
        reports.render_table(report, con)
        con.print(_moved(move))

    c.output.result({"move": move.to_dict(), "check": report.to_dict()}, show)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="NAME@ALIAS, e.g. churn@champion.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why; kept in the ledger.")] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Move an alias back to the version that held it before."""
    c = cli(ctx, json=json)
    ref = _alias_ref(target)
    with c.backend() as backend:
        move = backend.rollback(ref.name, ref.alias, reason=reason)
    c.output.result(move.to_dict(), lambda con: con.print(_moved(move)))


@app.command("history")
def history(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="NAME, or NAME@ALIAS for one alias.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Every move of a model's aliases: who, when, why, forced or not."""
    from monoloop.registry import render
    from monoloop.registry.model import ModelRef

    c = cli(ctx, json=json)
    ref = ModelRef.parse(target)
    with c.backend() as backend:
        moves = backend.history(ref.name, ref.alias)
    c.output.result([m.to_dict() for m in moves], lambda con: render.print_history(con, moves))


@app.command("trust")
def trust(
    ctx: typer.Context,
    name: Annotated[str, NAME],
    version: Annotated[int, VERSION],
    reason: Annotated[str, typer.Option("--reason", help="Why you vouch for it.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Mark a pickle-format version trusted so it may be loaded (needs the promote permission)."""
    c = cli(ctx, json=json)
    with c.backend() as backend:
        backend.trust(name, version, reason=reason)
    c.output.result(
        {"model": name, "version": version, "trusted": True},
        lambda con: con.print(f"{name}:{version} marked trusted"),
    )


@app.command("export")
def export(
    ctx: typer.Context,
    ref: Annotated[str, REF],
    output: Annotated[Path, typer.Option("-o", "--output", help="Write the model here.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="onnx", help="The format to export to.")
    ] = "onnx",
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Export a version (checked against the model) for other runtimes; `runtime: onnx`
    deployments serve it when the version has no ONNX companion."""
    from monoloop.fsutil import atomic_write_bytes
    from monoloop.registry.export import export_version

    c = cli(ctx, json=json)
    path = c.path(output)
    with c.workspace() as ws:
        found = export_version(ws, ref, fmt=fmt)
        data = ws.objects.get(found.object_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    c.output.result(
        {**found.to_dict(), "path": str(path)},
        lambda con: con.print(f"exported {found.version.ref} to {path} ({found.size} bytes)"),
    )


@app.command("sync-tags")
def sync_tags(ctx: typer.Context, json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Repair the Git tags model/NAME/vN and model/NAME@ALIAS from the registry (local:
    run it where the workspace's repository and DB are)."""
    from monoloop.registry.tags import sync_tags as sync

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        result = sync(ws)

    def show(con: Any) -> None:
        for kind in ("created", "moved", "deleted", "skipped"):
            for tag in getattr(result, kind):
                con.print(f"{kind:<8}{tag}")
        if not any(result.to_dict().values()):
            con.print("tags are up to date")

    c.output.result(result.to_dict(), show)


@app.command("explain")
def explain(
    ctx: typer.Context,
    name: Annotated[str, NAME],
    top: Annotated[
        int, typer.Option("--top", "-k", help="How many leading features to compare.")
    ] = 3,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", "-d", help="Also measure importance on its labelled window."),
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Permutation importance of every version side by side; flags top-k changes."""
    from monoloop.monitoring.explain import explain as explain_model

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        found = explain_model(ws, name, top=top, deployment=deployment)
    c.output.result(found.to_dict(), lambda _con: c.output.lines(found.lines()))
