"""Retraining cycles, persisted: each is a small state machine the controller advances.

    open ─ triggered ─> retraining ─> registered ─> canary ─> promoted
                             │             │           └────> rolled_back
                             └> failed     └> rejected (gates)

`state` is open until the cycle ends (promoted, rejected, rolled_back or failed); `step`
says where an open cycle is. Every move is a compare-and-set on `step` in one
transaction with its ledger event (`ct.<step or state>`, subject `ct:POLICY`), so two
controllers never take the same step twice and a restarted one resumes where the
records say. Each event names the cycle, the monitor result that triggered it, the
versions involved and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, select, update

from monoloop.ct.tables import ct_cycles
from monoloop.errors import InvalidInput, NotFound
from monoloop.workspace import Workspace

OPEN, PROMOTED, REJECTED, ROLLED_BACK, FAILED = (
    "open",
    "promoted",
    "rejected",
    "rolled_back",
    "failed",
)
ENDED = (PROMOTED, REJECTED, ROLLED_BACK, FAILED)
TRIGGERED, RETRAINING, REGISTERED, CANARY, DONE = (
    "triggered",
    "retraining",
    "registered",
    "canary",
    "done",
)
DAY = 86400.0


@dataclass
class Cycle:
    id: int
    policy: str
    deployment: str
    model: str
    state: str
    step: str
    started: float
    updated: float
    ended: float | None
    trigger_result: int | None
    champion: int | None
    challenger: int | None
    canary_started: float | None
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def subject(self) -> str:
        return f"ct:{self.policy}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Decision:
    policy: str
    action: str  # idle | skipped | waiting | error | or the step or state the cycle moved to
    reason: str
    cycle: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _cycle(row: Any) -> Cycle:
    return Cycle(
        id=row.id,
        policy=row.policy,
        deployment=row.deployment,
        model=row.model,
        state=row.state,
        step=row.step,
        started=row.started,
        updated=row.updated,
        ended=row.ended,
        trigger_result=row.trigger_result,
        champion=row.champion,
        challenger=row.challenger,
        canary_started=row.canary_started,
        decisions=json.loads(row.decisions),
    )


def event_payload(cycle: Cycle, **extra: Any) -> dict[str, Any]:
    return {
        "cycle": cycle.id,
        "policy": cycle.policy,
        "deployment": cycle.deployment,
        "model": cycle.model,
        "champion": cycle.champion,
        "challenger": cycle.challenger,
        "trigger": cycle.trigger_result,
        "state": cycle.state,
        "step": cycle.step,
        **extra,
    }


def open_cycle(
    ws: Workspace,
    *,
    policy: str,
    deployment: str,
    model: str,
    champion: int | None,
    trigger: int,
    reason: str,
    now: float,
) -> Cycle | None:
    """Start a cycle; None when the policy already has an open one (the unique open_key)."""
    decision = {"time": now, "step": TRIGGERED, "reason": reason, "trigger": trigger}
    try:
        with ws.db.write() as conn:
            inserted = conn.execute(
                insert(ct_cycles).values(
                    policy=policy,
                    deployment=deployment,
                    model=model,
                    state=OPEN,
                    step=TRIGGERED,
                    open_key=policy,
                    started=now,
                    updated=now,
                    trigger_result=trigger,
                    champion=champion,
                    decisions=json.dumps([decision]),
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            cycle = get_cycle_in(conn, int(key[0]))
            ws.record(conn, "ct.trigger", cycle.subject, event_payload(cycle, reason=reason))
    except sa_exc.IntegrityError:
        return None
    return cycle


def move(
    ws: Workspace,
    cycle: Cycle,
    *,
    now: float,
    reason: str,
    step: str | None = None,
    state: str | None = None,
    event: str | None = None,
    **changes: Any,
) -> Cycle | None:
    """Take one step: `step` for an open cycle, or end it with `state`. Returns the cycle as
    stored, or None when another controller moved it first (nothing is changed)."""
    if state is not None and state not in ENDED:
        raise InvalidInput(f"a cycle ends promoted, rejected, rolled_back or failed, not {state}")
    new_step = DONE if state is not None else step
    assert new_step is not None
    decision = {"time": now, "step": state or new_step, "reason": reason}
    decision.update({k: v for k, v in changes.pop("details", {}).items()})
    values: dict[str, Any] = {"step": new_step, "updated": now, **changes}
    if state is not None:
        values.update(state=state, ended=now, open_key=None)
    with ws.db.write() as conn:
        moved = conn.execute(
            update(ct_cycles)
            .where(
                ct_cycles.c.id == cycle.id,
                ct_cycles.c.step == cycle.step,
                ct_cycles.c.state == OPEN,
            )
            .values(**values, decisions=json.dumps([*cycle.decisions, decision], default=str))
        )
        if moved.rowcount != 1:
            return None
        stored = get_cycle_in(conn, cycle.id)
        extra = {k: v for k, v in decision.items() if k not in ("time", "step")}
        ws.record(
            conn, f"ct.{event or state or new_step}", stored.subject, event_payload(stored, **extra)
        )
    return stored


def get_cycle_in(conn: Any, cycle_id: int) -> Cycle:
    row = conn.execute(select(ct_cycles).where(ct_cycles.c.id == cycle_id)).first()
    if row is None:
        raise NotFound(f"no retraining cycle {cycle_id}", hint="see `monoloop controller --status`")
    return _cycle(row)


def get_cycle(ws: Workspace, cycle_id: int) -> Cycle:
    with ws.db.read() as conn:
        return get_cycle_in(conn, cycle_id)


def open_cycle_of(ws: Workspace, policy: str) -> Cycle | None:
    with ws.db.read() as conn:
        row = conn.execute(select(ct_cycles).where(ct_cycles.c.open_key == policy)).first()
    return _cycle(row) if row is not None else None


def last_cycle(ws: Workspace, policy: str) -> Cycle | None:
    with ws.db.read() as conn:
        row = conn.execute(
            select(ct_cycles)
            .where(ct_cycles.c.policy == policy)
            .order_by(ct_cycles.c.id.desc())
            .limit(1)
        ).first()
    return _cycle(row) if row is not None else None


def started_since(ws: Workspace, policy: str, since: float) -> int:
    with ws.db.read() as conn:
        found = conn.execute(
            select(func.count())
            .select_from(ct_cycles)
            .where(ct_cycles.c.policy == policy, ct_cycles.c.started > since)
        ).scalar()
    return int(found or 0)


def list_cycles(ws: Workspace, policy: str | None = None, *, limit: int = 50) -> list[Cycle]:
    """Cycles, newest first."""
    query = select(ct_cycles).order_by(ct_cycles.c.id.desc()).limit(limit)
    if policy is not None:
        query = query.where(ct_cycles.c.policy == policy)
    with ws.db.read() as conn:
        return [_cycle(r) for r in conn.execute(query)]
