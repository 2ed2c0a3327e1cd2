"""HTTP errors: the one place a MonoloopError (or anything else) becomes a response.

Every error body is `{"error": <class name>, "message": ..., "hint": ...}`, the same JSON
the CLI prints with --json; the remote backend turns it back into the same class.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from monoloop.errors import MonoloopError

log = logging.getLogger("monoloop.server")


class JSON(Response):
    """JSON through orjson: fast for long metric histories; NaN and infinities become null
    (the domain objects already spell the ones that matter as text)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def error_response(error: MonoloopError) -> JSON:
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return JSON(error.to_dict(), status_code=error.http_status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(MonoloopError, _monoloop)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _bug)


async def _monoloop(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MonoloopError)
    return error_response(exc)


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
    body = {
        "error": "InvalidInput",
        "message": "the request is not valid: " + "; ".join(problems),
        "hint": "see the API schema at /docs",
    }
    return JSON(body, status_code=422)


_NAMES = {404: "NotFound", 405: "MethodNotAllowed"}


async def _http(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = {
        "error": _NAMES.get(exc.status_code, "HTTPError"),
        "message": str(exc.detail),
        "hint": "see the API at /docs" if exc.status_code in _NAMES else None,
    }
    return JSON(body, status_code=exc.status_code, headers=exc.headers)


async def _bug(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server's log; the client learns only that it was a bug.
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {
        "error": "InternalError",
        "message": f"internal error: {type(exc).__name__}",
        "hint": "this is a bug in monoloop; the server log has the traceback",
    }
    return JSON(body, status_code=500)
