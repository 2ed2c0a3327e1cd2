"""Run search in SQL: filter ASTs compiled to SQLAlchemy, orderings that read an index.

A comparison on a metric, param or tag becomes `runs.id IN (SELECT run_id FROM <table>
WHERE key = K AND value <op> V)`, one range of the `(key, value, run_id)` index. Ordering
by a metric, param or tag joins its table and walks the same index, so the top N runs
come out without sorting every run; runs without that key follow, newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)

from monoloop.errors import InvalidInput
from monoloop.tracking.tables import metric_latest, run_params, run_tags, runs
from monoloop.tracking.where import (
    And,
    Compare,
    Expr,
    Field,
    Not,
    Or,
    Order,
    parse,
    parse_order,
)

MAX_LIMIT = 10_000
# Fewer matching rows than this, and a comparison drives the query (see compile_filter).
SELECTIVE_ROWS = 2_000

_RUN_COLUMNS: dict[str, Any] = {
    "id": runs.c.id,
    "status": runs.c.status,
    "name": runs.c.name,
    "pipeline": runs.c.pipeline,
    "stage": runs.c.stage,
    "git_commit": runs.c.git_commit,
    "actor": runs.c.actor,
    "start": runs.c.start_time,
    "end": runs.c.end_time,
}


Selective = Callable[[Compare], bool]


def compile_filter(
    expr: Expr,
    dialect: str,
    *,
    selective: Selective | None = None,
    run_id: ColumnElement[str] = runs.c.id,
) -> ColumnElement[bool]:
    """The SQL condition on `runs` for a filter AST; true exactly where `where.evaluate` is.

    A comparison on a metric, param or tag is a correlated EXISTS probe of the key's row,
    cheap when most runs pass and the ordering index drives the scan; when `selective`
    says few rows match, it becomes `runs.id IN (...)` instead, which drives from the
    `(key, value, run_id)` index range. `run_id` is the id column the condition is about:
    `runs.id`, or the run_id of a key table when a query reads no run column.
    """
    if isinstance(expr, And):
        return and_(
            compile_filter(expr.left, dialect, selective=selective, run_id=run_id),
            compile_filter(expr.right, dialect, selective=selective, run_id=run_id),
        )
    if isinstance(expr, Or):
        return or_(
            compile_filter(expr.left, dialect, selective=selective, run_id=run_id),
            compile_filter(expr.right, dialect, selective=selective, run_id=run_id),
        )
    if isinstance(expr, Not):
        return not_(compile_filter(expr.item, dialect, selective=selective, run_id=run_id))
    f = expr.field
    if f.ns == "run":
        col = _RUN_COLUMNS[f.key]
        # A NULL column makes the comparison false, never unknown, so `not` flips it as in Python.
        return and_(col.is_not(None), _op(col, expr.op, expr.value, dialect))
    if selective is not None and selective(expr):
        return run_id.in_(matching_ids(expr, dialect))
    table = _TABLES[f.ns].alias()
    return exists().where(
        table.c.run_id == run_id, table.c.key == f.key, _holds(table, expr, dialect)
    )


def matching_ids(c: Compare, dialect: str) -> Select[Any]:
    """The ids of the runs one comparison on a metric, param or tag holds for."""
    table = _TABLES[c.field.ns].alias()
    return select(table.c.run_id).where(table.c.key == c.field.key, _holds(table, c, dialect))


_TABLES: dict[str, Any] = {"metrics": metric_latest, "params": run_params, "tags": run_tags}


def _holds(table: Any, c: Compare, dialect: str) -> ColumnElement[bool]:
    """The comparison on one row of the key's table (or an alias of it)."""
    if c.field.ns != "params":
        return _op(table.c.value, c.op, c.value, dialect)
    if not isinstance(c.value, str):
        return _op(table.c.num, c.op, c.value, dialect)
    # Split on num so each half is a range of the (key, num, text, run_id) index: text
    # values (num IS NULL) by text, and numbers spelled as text.
    text = _op(table.c.text, c.op, c.value, dialect)
    return or_(and_(table.c.num.is_(None), text), and_(table.c.num.is_not(None), text))


def _op(col: Any, op: str, value: float | str, dialect: str) -> ColumnElement[bool]:
    if op in ("~", "!~"):
        match = _glob(col, str(value), dialect)
        return match if op == "~" else not_(match)
    if isinstance(value, str) and op not in ("=", "!=") and dialect == "postgresql":
        # Byte order, as SQLite and Python compare text, whatever the database's locale.
        col = col.collate("C")
    result: ColumnElement[bool]
    if op == "=":
        result = col == value
    elif op == "!=":
        result = col != value
    elif op == "<":
        result = col < value
    elif op == "<=":
        result = col <= value
    elif op == ">":
        result = col > value
    else:
        result = col >= value
    return result


