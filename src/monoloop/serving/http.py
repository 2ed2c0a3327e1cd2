"""The HTTP edge of serving: media type and size checks before a body is read, request
ids, orjson responses, and the predict route's OpenAPI description."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import orjson
from fastapi import Request
from fastapi.responses import Response

from monoloop.errors import MonoloopError, UserError

JSON = "application/json"
ID_HEADER = "x-request-id"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


class UnsupportedMediaType(UserError):
    """The request body is not declared as JSON (HTTP 415)."""

    http_status = 415


class BodyTooLarge(UserError):
    """The request body is larger than serving.max_body_bytes (HTTP 413)."""

    http_status = 413


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"the body is larger than {limit} bytes",
        hint="send fewer rows per request, or raise serving.max_body_bytes in monoloop.yaml",
    )


def request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it is a sane token; else a new one."""
    if given and len(given) <= 100 and _ID_CHARS.issuperset(given):
        return given
    return uuid.uuid4().hex


def jsonable(values: np.ndarray) -> Any:
    if values.dtype.kind in "biuf":
        return np.ascontiguousarray(values)
    return values.tolist()


def error_response(error: MonoloopError) -> Response:
    return Response(orjson.dumps(error.to_dict()), status_code=error.http_status, media_type=JSON)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


PREDICT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}, "title": "records"},
                        {
                            "type": "object",
                            "additionalProperties": {"type": "array"},
                            "title": "columns",
                        },
                    ]
                }
            }
        },
    },
    "parameters": [
        {
            "name": "X-Request-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "who is calling (a user or session id): the canary split is "
            "sticky per key; without it each request is split on its own",
        },
        {
            "name": "X-Request-Id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "your id for this request (letters, digits, ._:-; up to 100); "
            "default: a new one. It is returned and logged with the predictions",
        },
    ],
    "responses": {
        "415": {"description": "the body is not declared as JSON"},
        "422": {"description": "a column is missing or of the wrong type (named)"},
        "503": {"description": "the model is not loaded yet"},
    },
}
