"""The backend over a monoloop server's REST API (httpx).

Errors come back as the same classes the service raised on the server (see `errors`),
so the CLI prints the same message and exits with the same code either way. A
server that cannot be reached is ConnectionFailed, which the SDK's writer retries. Bytes
are checked against their ids on the way in (by the server) and on the way out (here).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from monoloop.backend.errors import error_from
from monoloop.errors import ConnectionFailed, CorruptObject, NotFound
from monoloop.hashing import hash_bytes, hash_file

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

JSON_TYPE = "application/json"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_DUMP = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
BYTES_TYPE = "application/octet-stream"
TIMEOUT = httpx.Timeout(30.0, read=300.0, write=300.0)


class HttpBackend:
    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        root: Path,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._root = root
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._transport = transport
        self.client = self._client()
        host = httpx.URL(self.url).host
        if token and self.url.startswith("http://") and host not in _LOOPBACK:
            warnings.warn(
                f"sending an API token over plain HTTP to {host}; put the server behind HTTPS",
                stacklevel=2,
            )

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers=self._headers, timeout=TIMEOUT, transport=self._transport
        )

    def __repr__(self) -> str:
        return f"HttpBackend({self.url})"

    @property
    def actor(self) -> str:
        return "(the server's token)"

    @property
    def root(self) -> Path:
        return self._root

    def close(self) -> None:
        self.client.close()

    def after_fork(self) -> None:
        self.client = self._client()

    def __enter__(self) -> HttpBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Requests

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {}
        if body is not None:
            content = orjson.dumps(body, option=_DUMP)
            headers["Content-Type"] = JSON_TYPE
        elif content is not None:
            headers["Content-Type"] = BYTES_TYPE
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.client.request(
                method, "/v1" + path, content=content, headers=headers, params=query
            )
        except httpx.TransportError as error:
            raise ConnectionFailed(
                f"cannot reach the monoloop server at {self.url}: {error or type(error).__name__}",
                hint="check MONOLOOP_SERVER_URL, and that `monoloop server` runs there",
            ) from None
        if response.status_code >= 400:
            raise error_from(response)
        return response

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self._send(method, path, **kw).json()

    # Objects

    def put_bytes(self, data: bytes) -> str:
        object_id = hash_bytes(data)
        self._send("PUT", f"/objects/{object_id}", content=data)
        return object_id

    def _put_file(self, path: Path, object_id: str) -> None:
        with path.open("rb") as f:
            self._send("PUT", f"/objects/{object_id}", content=f)

    def _missing(self, ids: list[str]) -> set[str]:
        return set(self._json("POST", "/objects/missing", body={"ids": ids})["missing"])

    def get_object(self, object_id: str) -> bytes:
        data = self._send("GET", f"/objects/{quote(object_id, safe='')}").content
        if hash_bytes(data) != object_id:
            raise CorruptObject(
                f"the server sent bytes for {object_id} that are not that object",
                hint="run `monoloop store fsck` on the server; retry the download",
            )
        return data

    def store_artifact(self, path: Path, *, name: str | None = None) -> Artifact:
        from monoloop.store.objects import Manifest, ManifestEntry, walk_tree
        from monoloop.tracking.model import Artifact, check_text

        path = Path(path)
        label = check_text(name if name is not None else path.name, "artifact name")
        if path.is_file():
            object_id = hash_file(path)
            if self._missing([object_id]):
                self._put_file(path, object_id)
            return Artifact(label, object_id, "file")
        if not path.is_dir():
            raise NotFound(
                f"no file or directory at {path}", hint="log an artifact after writing it"
            )
        files = [(rel, p, hash_file(p), p.stat().st_size) for rel, p in walk_tree(path)]
        manifest = Manifest.of(ManifestEntry(rel, size, oid) for rel, _, oid, size in files)
        data = manifest.to_bytes()
        manifest_id = hash_bytes(data)
        missing = self._missing([oid for _, _, oid, _ in files] + [manifest_id])
        for _, p, oid, _ in files:
            if oid in missing:
                self._put_file(p, oid)
                missing.discard(oid)
        if manifest_id in missing:
            self.put_bytes(data)
        return Artifact(label, manifest_id, "dir")

    # Tracking

    def write(self, batch: Batch) -> None:
        from monoloop.backend.wire import batch_body

        if batch:
            self._send("POST", "/runs/batch", body=batch_body(batch))

    def get_run(self, run: str) -> Run:
        from monoloop.tracking.model import Run

        return Run.from_dict(self._json("GET", f"/runs/{_seg(run)}"))

    def search_runs(
        self,
        *,
        where: str | None = None,
        order_by: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        from monoloop.tracking.model import Run

        params = {"where": where, "order_by": order_by, "limit": limit, "offset": offset}
        return [Run.from_dict(r) for r in self._json("GET", "/runs", params=params)]

    def metric_history(self, run: str, key: str) -> list[tuple[int, float, float]]:
        from monoloop.tracking.model import number

        points = self._json("GET", f"/runs/{_seg(run)}/metrics/{_seg(key)}")
        return [(p["step"], number(p["value"]), p["timestamp"]) for p in points]

    # Registry

    def insert_version(
        self, name: str, draft: VersionDraft, *, description: str | None = None
    ) -> ModelVersion:
        from monoloop.backend.wire import draft_body
        from monoloop.registry.model import ModelVersion

        body = draft_body(draft, description)
        found = self._json("POST", f"/models/{_seg(name)}/versions", body=body)
        return ModelVersion.from_dict(found)

    def list_models(self) -> list[ModelSummary]:
        from monoloop.registry.model import ModelSummary

        return [ModelSummary.from_dict(m) for m in self._json("GET", "/models")]

    def list_versions(self, name: str) -> list[ModelVersion]:
        from monoloop.registry.model import ModelVersion

        found = self._json("GET", f"/models/{_seg(name)}/versions")
        return [ModelVersion.from_dict(v) for v in found]

    def get_version(self, ref: str) -> ModelVersion:
        from monoloop.registry.model import ModelVersion

        return ModelVersion.from_dict(self._json("GET", f"/models/{_seg(ref)}"))

    def load_model(self, ref: str) -> Predictor:
        from monoloop.registry.loading import load_bytes

        mv = self.get_version(ref)
        return load_bytes(mv, self.get_object(mv.object_id))

    def card(self, ref: str) -> str:
        return str(self._json("GET", f"/models/{_seg(ref)}/card")["card"])

    def lineage(self, ref: str) -> Lineage:
        from monoloop.registry.lineage import Lineage

        found = self._json("GET", f"/models/{_seg(ref)}/lineage")
        version = self.get_version(f"{found['model']}:{found['version']}")
        return Lineage.from_dict(found, version=version)

    def check(self, name: str, version: int | None, *, against: str | None) -> CheckReport:
        number = "latest" if version is None else str(version)
        found = self._json(
            "POST", f"/models/{_seg(name)}/versions/{number}/check", body={"against": against}
        )
        return self._report(found)

    def _report(self, found: dict[str, Any]) -> CheckReport:
        from monoloop.registry.gates import CheckReport

        name, ref = found["model"], found["reference_version"]
        version = self.get_version(f"{name}:{found['version']}")
        reference = self.get_version(f"{name}:{ref}") if ref is not None else None
        return CheckReport.from_dict(found, version=version, reference=reference)

    def set_alias(self, name: str, alias: str, version: int) -> AliasMove:
        from monoloop.registry.model import AliasMove

        path = f"/models/{_seg(name)}/aliases/{_seg(alias)}"
        return AliasMove.from_dict(self._json("PUT", path, body={"version": version}))

    def promote(
        self,
        name: str,
        version: int | None,
        *,
        to: str,
        force: bool = False,
        reason: str | None = None,
    ) -> tuple[AliasMove, CheckReport]:
        from monoloop.registry.model import AliasMove

        body = {"version": version, "to": to, "force": force, "reason": reason}
        found = self._json("POST", f"/models/{_seg(name)}/promote", body=body)
        return AliasMove.from_dict(found["move"]), self._report(found["check"])

    def rollback(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        from monoloop.registry.model import AliasMove

        body = {"alias": alias, "reason": reason}
        return AliasMove.from_dict(self._json("POST", f"/models/{_seg(name)}/rollback", body=body))

    def history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        from monoloop.registry.model import AliasMove

        found = self._json("GET", f"/models/{_seg(name)}/history", params={"alias": alias})
        return [AliasMove.from_dict(m) for m in found]

    def trust(self, name: str, version: int, *, reason: str) -> None:
        path = f"/models/{_seg(name)}/versions/{version}/trust"
        self._send("POST", path, body={"reason": reason})

    # Audit

    def events(self, filters: EventFilter) -> list[Event]:
        from monoloop.ledger import Event

        params = {
            "subject": filters.subject,
            "kind": filters.kind,
            "actor": filters.actor,
            "after": filters.after,
            "limit": filters.limit,
        }
        return [Event.from_dict(e) for e in self._json("GET", "/audit/events", params=params)]

    def verify_ledger(self) -> ChainReport:
        from monoloop.ledger import ChainReport

        return ChainReport.from_dict(self._json("GET", "/audit/verify"))

    # Tokens

    def create_token(
        self, name: str, *, scope: str, project: str | None = None, expires: str | None = None
    ) -> NewToken:
        from monoloop.auth.service import NewToken

        body = {"name": name, "scope": scope, "project": project, "expires": expires}
        return NewToken.from_dict(self._json("POST", "/tokens", body=body))

    def list_tokens(self, *, everything: bool = False) -> list[Token]:
        from monoloop.auth.service import Token

        found = self._json("GET", "/tokens", params={"everything": everything})
        return [Token.from_dict(t) for t in found]

    def revoke_token(self, ref: str) -> Token:
        from monoloop.auth.service import Token

        return Token.from_dict(self._json("DELETE", f"/tokens/{_seg(ref)}"))


def _seg(text: str) -> str:
    """One path segment: a `/` in a metric key stays inside it."""
    return quote(text, safe="@:")
