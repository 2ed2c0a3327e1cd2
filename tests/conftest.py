"""Fixtures shared by every test: an isolated Git identity, and the two metadata databases.

PostgreSQL runs at 127.0.0.1:5432 (user postgres, trust auth). Each test session
creates a fresh database and drops it afterwards; each test gets an empty schema.
In CI (CI=true) an unreachable PostgreSQL fails the tests; elsewhere they skip loudly.
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monoloop.workspace import Workspace, init_workspace, open_workspace

PG_ADMIN_URL = os.environ.get(
    "MONOLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True, scope="session")
def _isolated_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test sees the same Git identity and no user or system Git config."""
    home = tmp_path_factory.mktemp("git-home")
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Test User\n\temail = tester@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    saved = {k: os.environ.get(k) for k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
    os.environ["GIT_CONFIG_GLOBAL"] = str(config)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _no_monoloop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("MONOLOOP_DB_URL", "MONOLOOP_STORE_URL", "MONOLOOP_ACTOR"):
        monkeypatch.delenv(key, raising=False)


def _pg_unavailable(reason: str) -> None:
    message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
    warnings.warn(message + " -- SKIPPING PostgreSQL tests", stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"monoloop_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        _pg_unavailable(str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def reset_pg_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty metadata DB URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.db'}"
        return
    url = request.getfixturevalue("pg_database")
    reset_pg_schema(url)
    yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto in server mode) on loopback, for the tests' session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty Git repository."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


@pytest.fixture
def workspace_env(db_url: str) -> dict[str, str]:
    return {"MONOLOOP_DB_URL": db_url}


@pytest.fixture
def ws(
    repo: Path, workspace_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    """An initialised, open workspace on each database backend.

    The DB URL is also set in the environment, so that anything the test opens by
    path (the SDK, the CLI) reaches the same database.
    """
    for key, value in workspace_env.items():
        monkeypatch.setenv(key, value)
    init_workspace(repo, env=workspace_env)
    workspace = open_workspace(repo, env=workspace_env)
    yield workspace
    workspace.close()
