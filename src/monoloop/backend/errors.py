"""A server's error response back into the MonoloopError it stands for: the body names the
class, so the CLI prints the same message and exits with the same code as it would here."""

from __future__ import annotations

import importlib

import httpx

from monoloop.errors import (
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidInput,
    MonoloopError,
    NotFound,
    Unauthorized,
    UserError,
)

# Modules whose errors a server may send back; imported only to name an unknown class.
_ERROR_HOMES = (
    "monoloop.registry.gates",
    "monoloop.registry.formats",
    "monoloop.registry.signature",
    "monoloop.registry.rules",
    "monoloop.monitoring.profile",
)
_BY_STATUS: dict[int, type[MonoloopError]] = {
    400: UserError,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
    415: InvalidInput,
    422: InvalidInput,
    503: ConnectionFailed,
}


def error_from(response: httpx.Response) -> MonoloopError:
    """The MonoloopError a server's error response stands for."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        cls = _BY_STATUS.get(status, MonoloopError)
        return cls(f"the monoloop server answered {status} {response.reason_phrase}")
    message, hint = body["message"], body.get("hint")
    if status == 401:
        hint = "set MONOLOOP_TOKEN to a valid token (monoloop tokens create, on the server)"
    cls = _error_class(str(body.get("error"))) or _BY_STATUS.get(status, MonoloopError)
    if status >= 500 and cls is MonoloopError:
        message = f"{message} (on the server {response.url.host})"
    try:
        return cls(message, hint=hint)
    except TypeError:  # a leaf with its own constructor
        return _BY_STATUS.get(status, MonoloopError)(message, hint=hint)


def _error_class(name: str) -> type[MonoloopError] | None:
    found = _subclass(MonoloopError, name)
    if found is None:
        for module in _ERROR_HOMES:
            importlib.import_module(module)
        found = _subclass(MonoloopError, name)
    return found


def _subclass(cls: type[MonoloopError], name: str) -> type[MonoloopError] | None:
    if cls.__name__ == name:
        return cls
    for sub in cls.__subclasses__():
        found = _subclass(sub, name)
        if found is not None:
            return found
    return None
