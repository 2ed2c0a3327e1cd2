"""The backend over an open workspace: each method is one service call."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from monoloop.workspace import Workspace

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


class LocalBackend:
    def __init__(self, ws: Workspace, *, owns: bool = True) -> None:
        self.ws = ws
        self.owns = owns

    def __repr__(self) -> str:
        return f"LocalBackend({self.ws.root})"

    @property
    def actor(self) -> str:
        return self.ws.actor

    @property
    def root(self) -> Path:
        return self.ws.root

    def close(self) -> None:
        if self.owns:
            self.ws.close()

    def after_fork(self) -> None:
        self.ws.db.engine.dispose(close=False)

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Objects

    def put_bytes(self, data: bytes) -> str:
        return self.ws.objects.put_bytes(data)

    def get_object(self, object_id: str) -> bytes:
        return self.ws.objects.get(object_id)

    def store_artifact(self, path: Path, *, name: str | None = None) -> Artifact:
        from monoloop.tracking.service import store_artifact

        return store_artifact(self.ws, path, name=name)

    # Tracking

    def write(self, batch: Batch) -> None:
        from monoloop.tracking.service import apply_batch

        apply_batch(self.ws, batch)

    def get_run(self, run: str) -> Run:
        from monoloop.tracking.service import get_run

        return get_run(self.ws, run)

    def search_runs(
        self,
        *,
        where: str | None = None,
        order_by: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        from monoloop.tracking.service import search_runs

        return search_runs(self.ws, where=where, order_by=order_by, limit=limit, offset=offset)

    def metric_history(self, run: str, key: str) -> list[tuple[int, float, float]]:
        from monoloop.tracking.service import metric_history

        return metric_history(self.ws, run, key)

    # Registry

    def insert_version(
        self, name: str, draft: VersionDraft, *, description: str | None = None
    ) -> ModelVersion:
        from monoloop.registry.record import insert_version

        return insert_version(self.ws, name, draft, description=description)

    def list_models(self) -> list[ModelSummary]:
        from monoloop.registry.versions import list_models

        return list_models(self.ws)

    def list_versions(self, name: str) -> list[ModelVersion]:
        from monoloop.registry.versions import list_versions

        return list_versions(self.ws, name)

    def get_version(self, ref: str) -> ModelVersion:
        from monoloop.registry.versions import get_version

        return get_version(self.ws, ref)

    def load_model(self, ref: str) -> Predictor:
        from monoloop.registry.loading import load_model

        return load_model(self.ws, ref)

    def card(self, ref: str) -> str:
        from monoloop.registry.card import current_card

        return current_card(self.ws, ref)

    def lineage(self, ref: str) -> Lineage:
        from monoloop.registry.lineage import lineage

        return lineage(self.ws, ref)

    def check(self, name: str, version: int | None, *, against: str | None) -> CheckReport:
        from monoloop.registry.gates import check

        return check(self.ws, name, version, against=against)

    def set_alias(self, name: str, alias: str, version: int) -> AliasMove:
        from monoloop.registry.aliases import set_alias

        return set_alias(self.ws, name, alias, version)

    def promote(
        self,
        name: str,
        version: int | None,
        *,
        to: str,
        force: bool = False,
        reason: str | None = None,
    ) -> tuple[AliasMove, CheckReport]:
        from monoloop.registry.aliases import promote

        return promote(self.ws, name, version, to=to, force=force, reason=reason)

    def rollback(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        from monoloop.registry.aliases import rollback

        return rollback(self.ws, name, alias, reason=reason)

    def history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        from monoloop.registry.aliases import history

        return history(self.ws, name, alias)

    def trust(self, name: str, version: int, *, reason: str) -> None:
        from monoloop.registry.aliases import trust

        trust(self.ws, name, version, reason=reason)

    # Audit

    def events(self, filters: EventFilter) -> list[Event]:
        from monoloop.audit.service import log

        return log(self.ws, filters)

    def verify_ledger(self) -> ChainReport:
        from monoloop.audit.service import verify

        return verify(self.ws)

    # Tokens

    def create_token(
        self, name: str, *, scope: str, project: str | None = None, expires: str | None = None
    ) -> NewToken:
        from monoloop.auth.service import create_token
        from monoloop.auth.tokens import parse_duration

        expires_in = parse_duration(expires) if expires else None
        return create_token(self.ws, name, scope=scope, project=project, expires_in=expires_in)

    def list_tokens(self, *, everything: bool = False) -> list[Token]:
        from monoloop.auth.service import list_tokens

        return list_tokens(self.ws, everything=everything)

    def revoke_token(self, ref: str) -> Token:
        from monoloop.auth.service import revoke_token

        return revoke_token(self.ws, ref)
