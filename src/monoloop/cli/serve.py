"""`monoloop serve [DEPLOYMENT...]`: serve deployments over HTTP until stopped.

One process (uvicorn, uvloop, httptools); to use more cores or machines, run several
behind a load balancer: each follows the registry on its own and they need no coordination.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from monoloop.cli.context import cli

if TYPE_CHECKING:
    from monoloop.serving.service import DeploymentView
    from monoloop.serving.state import ServingState

GRACE_S = 30  # how long a shutdown waits for requests in flight


def serve(
    ctx: typer.Context,
    deployments: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[DEPLOYMENT]...", help="Deployments of monoloop.yaml to serve (default: all)."
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535)] = 8000,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            "--poll-interval",
            min=0.05,
            help="Seconds between checks of the aliases (default: serving.poll_interval_s, 2).",
        ),
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the readiness line as JSON on stdout.")
    ] = False,
) -> None:
    """Serve deployments: POST /v1/deployments/NAME/predict, following the registry's aliases.

    Stops on Ctrl-C or SIGTERM after answering the requests in flight and writing every
    logged prediction."""
    import uvicorn

    from monoloop.serving.app import create_serving_app
    from monoloop.serving.service import select_deployments

    c = cli(ctx, json=json)
    with c.workspace() as ws:
        views = select_deployments(ws, deployments)
        listener = _listen(host, port)
        url = f"http://{_url_host(host)}:{listener.getsockname()[1]}"

        def ready(state: ServingState) -> None:
            views = [d.view() for d in state.deployments.values()]
            served = "; ".join(_describe(v) for v in views)
            c.output.result(
                {"url": url, "ready": True, "deployments": [v.to_dict() for v in views]},
                lambda con: con.print(f"ready at {url}: {served}", highlight=False),
            )

        app = create_serving_app(
            ws.settings,
            [v.name for v in views],
            workspace=ws,
            poll_interval_s=poll_interval,
            on_ready=ready,
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACE_S,
            lifespan="on",
            ws="none",  # no WebSocket routes: not importing a WebSocket library saves start-up
        )
        names = ", ".join(v.name for v in views)
        c.output.info(f"serving {names} at {url}/v1/deployments/NAME/predict (loading models)")
        with _stop_normally() as stopped:
            uvicorn.Server(config).run(sockets=[listener])
        if stopped:
            c.output.info(f"stopped by {signal.Signals(stopped[0]).name}; predictions written")


@contextlib.contextmanager
def _stop_normally() -> Iterator[list[int]]:
    """uvicorn stops on SIGINT/SIGTERM once the requests in flight are answered and the app
    has shut down (the prediction log written), then raises the signal again for the
    handler it found: this one, so that `serve` ends normally (exit 0)."""
    stopped: list[int] = []

    def note(signum: int, _frame: object) -> None:
        stopped.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _listen(host: str, port: int) -> socket.socket:
    from monoloop.errors import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port, or stop what is using it",
        ) from None
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _describe(view: DeploymentView) -> str:
    roles = []
    for role in view.roles:
        what = f"{role.model}:{role.version}" if role.version is not None else "not loaded"
        share = f" {role.traffic:.0%}" if role.role != "shadow" else ""
        roles.append(f"{role.role}{share} {what}")
    return f"{view.name} ({', '.join(roles)})"
