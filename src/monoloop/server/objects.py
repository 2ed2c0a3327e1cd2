"""/v1/objects: content-addressed bytes (artifacts, model files), verified both ways.

Uploads are the one write that is not JSON: `PUT /v1/objects/{id}` with
`application/octet-stream` (a type no web page can send across origins without a CORS
preflight). The bytes are hashed as they arrive and refused unless they are the id.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from monoloop.backend.wire import ObjectIds
from monoloop.errors import InvalidInput, TooLarge
from monoloop.hashing import Hasher, parse_id
from monoloop.server.deps import ReadWs, State, WriteWs
from monoloop.server.errors import JSON
from monoloop.server.schemas import MissingOut, ObjectOut

router = APIRouter(prefix="/objects", tags=["objects"])

BYTES = "application/octet-stream"
BINARY = {"type": "string", "format": "binary"}
CHUNK = 1 << 20
SPOOL_BYTES = 8 << 20


@router.post("/missing", response_model=MissingOut)
def missing(body: ObjectIds, ws: ReadWs) -> Response:
    """Which of these ids the store lacks: what an uploader still has to send."""
    ids = [parse_id(i) for i in body.ids]
    return JSON({"missing": [i for i in ids if not ws.objects.exists(i)]})


@router.get(
    "/{object_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the bytes"}},
)
def get_object(object_id: str, ws: ReadWs) -> Response:
    """The object's bytes, checked against its id as they are read (a corrupt object ends
    the response early; clients check the id too)."""
    parse_id(object_id)
    size = ws.objects.size(object_id)
    return StreamingResponse(
        _chunks(ws.objects.open(object_id)),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


def _chunks(reader: BinaryIO) -> Iterator[bytes]:
    with reader:
        while chunk := reader.read(CHUNK):
            yield chunk


@router.put(
    "/{object_id}",
    status_code=201,
    response_model=ObjectOut,
    openapi_extra={"requestBody": {"required": True, "content": {BYTES: {"schema": BINARY}}}},
)
async def put_object(object_id: str, request: Request, ws: WriteWs, state: State) -> Response:
    """Store the request body as the object `object_id`; refused unless it hashes to it."""
    parse_id(object_id)
    limit = state.settings.max_object_bytes
    if int(request.headers.get("content-length", "0")) > limit:
        raise _too_large(limit)
    hasher = Hasher()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in request.stream():
            hasher.update(chunk)
            if hasher.size > limit:
                raise _too_large(limit)
            spool.write(chunk)
        if hasher.hexid() != object_id:
            raise InvalidInput(
                f"the uploaded bytes are {hasher.hexid()}, not {object_id}",
                hint="upload an object to the URL of its own content id",
            )
        spool.seek(0)
        stored = await run_in_threadpool(ws.objects.put_stream, spool)
    assert stored == object_id
    return JSON({"id": stored, "size": hasher.size}, status_code=201)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the object is larger than this server accepts ({limit:,} bytes)",
        hint="raise ServerSettings.max_object_bytes, or store large data in the shared "
        "object store (MONOLOOP_STORE_URL) rather than through the API",
    )
