"""`monoloop tokens ...`: API tokens for the server (here, or through the server with an
admin token when MONOLOOP_SERVER_URL is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli

if TYPE_CHECKING:
    from rich.console import Console

    from monoloop.auth.service import Token

app = typer.Typer(
    help="API tokens: who may use the server, with which scope.", no_args_is_help=True
)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who uses it; the ledger names them so.")],
    scope: Annotated[
        str,
        typer.Option("--scope", help="read, write, promote or admin; each includes the last."),
    ] = "read",
    project: Annotated[
        str | None, typer.Option("--project", help="Only valid on the server of this project.")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 30d, 12h, 2w (default: never).")
    ] = None,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Create a token and print it once: only its hash is kept."""
    c = cli(ctx, json=json)
    with c.backend() as backend:
        new = backend.create_token(name, scope=scope, project=project, expires=expires)

    def show(console: Console) -> None:
        console.print(new.secret, highlight=False, markup=False)

    c.output.info(
        f"created token {new.token.name!r} ({new.token.scope}); copy it now, it is not shown again"
    )
    c.output.result(new.to_dict(), show)


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="Include expired and revoked tokens.")
    ] = False,
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Tokens with their scope, expiry and last use; never their values."""
    c = cli(ctx, json=json)
    with c.backend() as backend:
        found = backend.list_tokens(everything=everything)
    c.output.result([t.to_dict() for t in found], lambda console: _table(console, found))


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="The token's id or its (active) name.")],
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Revoke a token: it fails from its next request on."""
    c = cli(ctx, json=json)
    with c.backend() as backend:
        gone = backend.revoke_token(token)
    c.output.result(
        gone.to_dict(), lambda console: console.print(f"revoked {gone.name} ({gone.id})")
    )


def _table(console: Console, found: list[Token]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not found:
        console.print("no tokens (monoloop tokens create NAME --scope SCOPE)")
        return
    table = Table()
    for col in ("id", "name", "scope", "project", "status", "expires", "last used"):
        table.add_column(col)
    for t in found:
        d = t.to_dict()
        table.add_row(
            t.id,
            Text(t.name),
            t.scope,
            Text(t.project or "-"),
            d["status"],
            d["expires"] or "never",
            d["last_used"] or "-",
        )
    console.print(table)
