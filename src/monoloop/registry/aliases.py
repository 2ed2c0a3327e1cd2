"""Aliases: movable names on versions (`champion`, `challenger`), their history, promotion
through the gates, rollback, and marking a pickle-format version trusted.

Every move is one transaction: the alias row, a history row and a ledger event.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from monoloop.errors import Conflict, InvalidInput
from monoloop.registry.gates import CheckReport, GatesFailed, check
from monoloop.registry.model import AliasMove, check_name
from monoloop.registry.record import require_promoter
from monoloop.registry.tables import alias_history, model_aliases, model_versions
from monoloop.registry.versions import aliases_of, resolve
from monoloop.workspace import Workspace


def set_alias(
    ws: Workspace,
    name: str,
    alias: str,
    version: int,
    *,
    action: str = "alias",
    reason: str | None = None,
    forced: bool = False,
    payload: dict[str, Any] | None = None,
) -> AliasMove:
    """Point `name@alias` at `version`."""
    check_name(alias, "alias")
    with ws.db.write() as conn:
        mv = resolve(conn, f"{name}:{version}")
        move = _move(conn, ws, name, alias, mv.version, action, reason, forced, payload)
    _mirror(ws, name, alias, move.version)
    return move


def promote(
    ws: Workspace,
    name: str,
    version: int | None,
    *,
    to: str,
    force: bool = False,
    reason: str | None = None,
) -> tuple[AliasMove, CheckReport]:
    """Run the gates against the alias's holder, then move the alias to `version` (None: the
    latest). Failing gates stop it, unless `force` with a `reason` by someone with the
    promote permission."""
    check_name(alias := to, "alias")
    if force:
        if not reason or not reason.strip():
            raise InvalidInput(
                "a forced promotion needs a reason", hint='add --reason "why the gates are wrong"'
            )
        require_promoter(ws, "force a promotion past failed gates")
    report = check(ws, name, version, against=alias)
    version = report.version.version
    if not report.passed and not force:
        failed = "; ".join(f"{r.gate}: {r.detail}" for r in report.failures)
        raise GatesFailed(
            f"{name}:{version} failed {len(report.failures)} gate(s), {alias} not moved: {failed}",
            hint="fix the model or the data; or, with the promote permission, "
            '--force --reason "..."',
        )
    payload = {
        "gates_passed": report.passed,
        "failed_gates": [r.gate for r in report.failures],
    }
    move = set_alias(
        ws,
        name,
        alias,
        version,
        action="promote",
        reason=reason,
        forced=force and not report.passed,
        payload=payload,
    )
    return move, report


def rollback(ws: Workspace, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
    """Move the alias back to the version that held it before the current holder."""
    check_name(alias, "alias")
    with ws.db.write() as conn:
        resolve(conn, f"{name}@{alias}")
        stack = holders(conn, name, alias)
        if len(stack) < 2:
            raise Conflict(
                f"{name}@{alias} has no earlier holder to roll back to",
                hint=f"see `monoloop models history {name}`",
            )
        move = _move(conn, ws, name, alias, stack[-2], "rollback", reason, False, None)
    _mirror(ws, name, alias, move.version)
    return move


def holders(conn: Connection, name: str, alias: str) -> list[int]:
    """The alias's holders as a stack: each move pushes, each rollback pops."""
    stack: list[int] = []
    rows = conn.execute(
        select(alias_history.c.version, alias_history.c.action)
        .where(alias_history.c.model == name, alias_history.c.alias == alias)
        .order_by(alias_history.c.id)
    )
    for version, action in rows:
        if action == "rollback":
            if stack:
                stack.pop()
        elif version is None:
            stack.clear()
        elif not stack or stack[-1] != version:
            stack.append(version)
    return stack


def remove_alias(ws: Workspace, name: str, alias: str) -> AliasMove:
    with ws.db.write() as conn:
        resolve(conn, f"{name}@{alias}")
        move = _move(conn, ws, name, alias, None, "remove", None, False, None)
    _mirror(ws, name, alias, None)
    return move


def history(ws: Workspace, name: str, alias: str | None = None) -> list[AliasMove]:
    check_name(name)
    query = select(alias_history).where(alias_history.c.model == name)
    if alias is not None:
        query = query.where(alias_history.c.alias == alias)
    with ws.db.read() as conn:
        resolve(conn, name)
        rows = conn.execute(query.order_by(alias_history.c.id)).all()
    return [
        AliasMove(
            r.model, r.alias, r.version, r.previous, r.time, r.actor, r.action, r.reason, r.forced
        )
        for r in rows
    ]


def trust(ws: Workspace, name: str, version: int, *, reason: str) -> None:
    """Mark a version trusted: its pickle-family bytes may then be loaded."""
    require_promoter(ws, "mark a model trusted")
    if not reason or not reason.strip():
        raise InvalidInput("trusting a model needs a reason", hint='add --reason "..."')
    with ws.db.write() as conn:
        mv = resolve(conn, f"{name}:{version}")
        conn.execute(
            update(model_versions)
            .where(model_versions.c.model == name, model_versions.c.version == mv.version)
            .values(trusted_by=ws.actor)
        )
        ws.record(conn, "model.trust", mv.ref, {"format": mv.format, "reason": reason})


def _move(
    conn: Connection,
    ws: Workspace,
    name: str,
    alias: str,
    version: int | None,
    action: str,
    reason: str | None,
    forced: bool,
    payload: dict[str, Any] | None,
) -> AliasMove:
    previous = aliases_of(conn, name).get(alias)
    now = time.time()
    where = (model_aliases.c.model == name) & (model_aliases.c.alias == alias)
    if version is None:
        conn.execute(delete(model_aliases).where(where))
    elif previous is None:
        conn.execute(
            insert(model_aliases).values(model=name, alias=alias, version=version, updated=now)
        )
    else:
        conn.execute(update(model_aliases).where(where).values(version=version, updated=now))
    move = AliasMove(name, alias, version, previous, now, ws.actor, action, reason, forced)
    conn.execute(
        insert(alias_history).values(
            model=name,
            alias=alias,
            version=version,
            previous=previous,
            time=now,
            actor=ws.actor,
            action=action,
            reason=reason,
            forced=forced,
        )
    )
    ws.record(
        conn,
        f"model.{action}",
        f"{name}@{alias}",
        {
            "version": version,
            "previous": previous,
            "reason": reason,
            "forced": forced,
            **(payload or {}),
        },
    )
    return move


def _mirror(ws: Workspace, name: str, alias: str, version: int | None) -> None:
    from monoloop.registry import tags

    tags.after_alias(ws, name, alias, version)
