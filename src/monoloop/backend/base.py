"""The one interface the SDK and the CLI use, whether the workspace is here or behind a
server: `LocalBackend` calls the service layer on an open workspace, `HttpBackend` calls
the REST API. The tracking and registry test suites run against both."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monoloop.audit.service import EventFilter
    from monoloop.auth.service import NewToken, Token
    from monoloop.ledger import ChainReport, Event
    from monoloop.registry.gates import CheckReport
    from monoloop.registry.lineage import Lineage
    from monoloop.registry.loading import Predictor
    from monoloop.registry.model import AliasMove, ModelSummary, ModelVersion, VersionDraft
    from monoloop.tracking.model import Artifact, Run
    from monoloop.tracking.writes import Batch


class Backend(Protocol):
    @property
    def actor(self) -> str:
        """Who this process acts as (remote: the server decides, from the token)."""
        ...

    @property
    def root(self) -> Path:
        """Where the caller's code is: runs record its Git state."""
        ...

    def close(self) -> None: ...
    def after_fork(self) -> None:
        """In a forked child: drop connections shared with the parent."""
        ...

    def __enter__(self) -> Backend: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    # Objects
    def put_bytes(self, data: bytes) -> str: ...
    def get_object(self, object_id: str) -> bytes:
        """The object's bytes, checked against the id."""
        ...

    def store_artifact(self, path: Path, *, name: str | None = None) -> Artifact:
        """Store a file or a directory tree; its content id and kind, named `name`."""
        ...

    # Tracking
    def write(self, batch: Batch) -> None:
        """Apply validated tracking writes in one transaction (the SDK writer's flush)."""
        ...

    def get_run(self, run: str) -> Run: ...
    def search_runs(
        self,
        *,
        where: str | None = None,
        order_by: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]: ...
    def metric_history(self, run: str, key: str) -> list[tuple[int, float, float]]: ...

    # Registry
    def insert_version(
        self, name: str, draft: VersionDraft, *, description: str | None = None
    ) -> ModelVersion: ...
    def list_models(self) -> list[ModelSummary]: ...
    def list_versions(self, name: str) -> list[ModelVersion]: ...
    def get_version(self, ref: str) -> ModelVersion: ...
    def load_model(self, ref: str) -> Predictor: ...
    def card(self, ref: str) -> str: ...
    def lineage(self, ref: str) -> Lineage: ...
    def check(self, name: str, version: int | None, *, against: str | None) -> CheckReport: ...
    def set_alias(self, name: str, alias: str, version: int) -> AliasMove: ...
    def promote(
        self,
        name: str,
        version: int | None,
        *,
        to: str,
        force: bool = False,
        reason: str | None = None,
    ) -> tuple[AliasMove, CheckReport]: ...
    def rollback(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove: ...
    def history(self, name: str, alias: str | None = None) -> list[AliasMove]: ...
    def trust(self, name: str, version: int, *, reason: str) -> None: ...

    # Audit
    def events(self, filters: EventFilter) -> list[Event]: ...
    def verify_ledger(self) -> ChainReport: ...

    # Tokens
    def create_token(
        self, name: str, *, scope: str, project: str | None = None, expires: str | None = None
    ) -> NewToken: ...
    def list_tokens(self, *, everything: bool = False) -> list[Token]: ...
    def revoke_token(self, ref: str) -> Token: ...
