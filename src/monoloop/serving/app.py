"""The model-serving HTTP app: `create_serving_app(settings, ["churn-api"])`.

    POST /v1/deployments/{name}/predict   records or columns in, predictions out
    GET  /v1/deployments                  what this process serves
    GET  /v1/deployments/{name}           roles, versions, traffic, load state
    GET  /v1/deployments/{name}/schema    JSON Schema of the request and the response
    GET  /healthz   GET /readyz   GET /metrics

Everything is built when the app is created and started, from the settings: nothing at
import. The app is lean on purpose (no auth, no UI: that is the API server's); it is meant
to sit behind whatever fronts the service. How a request is answered: state.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from monoloop.errors import MonoloopError
from monoloop.serving.http import JSON_HEADERS, PREDICT_OPENAPI, error_response, json_response
from monoloop.serving.metrics import CONTENT_TYPE
from monoloop.serving.router import PRIMARY
from monoloop.serving.schema import input_schema, output_schema
from monoloop.serving.state import ServingState
from monoloop.workspace import Settings, Workspace

log = logging.getLogger("monoloop.serving")


class ServingApp(FastAPI):
    """FastAPI, with POST /v1/deployments/{name}/predict answered before the middleware
    stack and the router: on the hot path they cost more than the rest of the request
    (measured: about a quarter of the server's CPU at 1-row requests)."""

    serving: ServingState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                name = path[len(_PREFIX) : -len(_SUFFIX)]
                if name and "/" not in name:
                    await self._predict(name, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _predict(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, headers, body = await self.serving.predict(name, scope["headers"], receive)
        except Exception as exc:  # a bug: a JSON 500, as the error middleware would send
            log.exception("predict failed")
            error = MonoloopError(f"internal error: {type(exc).__name__}: {exc}")
            status, headers, body = error.http_status, JSON_HEADERS, orjson.dumps(error.to_dict())
            if name in self.serving.deployments:
                self.serving.record_failure(name, "", status, 0.0)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_PREFIX, _SUFFIX = "/v1/deployments/", "/predict"


def create_serving_app(
    settings: Settings,
    deployments: Sequence[str] | None = None,
    *,
    workspace: Workspace | None = None,
    poll_interval_s: float | None = None,
    on_ready: Callable[[ServingState], None] | None = None,
) -> ServingApp:
    """The serving app for these deployments (all declared ones when none are named).

    `workspace`: an open workspace to use (its owner closes it); by default the app opens
    its own from `settings` when it starts and closes it when it stops."""
    state = ServingState(
        settings,
        deployments,
        workspace=workspace,
        poll_interval_s=poll_interval_s,
        on_ready=on_ready,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            await asyncio.to_thread(state.stop)

    app = ServingApp(
        title="monoloop serving",
        summary="Registered models over HTTP, following the registry's aliases.",
        lifespan=lifespan,
        default_response_class=Response,
    )
    app.serving = state
    app.state.serving = state

    @app.exception_handler(MonoloopError)
    async def _monoloop_error(_request: Request, exc: MonoloopError) -> Response:
        return error_response(exc)

    @app.post(
        "/v1/deployments/{name}/predict",
        openapi_extra=PREDICT_OPENAPI,
        summary="Predict: records or columns in; predictions, probabilities, version out",
    )
    async def predict(name: str, request: Request) -> Response:
        # The OpenAPI contract, and the route when mounted under a prefix; otherwise
        # ServingApp answers these before routing.
        status, headers, body = await state.predict(name, request.headers.raw, request.receive)
        return Response(body, status, {k.decode(): v.decode() for k, v in headers})

    @app.get("/v1/deployments", summary="What this process serves")
    async def list_deployments() -> Response:
        return json_response([d.view().to_dict() for d in state.deployments.values()])

    @app.get("/v1/deployments/{name}", summary="A deployment's roles, versions and traffic")
    async def show_deployment(name: str) -> Response:
        return json_response(state.deployment(name).view().to_dict())

    @app.get("/v1/deployments/{name}/schema", summary="JSON Schema of request and response")
    async def deployment_schema(name: str) -> Response:
        deployment = state.deployment(name)
        loaded = deployment.slots[PRIMARY].current
        if loaded is None:
            from monoloop.serving.batching import NotLoaded

            raise NotLoaded(f"{name} has no model loaded yet", hint="retry when /readyz is 200")
        signature = loaded.version.signature
        return json_response(
            {
                "deployment": name,
                "model": loaded.version.model,
                "version": loaded.version.version,
                "input": input_schema(signature),
                "output": output_schema(signature, proba=loaded.classes is not None),
            }
        )

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/readyz", summary="200 once every deployment's model is loaded")
    async def readyz() -> Response:
        ready = state.ready
        waiting = {
            f"{s.deployment}/{s.role}": s.error or "loading"
            for s in state.slots
            if s.current is None
        }
        body: dict[str, Any] = {"ready": ready, "waiting": waiting}
        if state.boot_error:
            body["error"] = state.boot_error
        return json_response(body, 200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    return app
