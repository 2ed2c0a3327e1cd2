"""UI sessions over a real server: no login without auth, a revoked token's session ends,
the session cookie never authenticates the API, and form posts stay refused."""

from __future__ import annotations

from tests.integration.server_fixtures import live_server

from monoloop.auth import service as auth
from monoloop.workspace import Workspace


def test_without_auth_pages_open_and_login_goes_home(ws: Workspace) -> None:
    with live_server(ws, auth_on=False) as server, server.client() as client:
        assert client.get("/").status_code == 200
        assert "Log out" not in client.get("/").text
        login = client.get("/login?next=/models")
        assert login.status_code == 303 and login.headers["location"] == "/models"


def test_a_session_lives_as_long_as_its_token(ws: Workspace) -> None:
    with live_server(ws) as server, server.client() as client:
        page = client.get("/models")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fmodels"
        refused = client.post("/login", json={"token": "mlt_nope"})
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        secret = server.token("read")
        done = client.post("/login", json={"token": secret})
        assert done.status_code == 204
        cookie = done.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/models").status_code == 200
        assert client.get("/v1/models").status_code == 401, "the cookie is not an API token"
        auth.revoke_token(ws, "read")
        assert client.get("/models").status_code == 303
        form = client.post("/login", data={"token": secret})
        assert form.status_code == 415


def test_logout_clears_the_cookie(ws: Workspace) -> None:
    with live_server(ws) as server, server.client() as client:
        client.post("/login", json={"token": server.token("read")})
        out = client.post("/logout", json={})
        assert out.status_code == 204
        assert 'monoloop_session=""' in out.headers["set-cookie"]
        client.cookies.clear()
        assert client.get("/").status_code == 303
