"""Checks on every request that run before routing and before any body is read.

- A write (POST, PUT, PATCH, DELETE with a body) must be `application/json`; only an
  object upload (`PUT /v1/objects/{id}`) is `application/octet-stream` instead. A browser
  can send a form (urlencoded, multipart) or text/plain to any origin without asking, which
  is how a web page could drive a server on localhost (the hole MLflow had); JSON and
  octet-stream need a CORS preflight this server never grants. Anything else gets 415.
- Without auth (loopback only), the Host header must name loopback too, so a web page on a
  domain rebound to 127.0.0.1 (DNS rebinding) cannot reach the server as its own origin.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from monoloop.errors import Forbidden, UnsupportedMediaType
from monoloop.server.errors import error_response
from monoloop.server.settings import is_loopback

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_TYPE = "application/json"
BYTES_TYPE = "application/octet-stream"
UPLOADS = "/v1/objects/"


class Guards:
    def __init__(self, app: ASGIApp, *, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope["method"], scope["path"], headers)
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(
        self, method: str, path: str, headers: dict[str, str]
    ) -> Forbidden | UnsupportedMediaType | None:
        if self.loopback_only and not is_loopback(_hostname(headers.get("host", ""))):
            return Forbidden(
                "this server runs without auth and answers only requests addressed to "
                "localhost or a loopback address",
                hint="use http://127.0.0.1:PORT, or run the server with API tokens",
            )
        if method not in WRITES:
            return None
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if method == "DELETE" and not has_body and not content_type:
            return None
        wanted = BYTES_TYPE if method == "PUT" and path.startswith(UPLOADS) else JSON_TYPE
        if content_type == wanted:
            return None
        return UnsupportedMediaType(
            f"{method} {path} takes {wanted}, not {content_type or 'a body without a type'}",
            hint=f"send Content-Type: {wanted}",
        )


def _hostname(host: str) -> str:
    """The Host header without its port: `[::1]:8700` -> `[::1]`, `a:80` -> `a`."""
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
