"""The audit ledger over the metadata DB: append, query, verify, export, anchor."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import Connection, Select, select, update

from monoloop.audit import anchors
from monoloop.audit.tables import events, ledger_head
from monoloop.canonical import canonical_json
from monoloop.errors import InvalidInput, LedgerBroken, NotFound
from monoloop.ledger import (
    Anchor,
    ChainReport,
    Event,
    Row,
    StoredEvent,
    chain,
    now,
    verify_chain,
)
from monoloop.store.bulk import insert_rows
from monoloop.store.db import Database
from monoloop.workspace import Workspace

_MAX_KIND = 100
_MAX_SUBJECT = 500


def append_event(
    conn: Connection, *, actor: str, kind: str, subject: str, payload: dict[str, Any]
) -> Event:
    """Append one event inside the caller's write transaction."""
    return append_events(conn, actor=actor, items=[(kind, subject, payload)])[0]


def append_events(
    conn: Connection, *, actor: str, items: Sequence[tuple[str, str, dict[str, Any]]]
) -> list[Event]:
    """Append events (kind, subject, payload), in order, inside the caller's transaction."""
    return [
        Event(seq, time, actor, kind, subject, json.loads(payload), prev_hash, hash)
        for seq, time, actor, kind, subject, payload, prev_hash, hash in _append(conn, actor, items)
    ]


def record_events(
    conn: Connection, *, actor: str, items: Sequence[tuple[str, str, dict[str, Any]]]
) -> None:
    """`append_events` for a caller that needs nothing back: the SDK's writer, which records
    thousands of events a second, skips decoding each stored payload again."""
    _append(conn, actor, items)


def _append(
    conn: Connection, actor: str, items: Sequence[tuple[str, str, dict[str, Any]]]
) -> list[Row]:
    """Lock the head row first, so concurrent appenders queue up and each one links to the
    event committed before it: the chain never forks. One insert and one head update for
    however many events."""
    if not items:
        return []
    for kind, subject, _ in items:
        if not kind or len(kind) > _MAX_KIND:
            raise InvalidInput(f"event kind must be 1-{_MAX_KIND} characters, got {kind!r}")
        if len(subject) > _MAX_SUBJECT:
            raise InvalidInput(f"event subject is longer than {_MAX_SUBJECT} characters")
    head = conn.execute(
        select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1).with_for_update()
    ).one()
    rows = chain(head.seq, head.hash, time=now(), actor=actor, items=items)
    insert_rows(conn, events, rows)
    last = rows[-1]
    conn.execute(update(ledger_head).where(ledger_head.c.id == 1).values(seq=last[0], hash=last[7]))
    return rows


@dataclass(frozen=True)
class EventFilter:
    subject: str | None = None
    kind: str | None = None
    actor: str | None = None
    after: int | None = None
    limit: int | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.subject is not None:
            query = query.where(events.c.subject == self.subject)
        if self.kind is not None:
            # `model.*` matches every kind under `model.`.
            if self.kind.endswith(".*"):
                query = query.where(events.c.kind.startswith(self.kind[:-1], autoescape=True))
            else:
                query = query.where(events.c.kind == self.kind)
        if self.actor is not None:
            query = query.where(events.c.actor == self.actor)
        if self.after is not None:
            query = query.where(events.c.seq > self.after)
        return query


def log(ws: Workspace, filters: EventFilter | None = None) -> list[Event]:
    """Events matching the filters, newest last; `limit` keeps the newest N."""
    filters = filters or EventFilter()
    if filters.limit is not None and filters.limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {filters.limit}")
    query = filters.apply(select(events))
    if filters.limit is not None:
        query = query.order_by(events.c.seq.desc()).limit(filters.limit)
    else:
        query = query.order_by(events.c.seq)
    with ws.db.read() as conn:
        rows = conn.execute(query).all()
    found = [_to_event(row) for row in rows]
    return sorted(found, key=lambda e: e.seq)


def get_event(ws: Workspace, seq: int) -> Event:
    with ws.db.read() as conn:
        row = conn.execute(select(events).where(events.c.seq == seq)).first()
    if row is None:
        raise NotFound(
            f"no audit event with seq {seq}", hint="list events with `monoloop audit log`"
        )
    return _to_event(row)


def _to_event(row: Any) -> Event:
    return Event(
        row.seq,
        row.time,
        row.actor,
        row.kind,
        row.subject,
        json.loads(row.payload),
        row.prev_hash,
        row.hash,
    )


def _stored(conn: Connection) -> Iterator[StoredEvent]:
    result = conn.execution_options(yield_per=2000).execute(select(events).order_by(events.c.seq))
    for row in result:
        yield StoredEvent(
            row.seq,
            row.time,
            row.actor,
            row.kind,
            row.subject,
            row.payload,
            row.prev_hash,
            row.hash,
        )


def verify(ws: Workspace) -> ChainReport:
    """Verify the whole chain, its recorded head and every Git anchor. Never raises on a break."""
    found_anchors = anchors.read_anchors(
        ws.root, prefix=ws.config.audit.anchor_prefix, project=ws.config.project
    )
    return verify_db(ws.db, found_anchors)


def verify_db(db: Database, found_anchors: Iterable[Anchor] = ()) -> ChainReport:
    """Verify the chain stored in `db` against its head row and the given anchors."""
    with db.read() as conn:
        head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).all()
        recorded = (head[0].seq, head[0].hash) if len(head) == 1 else (-1, "")
        return verify_chain(_stored(conn), head=recorded, anchors=found_anchors)


def export_jsonl(ws: Workspace, out: TextIO, filters: EventFilter | None = None) -> int:
    """Write events as JSON lines (with their hashes, so the export can be re-verified)."""
    count = 0
    with ws.db.read() as conn:
        query = (filters or EventFilter()).apply(select(events)).order_by(events.c.seq)
        for row in conn.execution_options(yield_per=2000).execute(query):
            out.write(canonical_json(_to_event(row).to_dict()).decode("utf-8") + "\n")
            count += 1
    return count


@dataclass(frozen=True)
class AnchorResult:
    tag: str
    seq: int
    hash: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "seq": self.seq, "hash": self.hash, "created": self.created}


def anchor(ws: Workspace) -> AnchorResult:
    """Record the verified head of the chain in Git as an annotated tag."""
    report = verify(ws)
    if not report.ok:
        raise LedgerBroken(
            f"refusing to anchor a broken chain: {report.problem}",
            seq=report.first_bad_seq,
            hint="investigate with `monoloop audit verify`; only a sound chain may be anchored",
        )
    if report.head_seq == 0:
        raise NotFound("the audit ledger is empty: nothing to anchor")
    tag, created = anchors.write_anchor(
        ws.root,
        prefix=ws.config.audit.anchor_prefix,
        project=ws.config.project,
        seq=report.head_seq,
        hash=report.head_hash,
        time=now(),
        actor=ws.actor,
    )
    return AnchorResult(tag, report.head_seq, report.head_hash, created)
