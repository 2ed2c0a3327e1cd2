"""The metadata DB on both backends: migrations, locking, write transactions, bad URLs."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from monoloop.errors import ConfigError, ConnectionFailed
from monoloop.store.db import Database, migration_lock, normalize_url
from monoloop.store.migrate import SCHEMA_HEAD, alembic_config, current_revision
from monoloop.store.schema import all_tables
from monoloop.workspace import Workspace, open_workspace


def test_open_migrates_to_head(db_url: str) -> None:
    with Database.open(db_url) as db, db.engine.connect() as conn:
        assert current_revision(conn) == SCHEMA_HEAD
        assert {"events", "ledger_head"} <= set(inspect(conn).get_table_names())
        head = conn.execute(text("SELECT seq, hash FROM ledger_head")).all()
        assert [tuple(r) for r in head] == [(0, "0" * 64)]


def test_schema_head_constant_matches_the_migrations(db_url: str) -> None:
    with Database.open(db_url) as db, db.engine.connect() as conn:
        script = ScriptDirectory.from_config(alembic_config(conn))
        assert script.get_heads() == [SCHEMA_HEAD]


def test_migrations_produce_exactly_the_declared_tables(db_url: str) -> None:
    with Database.open(db_url) as db, db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_tables())
        assert diff == []


def test_reopening_is_a_no_op(db_url: str) -> None:
    Database.open(db_url).close()
    with Database.open(db_url) as db, db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_head")).scalar() == 1


def _open_fresh(url: str, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    barrier.wait()
    Database.open(url).close()


def test_concurrent_first_opens_do_not_race(db_url: str) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open_fresh, args=(db_url, barrier)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    # A child's traceback, if any, is in the captured stderr of this test.
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Database.open(db_url) as db, db.read() as conn:
        assert current_revision(conn) == SCHEMA_HEAD
        assert conn.execute(text("SELECT count(*) FROM ledger_head")).scalar() == 1


def _increment(url: str, times: int, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    from monoloop.audit.tables import ledger_head

    db = Database.open(url)
    barrier.wait()
    for _ in range(times):
        # Read, then write from what was read: the pattern BEGIN IMMEDIATE exists for.
        with db.write() as conn:
            seq = conn.execute(
                select(ledger_head.c.seq).where(ledger_head.c.id == 1).with_for_update()
            ).scalar_one()
            conn.execute(ledger_head.update().values(seq=seq + 1))
    db.close()


def test_eight_read_then_write_writers_lose_nothing(db_url: str) -> None:
    Database.open(db_url).close()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_increment, args=(db_url, 25, barrier)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    with Database.open(db_url) as db, db.read() as conn:
        assert conn.execute(text("SELECT seq FROM ledger_head")).scalar() == 200


def test_write_rolls_back_on_error(db_url: str) -> None:
    with Database.open(db_url) as db:
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(text("UPDATE ledger_head SET seq = 42"))
            raise RuntimeError("boom")
        with db.read() as conn:
            assert conn.execute(text("SELECT seq FROM ledger_head")).scalar() == 0


def test_postgres_url_uses_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/d").drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/test", "nonsense", "redis://x"])
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        Database.open(url)


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(ConnectionFailed) as info:
        Database.open("postgresql://postgres:s3cret@127.0.0.1:1/nope")
    assert "s3cret" not in info.value.message
    assert "***" in info.value.message
    assert "MONOLOOP_DB_URL" in (info.value.hint or "")


def test_sqlite_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailed, match="does not exist"):
        Database.open(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    assert not (tmp_path / "missing").exists()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    with Database.open(f"sqlite:///{tmp_path / 'x.db'}") as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def _event_uniques(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {str(u["name"]) for u in inspect(conn).get_unique_constraints("events")}


def test_0008_upgrades_a_ledger_with_runs_in_it(
    repo: Path, ws: Workspace, workspace_env: dict[str, str]
) -> None:
    from alembic import command

    from monoloop.audit import service as audit
    from monoloop.tracking import service as tracking

    ids = [tracking.create_run(ws, name=f"r{i}", params={"lr": i / 10}) for i in range(3)]
    tracking.finish_run(ws, ids[0])
    with migration_lock(ws.db) as conn:
        command.downgrade(alembic_config(conn), "0007")
        conn.commit()
    assert _event_uniques(ws.db) == {"uq_events_hash", "uq_events_prev_hash"}
    ws.close()

    with open_workspace(repo, env=workspace_env) as again:  # opening migrates
        with again.db.engine.connect() as conn:
            assert current_revision(conn) == SCHEMA_HEAD
            assert compare_metadata(MigrationContext.configure(conn), all_tables()) == []
        assert _event_uniques(again.db) == set()
        assert [tracking.get_run(again, i).params for i in ids] == [
            {"lr": i / 10} for i in range(3)
        ]
        assert tracking.get_run(again, ids[0]).status == "finished"
        assert audit.verify(again).ok
        tracking.create_run(again, name="after")
        report = audit.verify(again)
        assert report.ok and [e.kind for e in audit.log(again)][-1] == "run.start"
