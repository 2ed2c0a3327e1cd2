"""Audit events appended without SQLAlchemy (audit.light), as the data commands do on SQLite.

The light path must write exactly what the full path writes: the same chain, verifiable,
interleaving with events the Workspace appends; and it must step aside (changing nothing)
whenever it cannot, so that the full path migrates, validates and explains.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import monoloop.data as data
from monoloop.audit import light, service
from monoloop.root import STATE_DIR
from monoloop.workspace import Workspace, init_workspace, open_workspace


def test_limits_match_the_full_path() -> None:
    assert (light.MAX_KIND, light.MAX_SUBJECT) == (service._MAX_KIND, service._MAX_SUBJECT)


def test_only_plain_sqlite_files_take_the_light_path() -> None:
    assert light.sqlite_file("sqlite:////abs/meta.db") == Path("/abs/meta.db")
    assert light.sqlite_file("sqlite:///rel/meta.db") == Path("rel/meta.db")
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:////abs/meta.db?timeout=5",
        "sqlite:////abs/a%20b.db",
        "sqlite+pysqlite:////abs/meta.db",
        "postgresql://postgres@127.0.0.1/x",
    ):
        assert light.sqlite_file(url) is None, url


def test_light_events_chain_with_full_path_events(ws: Workspace) -> None:
    """On SQLite the data commands append through audit.light, on PostgreSQL through the
    Workspace; either way the chain verifies, with events from both paths interleaved."""
    for i in range(2):
        (ws.root / f"f{i}.csv").write_text(f"x\n{i}\n")
        data.add(ws.root / f"f{i}.csv", workspace=ws.root)
        with ws.db.write() as conn:
            ws.record(conn, "test.event", f"between-{i}", {"i": i})
    events = service.log(ws)
    assert [(e.kind, e.subject) for e in events] == [
        ("workspace.init", ws.config.project),
        ("data.add", "f0.csv"),
        ("test.event", "between-0"),
        ("data.add", "f1.csv"),
        ("test.event", "between-1"),
    ]
    assert {e.actor for e in events} == {"tester@example.com"}
    assert service.verify(ws).ok


def test_data_add_on_sqlite_never_imports_sqlalchemy(repo: Path) -> None:
    init_workspace(repo)
    (repo / "f.csv").write_text("x\n1\n")
    code = (
        "import sys\n"
        "from monoloop.cli.main import run\n"
        f"assert run(['-C', {str(repo)!r}, '-q', 'data', 'add', 'f.csv']) == 0\n"
        "print(','.join(m for m in ('sqlalchemy', 'pydantic', 'typer') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONOLOOP_")}
    env["MONOLOOP_ACTOR"] = "light@example.com"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert proc.stdout.strip() == ""
    with open_workspace(repo, env=env) as ws:
        [added] = service.log(ws, service.EventFilter(kind="data.add"))
        assert (added.subject, added.actor) == ("f.csv", "light@example.com")
        assert service.verify(ws).ok


def test_light_path_steps_aside_for_a_db_it_cannot_write(repo: Path) -> None:
    init_workspace(repo)
    db = repo / STATE_DIR / "monoloop.db"
    url = f"sqlite:///{db}"
    item = [("data.add", "x", {})]
    with sqlite3.connect(db) as conn:
        [(before,)] = conn.execute("SELECT count(*) FROM events").fetchall()
        conn.execute("UPDATE alembic_version SET version_num = '0001'")  # an older schema
    assert not light.append(url, actor="a", items=item)
    assert not light.append(url, actor="a", items=[("k" * 101, "x", {})])
    assert not light.append(f"sqlite:///{repo / 'absent.db'}", actor="a", items=item)
    assert not (repo / "absent.db").exists()  # never creates a DB
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (light.SCHEMA_HEAD,))
        [(after,)] = conn.execute("SELECT count(*) FROM events").fetchall()
    assert after == before
    assert light.append(url, actor="a", items=item)


def test_a_missing_db_is_created_by_the_full_path(repo: Path) -> None:
    init_workspace(repo)
    (repo / STATE_DIR / "monoloop.db").unlink()
    (repo / "f.csv").write_text("x\n")
    data.add(repo / "f.csv", workspace=repo)
    with open_workspace(repo) as ws:
        assert [e.kind for e in service.log(ws)] == ["data.add"]
        assert service.verify(ws).ok