def _glob(col: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # GLOB is case-sensitive like the Python side; `[` is its only other special character.
        return col.op("GLOB", is_comparison=True)(pattern.replace("[", "[[]"))  # type: ignore[no-any-return]
    like = "".join(
        "%" if ch == "*" else "_" if ch == "?" else "\\" + ch if ch in "\\%_" else ch
        for ch in pattern
    )
    return col.like(like, escape="\\")  # type: ignore[no-any-return]


def search_ids(
    conn: Connection,
    *,
    where: str | None = None,
    order_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[str]:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1-{MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, got {offset}")
    dialect = conn.dialect.name
    order = parse_order(order_by) if order_by else Order(Field("run", "start"), True)
    tree = parse(where) if where and where.strip() else None
    # PostgreSQL's planner weighs EXISTS against IN from its statistics; SQLite's cannot
    # see how many rows a value range holds, so it is told, by counting up to a bound.
    counted: dict[Compare, bool] = {}

    def few(c: Compare) -> bool:
        if c not in counted:
            counted[c] = _few(conn, c)
        return counted[c]

    def cond(run_id: ColumnElement[str]) -> ColumnElement[bool]:
        if tree is None:
            return true()
        probe = few if dialect == "sqlite" else None
        return compile_filter(tree, dialect, selective=probe, run_id=run_id)

    if order.field.ns == "run":
        return _page(conn, [_by_column(order).where(cond(runs.c.id))], limit, offset)
    same = [c for c in _conjuncts(tree) if c.field == order.field] if tree else []
    return _page(conn, _by_key(order, cond, tree, same, dialect), limit, offset)


def _reads_runs(expr: Expr | None) -> bool:
    if expr is None:
        return False
    if isinstance(expr, Compare):
        return expr.field.ns == "run"
    if isinstance(expr, Not):
        return _reads_runs(expr.item)
    return _reads_runs(expr.left) or _reads_runs(expr.right)


def _conjuncts(expr: Expr) -> list[Compare]:
    """The comparisons every matching run must satisfy (those joined by `and` at the top)."""
    if isinstance(expr, Compare):
        return [expr]
    if isinstance(expr, And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return []


def _few(conn: Connection, c: Compare) -> bool:
    bounded = matching_ids(c, conn.dialect.name).limit(SELECTIVE_ROWS).subquery()
    count = conn.execute(select(func.count()).select_from(bounded)).scalar_one()
    return int(count) < SELECTIVE_ROWS


def _page(conn: Connection, tiers: list[Select[Any]], limit: int, offset: int) -> list[str]:
    """`limit` ids from `offset` on, across queries whose results follow each other."""
    found: list[str] = []
    skip = offset
    for query in tiers:
        want = limit - len(found)
        if want == 0:
            break
        rows = list(conn.execute(query.limit(want).offset(skip)).scalars())
        if rows:
            skip = 0
        elif skip:
            counted = select(func.count()).select_from(query.subquery())
            skip = max(0, skip - int(conn.execute(counted).scalar_one()))
        found.extend(rows)
    return found


def _by_column(order: Order) -> Select[Any]:
    col = _RUN_COLUMNS[order.field.key]
    key = col.desc() if order.descending else col.asc()
    if col.nullable:
        key = key.nulls_last()
    tie = runs.c.id.desc() if order.descending else runs.c.id.asc()
    return select(runs.c.id).order_by(key, tie)


def _by_key(
    order: Order,
    cond: Callable[[ColumnElement[str]], ColumnElement[bool]],
    tree: Expr | None,
    same: list[Compare],
    dialect: str,
) -> list[Select[Any]]:
    """Runs by the key's value, walking its `(key, value, run_id)` index; for params the
    numbers first, then the text values; then the runs without the key, newest first.

    `same` are the filter's top-level comparisons on the ordering key: they are repeated on
    the joined row, so that the index walk starts and stops at their bounds, and no run
    without the key can match. A filter that reads no run column is checked against the
    key table's rows alone, without a lookup in `runs` for each candidate.
    """
    f = order.field
    tiers: list[tuple[Any, ColumnElement[bool], Any]]
    if f.ns == "metrics":
        tiers = [(metric_latest, metric_latest.c.value.is_not(None), metric_latest.c.value)]
    elif f.ns == "params":
        tiers = [
            (run_params, run_params.c.num.is_not(None), run_params.c.num),
            (run_params, run_params.c.num.is_(None), run_params.c.text),
        ]
    else:
        tiers = [(run_tags, true(), run_tags.c.value)]
    queries: list[Select[Any]] = []
    for table, present, value in tiers:
        keys = (
            (value.desc(), table.c.run_id.desc()) if order.descending else (value, table.c.run_id)
        )
        bounds = [_holds(table, c, dialect) for c in same]
        if _reads_runs(tree):
            query = select(runs.c.id).join(
                table, and_(table.c.run_id == runs.c.id, table.c.key == f.key)
            )
            query = query.where(present, cond(runs.c.id), *bounds)
        else:
            query = select(table.c.run_id).where(
                table.c.key == f.key, present, cond(table.c.run_id), *bounds
            )
        queries.append(query.order_by(*keys))
    if same:
        return queries
    table = tiers[0][0]
    having = select(table.c.run_id).where(table.c.key == f.key)
    if f.ns == "metrics":
        having = having.where(metric_latest.c.value.is_not(None))
    lacking = (
        select(runs.c.id)
        .where(runs.c.id.not_in(having), cond(runs.c.id))
        .order_by(runs.c.start_time.desc(), runs.c.id.desc())
    )
    return [*queries, lacking]
