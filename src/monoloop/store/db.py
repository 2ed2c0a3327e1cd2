"""The metadata DB: one engine per workspace, SQLite or PostgreSQL, migrated on open.

Writers and readers take different paths. `Database.write()` opens a transaction
that holds the write lock from its first statement (SQLite: BEGIN IMMEDIATE), so
a read-then-write transaction can never be refused half-way with "database is
locked"; `Database.read()` opens a plain one.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url

from monoloop.errors import ConfigError, ConnectionFailed

_WRITE = "monoloop_write"
SQLITE_BUSY_TIMEOUT_S = 30.0


def normalize_url(url: str) -> URL:
    """Parse a DB URL and pick the drivers monoloop ships with (psycopg 3 for PostgreSQL)."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise ConfigError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise ConfigError(
        f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}",
        hint="monoloop supports SQLite (sqlite:///...) and PostgreSQL (postgresql://...)",
    )


def safe_url(url: str | URL) -> str:
    """The URL with any password hidden: the only form that may be printed or logged."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


class Database:
    """A migrated metadata DB. Create with `Database.open(url)`; close with `close()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return safe_url(self.engine.url)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        engine = create_db_engine(url)
        db = cls(engine)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except exc.OperationalError as error:
            engine.dispose()
            raise ConnectionFailed(
                f"cannot connect to the database {db.url}: {_first_line(error)}",
                hint="check the DB URL (db.url in monoloop.yaml or MONOLOOP_DB_URL) "
                "and that the server is running",
            ) from None
        if migrate:
            from monoloop.store.migrate import ensure_migrated

            try:
                ensure_migrated(db)
            except BaseException:
                engine.dispose()
                raise
        return db

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its start; commits on success."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both databases)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def create_db_engine(url: str) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        parent = Path(url.database).parent
        if not parent.is_dir():
            raise ConnectionFailed(
                f"cannot open the SQLite database {url.database}: {parent} does not exist",
                hint="create the directory, or run `monoloop init` in the workspace",
            )
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver, so that we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _enable_wal(cursor)
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        # FULL syncs the WAL at each commit: a committed audit event survives power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Up to 64 MiB of page cache, taken only as pages are touched: keeps searches warm.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL, waiting out other processes doing the same on a fresh file.

    Changing the journal mode needs an exclusive lock, and SQLite reports "database is
    locked" at once instead of using the busy timeout while another connection holds it.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def migration_lock(db: Database) -> Iterator[Connection]:
    """Serialise schema migrations across processes (and, for PostgreSQL, across hosts)."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            # A session-level advisory lock: held across Alembic's own transactions.
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    database = db.engine.url.database
    if not database or database == ":memory:":
        with db.engine.connect() as conn:
            yield conn
        return
    lock_path = Path(database + ".migrate.lock")
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            with db.engine.connect() as conn:
                yield conn
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# Any fixed 64-bit number: names the lock every monoloop process agrees on.
_PG_MIGRATION_LOCK = 0x6D6F6E6F6C6F6F70  # "monoloop"


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
