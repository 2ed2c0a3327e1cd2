"""The HTTP edge of serving: media type and size checks before a body is read, request
ids, orjson responses, and the predict route's OpenAPI description."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response
from starlette.types import Receive

from monoloop.errors import MonoloopError, TooLarge, UserError

JSON = "application/json"
JSON_HEADERS = [(b"content-type", b"application/json")]
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


class ClientGone(UserError):
    """The client disconnected before its request was read (nobody sees the answer)."""


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


class Headers:
    """The few request headers the predict path reads, from the raw ASGI list."""

    __slots__ = ("content_length", "content_type", "request_id", "request_key")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.content_type: str | None = None
        self.content_length: str | None = None
        self.request_id: str | None = None
        self.request_key: str | None = None
        for name, value in raw:  # ASGI servers give the names in lower case
            if name == b"content-type":
                self.content_type = value.decode("latin-1")
            elif name == b"content-length":
                self.content_length = value.decode("latin-1")
            elif name == b"x-request-id":
                self.request_id = value.decode("latin-1")
            elif name == b"x-request-key":
                self.request_key = value.decode("latin-1")


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """The whole body from the ASGI messages, refused beyond `limit` bytes."""
    length = headers.content_length
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the body is larger than {limit} bytes",
        hint="send fewer rows per request, or raise serving.max_body_bytes in monoloop.yaml",
    )


class RequestIds:
    """The caller's X-Request-Id when it is a sane token; else a new one: a random prefix
    per app and a counter (unique, and cheaper than a uuid4 per request)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self, given: str | None) -> str:
        if given and len(given) <= 100 and _ID_CHARS.issuperset(given):
            return given
        return f"{self._prefix}{next(self._counter):08x}"


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
