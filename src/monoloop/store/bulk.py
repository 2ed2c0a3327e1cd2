"""Many rows into one table, many rows per statement: the write path of batched appends.

Hand-written SQL rather than Core: building parameters row by row through Core costs more
than SQLite takes to store the row. Many rows per statement, because Python's sqlite3 gives
up the GIL at every statement step, and a training loop running in another thread then
holds it for a whole switch interval each time. Rows go in primary-key order: a B-tree
takes sorted keys page after page, while keys in random order (run ids are random) each
land on a page of their own. The same SQL serves SQLite and PostgreSQL: `ON CONFLICT (pk)
DO UPDATE` is spelled the same by both.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

ROWS_PER_STATEMENT = 500
MAX_PARAMS = 30_000  # SQLite allows 32,766 parameters per statement, PostgreSQL 65,535


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    *,
    upsert: bool = False,
    newer: str | None = None,
) -> None:
    """Insert rows (tuples in the table's column order) inside the caller's transaction.

    With `upsert`, a row whose primary key is taken replaces the stored one; with `newer`
    too, only when its value of that column is at least the stored one (an old step never
    hides the latest). Rows must not repeat a key.
    """
    if not rows:
        return
    rows = sorted(rows, key=_primary_key(table))
    per = max(1, min(ROWS_PER_STATEMENT, MAX_PARAMS // len(table.columns)))
    full = len(rows) - len(rows) % per
    flat = itertools.chain.from_iterable
    if full:
        sql = _sql(conn.dialect, table, upsert, newer, per)
        conn.exec_driver_sql(sql, [tuple(flat(rows[i : i + per])) for i in range(0, full, per)])
    if full < len(rows):
        sql = _sql(conn.dialect, table, upsert, newer, len(rows) - full)
        conn.exec_driver_sql(sql, tuple(flat(rows[full:])))


@functools.cache
def _primary_key(table: Table) -> Callable[[tuple[Any, ...]], Any]:
    names = [c.name for c in table.columns]
    return operator.itemgetter(*(names.index(c.name) for c in table.primary_key.columns))


@functools.cache
def _sql(dialect: Dialect, table: Table, upsert: bool, newer: str | None, count: int) -> str:
    q = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    cols = [c.name for c in table.columns]
    one = "(" + ", ".join(mark for _ in cols) + ")"
    sql = (
        f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in cols)}) "
        f"VALUES {', '.join(one for _ in range(count))}"
    )
    if upsert:
        keys = [c.name for c in table.primary_key.columns]
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in cols if c not in keys)
        sql += f" ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {sets}"
        if newer is not None:
            sql += f" WHERE {q(table.name)}.{q(newer)} <= excluded.{q(newer)}"
    return sql
