"""Every error monoloop raises on purpose, in one tree.

    MonoloopError                  message + hint; exit code; HTTP status
    ├── UserError                  exit 2: the input was wrong, the hint says how to fix it
    │   ├── ConfigError            monoloop.yaml or an environment override is invalid
    │   ├── WorkspaceError         not in a workspace, not in a Git repository
    │   ├── InvalidInput           a malformed id, name or argument          (HTTP 422)
    │   ├── PathOutsideRoot        a path escapes the root it must stay in   (HTTP 400)
    │   ├── NotFound               an object, event or record does not exist (HTTP 404)
    │   │   └── ObjectNotFound
    │   ├── Conflict               the state changed under us / already exists (HTTP 409)
    │   ├── Unauthorized           no API token, or a bad, expired or revoked one (HTTP 401)
    │   ├── Forbidden              the actor lacks the permission this needs  (HTTP 403)
    │   └── ConnectionFailed       a database or store URL cannot be reached  (HTTP 503)
    ├── IntegrityError             exit 1: stored bytes or records do not match their hashes
    │   ├── CorruptObject          an object's bytes do not match its id
    │   └── LedgerBroken           the audit chain does not verify
    └── (exit 1, HTTP 422) ValidationFailed   data broke an error-severity contract rule

Capabilities add leaves next to their code, each under one of these branches:
data.pointer.PointerError (UserError), data.transfer.TransferError (UserError),
validation: ContractError (UserError, HTTP 422), DataReadError (InvalidInput),
PiiKeyMissing (ConfigError), ValidationFailed (MonoloopError, exit 1);
pipelines: PipelineError (ConfigError), ExecutorUnavailable (UserError),
StageFailed (MonoloopError, exit 1);
monitoring: ProfileError (UserError), WindowError (InvalidInput);
registry: RuleError and SignatureMismatch (InvalidInput), UnsafeModel (InvalidInput,
HTTP 403), GatesFailed (MonoloopError, exit 1, HTTP 409);
HTTP, for the server and serving alike: UnsupportedMediaType (UserError, HTTP 415),
TooLarge (UserError, HTTP 413);
serving: ColumnMismatch (SignatureMismatch, HTTP 422, names the column), MalformedBody
(UserError),
NotLoaded (MonoloopError, HTTP 503), PredictionFailed (MonoloopError, HTTP 500).

The CLI and the HTTP server translate these in exactly one place each; nothing
else catches them. Anything that is not a MonoloopError is a bug (exit 1, HTTP 500).
"""

from __future__ import annotations

from typing import Any, ClassVar


class MonoloopError(Exception):
    """Base of every deliberate monoloop error: a message for humans and a hint."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, Any]:
        """The JSON body for `--json` output and HTTP error responses."""
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class UserError(MonoloopError):
    """The input was wrong; the hint says how to fix it."""

    exit_code = 2
    http_status = 400


class ConfigError(UserError):
    """monoloop.yaml or an environment override is invalid."""


class WorkspaceError(UserError):
    """Not inside a monoloop workspace or a Git repository."""


class InvalidInput(UserError):
    """A malformed id, name or argument."""

    http_status = 422


class PathOutsideRoot(UserError):
    """A path given by a user or a request escapes the root it must stay in."""


class NotFound(UserError):
    """The thing asked for does not exist."""

    http_status = 404


class ObjectNotFound(NotFound):
    """No object with this content id in the store."""


class Conflict(UserError):
    """The request conflicts with the current state."""

    http_status = 409


class Unauthorized(UserError):
    """The request carries no API token, or one that is malformed, expired or revoked."""

    http_status = 401


class Forbidden(UserError):
    """The actor lacks the permission this action needs."""

    http_status = 403


class UnsupportedMediaType(UserError):
    """An HTTP write whose body is not JSON (nor raw bytes where bytes are uploaded)."""

    http_status = 415


class TooLarge(UserError):
    """An HTTP body larger than the server accepts."""

    http_status = 413


class ConnectionFailed(UserError):
    """A database or object store URL cannot be reached."""

    http_status = 503


class IntegrityError(MonoloopError):
    """Stored bytes or records do not match their hashes: something was corrupted or altered."""

    exit_code = 1
    http_status = 500


class CorruptObject(IntegrityError):
    """An object's bytes do not match its content id."""


class LedgerBroken(IntegrityError):
    """The audit chain does not verify."""

    def __init__(self, message: str, *, seq: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.seq = seq

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "seq": self.seq}
