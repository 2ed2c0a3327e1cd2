"""Auth on the live server: 401 for every way a token can be missing or dead, 403 at every
scope boundary, 415 for anything a browser form could post, every route demanding a scope
(read from the OpenAPI schema and then tried), the token's name as the ledger actor, and
no token value in any log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import update
from starlette.routing import Route
from tests.integration.server_fixtures import LiveServer, live_server

from monoloop.audit import service as audit
from monoloop.auth import service as auth
from monoloop.auth.tables import api_tokens
from monoloop.auth.tokens import SCOPES
from monoloop.cli import main
from monoloop.errors import ConfigError
from monoloop.server.app import create_app, routers
from monoloop.server.settings import ServerSettings
from monoloop.workspace import Workspace

PUBLIC = {"/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
FILLERS = {
    "run_id": "0" * 32,
    "key": "loss",
    "object_id": "b3:" + "0" * 64,
    "name": "churn",
    "ref": "churn",
    "version": "1",
    "alias": "champion",
}


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    with live_server(ws) as live:
        yield live


def call(client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    if method in ("POST", "PUT") and "content" not in kw and "json" not in kw:
        kw["json"] = {}
    return client.request(method, path, **kw)


def operations(schema: dict[str, Any]) -> list[tuple[str, str, list[str] | None]]:
    """(method, concrete path, scopes) for every operation the schema lists."""
    found = []
    for template, ops in schema["paths"].items():
        path = template
        for name, value in FILLERS.items():
            path = path.replace("{" + name + "}", value)
        for method, op in ops.items():
            security = op.get("security")
            scopes = security[0]["HTTPBearer"] if security else None
            found.append((method.upper(), path, scopes))
    return found


def upload_kw(method: str, path: str) -> dict[str, Any]:
    if method == "PUT" and path.startswith("/v1/objects/"):
        return {"content": b"x", "headers": {"Content-Type": "application/octet-stream"}}
    return {}


def test_every_route_demands_a_scope_and_enforces_exactly_it(server: LiveServer) -> None:
    anonymous = server.client()
    schema = anonymous.get("/openapi.json").json()
    ops = operations(schema)
    assert len(ops) > 25
    for method, path, scopes in ops:
        if path in PUBLIC:
            assert scopes is None
            continue
        assert scopes is not None and len(scopes) == 1 and scopes[0] in SCOPES, (method, path)
        response = call(anonymous, method, path, **upload_kw(method, path))
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        need = SCOPES.index(scopes[0])
        if need > 0:
            below = server.client(server.token(SCOPES[need - 1]))
            response = call(below, method, path, **upload_kw(method, path))
            assert response.status_code == 403, (method, path, response.text)
            assert f"this needs {scopes[0]}" in response.json()["message"]
        enough = server.client(server.token(scopes[0]))
        response = call(enough, method, path, **upload_kw(method, path))
        assert response.status_code not in (401, 403), (method, path, response.text)
    # No route hides from the schema, and the public ones answer without a token.
    app = create_app(ServerSettings(root=server.ws.root))
    top = [r for r in app.routes if isinstance(r, Route)]
    assert {r.path for r in top if not r.include_in_schema} <= PUBLIC
    for router in routers():
        assert all(isinstance(r, APIRoute) and r.include_in_schema for r in router.routes)
    for path in ("/healthz", "/docs", "/openapi.json"):
        assert anonymous.get(path).status_code == 200


@pytest.mark.parametrize(
    ("have", "method", "path", "body"),
    [
        ("read", "POST", "/v1/runs", {}),
        ("write", "POST", "/v1/models/churn/promote", {"to": "champion"}),
        ("write", "PUT", "/v1/models/churn/aliases/champion", {"version": 1}),
        ("write", "POST", "/v1/models/churn/rollback", {"alias": "champion"}),
        ("promote", "GET", "/v1/tokens", None),
        ("promote", "POST", "/v1/tokens", {"name": "x", "scope": "read"}),
    ],
    ids=["read-cannot-write", "write-cannot-promote", "write-cannot-set-alias",
         "write-cannot-rollback", "promote-cannot-admin", "promote-cannot-make-tokens"],
)  # fmt: skip
def test_each_scope_boundary_is_403(
    server: LiveServer, have: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = server.client(server.token(have))
    response = client.request(method, path, json=body)
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


def test_missing_bad_expired_and_revoked_tokens_are_401(server: LiveServer) -> None:
    def status(headers: dict[str, str]) -> tuple[int, str]:
        response = httpx.get(server.url + "/v1/runs", headers=headers)
        body = response.json()
        return response.status_code, body["message"] if isinstance(body, dict) else ""

    assert status({}) == (401, "this request needs an API token")
    assert status({"Authorization": "Basic dXNlcjpwdw=="})[0] == 401
    for bad in ("nonsense", "mlt_" + "0" * 16 + "_" + "A" * 43, server.token("read")[:-1] + "?"):
        assert status({"Authorization": f"Bearer {bad}"}) == (401, "the API token is not valid")

    expiring = server.token("read", "expiring")
    assert status({"Authorization": f"Bearer {expiring}"})[0] == 200
    with server.ws.db.write() as conn:
        conn.execute(
            update(api_tokens).where(api_tokens.c.name == "expiring").values(expires=time.time())
        )
    code, message = status({"Authorization": f"Bearer {expiring}"})
    assert code == 401 and "expired" in message

    # Revocation holds from the very next request, on a connection already open.
    doomed = server.client(server.token("write", "doomed"))
    assert doomed.get("/v1/whoami").json()["name"] == "doomed"
    admin = server.client(server.token("admin"))
    assert admin.delete("/v1/tokens/doomed").json()["status"] == "revoked"
    response = doomed.get("/v1/whoami")
    assert response.status_code == 401 and "revoked" in response.json()["message"]


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/x-www-form-urlencoded", b"name=x"),
        ("multipart/form-data; boundary=b", b"--b\r\n\r\nx\r\n--b--\r\n"),
        ("text/plain", b'{"name": "x"}'),
        (None, b'{"name": "x"}'),
    ],
    ids=["form", "multipart", "text-plain", "no-type"],
)
def test_writes_that_are_not_json_are_415(
    server: LiveServer, content_type: str | None, data: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    admin = server.client(server.token("admin"))
    for path in ("/v1/runs", "/v1/runs/batch", "/v1/tokens", "/v1/models/churn/promote"):
        for client in (admin, server.client()):  # before auth, before the body is read
            response = client.post(path, content=data, headers=headers)
            assert response.status_code == 415, (path, response.text)
            assert response.json()["error"] == "UnsupportedMediaType"
    assert admin.get("/v1/runs").json() == [] and admin.get("/v1/models").json() == []
    # Raw bytes are for object uploads only; and objects take nothing else.
    oid = "b3:" + "0" * 64
    response = admin.post(
        "/v1/runs", content=b"{}", headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 415
    response = admin.put(f"/v1/objects/{oid}", json={"x": 1})
    assert response.status_code == 415 and "application/octet-stream" in response.json()["hint"]


def test_the_token_name_is_the_ledger_actor(server: LiveServer) -> None:
    alice = server.client(server.token("write", "alice@example.com"))
    run_id = alice.post("/v1/runs", json={"name": "r"}).json()["id"]
    alice.post(f"/v1/runs/{run_id}/batch", json={"finish": {"status": "finished"}})
    admin = server.client(server.token("admin"))
    admin.post("/v1/tokens", json={"name": "bob", "scope": "read"})
    events = audit.log(server.ws)
    assert [(e.kind, e.actor) for e in events if e.subject == run_id] == [
        ("run.start", "alice@example.com"),
        ("run.finish", "alice@example.com"),
    ]
    created = [e for e in events if e.kind == "token.create" and e.subject == "bob"]
    assert created[0].actor == "admin"
    assert alice.get(f"/v1/runs/{run_id}").json()["actor"] == "alice@example.com"


def test_a_trusted_pickle_needs_the_promote_scope(server: LiveServer) -> None:
    body = {"format": "pickle", "object_id": "b3:" + "0" * 64, "trusted": True}
    writer = server.client(server.token("write"))
    response = writer.post("/v1/models/churn/versions", json=body)
    assert response.status_code == 403 and "promote scope" in response.json()["message"]
    promoter = server.client(server.token("promote"))
    response = promoter.post("/v1/models/churn/versions", json=body)
    assert response.status_code == 404  # past auth: the object was never uploaded


def test_a_token_for_another_project_is_403(server: LiveServer) -> None:
    other = auth.create_token(server.ws, "elsewhere", scope="admin", project="other").secret
    response = server.client(other).get("/v1/runs")
    assert response.status_code == 403 and "for project 'other'" in response.json()["message"]


def test_no_token_value_reaches_any_log(
    ws: Workspace, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    # uvicorn configures its own loggers when the server starts; listen to them after that.
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    secrets: list[str] = []
    with live_server(ws, bootstrap=True, log_level="debug") as server:
        for logger in loggers:
            logger.addHandler(caplog.handler)
        try:
            printed = capfd.readouterr().err
            bootstrap = next(w for w in printed.split() if w.startswith("mlt_"))
            secrets.append(bootstrap)
            admin = server.client(bootstrap)
            made = admin.post("/v1/tokens", json={"name": "ci", "scope": "write"}).json()
            secrets.append(made["token"])
            ci = server.client(made["token"])
            run_id = ci.post("/v1/runs", json={"name": "r"}).json()["id"]
            assert ci.get(f"/v1/runs/{run_id}").status_code == 200
            assert ci.get("/v1/tokens").status_code == 403
            assert admin.get("/v1/tokens").status_code == 200
            admin.delete("/v1/tokens/ci")
            assert ci.get("/v1/whoami").status_code == 401
            assert server.client(bootstrap[:-2] + "xx").get("/v1/runs").status_code == 401
            assert ci.post("/v1/runs", data={"a": "b"}).status_code == 415
        finally:
            for logger in loggers:
                logger.removeHandler(caplog.handler)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert '"GET /v1/runs/' in logged and "HTTP Request" in logged, "access and client logs"
    for secret in secrets:
        assert secret not in logged
        assert secret[21:] not in logged  # not even the part after the public id
    rest = capfd.readouterr()
    for secret in secrets:
        assert secret not in rest.out + rest.err
    assert printed.count(bootstrap) == 1


def test_the_bootstrap_token_is_printed_once_and_works(
    ws: Workspace, capfd: pytest.CaptureFixture[str]
) -> None:
    with live_server(ws, bootstrap=True) as server:
        err = capfd.readouterr().err
        assert "shown only now" in err
        token = next(w for w in err.split() if w.startswith("mlt_"))
        me = server.client(token).get("/v1/whoami").json()
        assert (me["name"], me["scope"]) == ("bootstrap-admin", "admin")
    with live_server(ws, bootstrap=True):
        assert "mlt_" not in capfd.readouterr().err


def test_without_auth_only_loopback(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        with pytest.raises(ConfigError, match="only when the server binds to loopback"):
            ServerSettings(root=ws.root, host=host, auth=False)
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert ServerSettings(root=ws.root, host=host, auth=False).auth is False
    code = main.run(["-C", str(ws.root), "server", "--host", "0.0.0.0", "--no-auth"])
    assert code == 2 and "loopback" in capsys.readouterr().err

    with live_server(ws, auth_on=False) as server:
        client = server.client()
        run_id = client.post("/v1/runs", json={"name": "open"}).json()["id"]
        assert client.get(f"/v1/runs/{run_id}").json()["actor"] == ws.actor
        assert client.get("/v1/tokens").status_code == 200
        assert client.post("/v1/runs", data={"name": "form"}).status_code == 415
        # A page on a rebound domain reaches 127.0.0.1 with its own Host: refused.
        rebound = client.get("/v1/runs", headers={"Host": "evil.example.com"})
        assert rebound.status_code == 403 and "loopback" in rebound.json()["message"]
        assert client.get("/v1/runs", headers={"Host": "localhost:8700"}).status_code == 200
