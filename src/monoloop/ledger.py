"""The audit chain as plain data: hashing events and verifying a sequence of them.

Each event's hash is BLAKE3 over the previous event's hash and the event's own
canonical JSON (seq, time, actor, kind, subject, payload). Changing, removing or
reordering any event breaks every hash after it; anchors kept outside the DB
catch a chain that was recomputed whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import blake3

from monoloop.canonical import canonical_json

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Event:
    seq: int
    time: str
    actor: str
    kind: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "kind": self.kind,
            "subject": self.subject,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            d["seq"],
            d["time"],
            d["actor"],
            d["kind"],
            d["subject"],
            d["payload"],
            d["prev_hash"],
            d["hash"],
        )


@dataclass(frozen=True)
class StoredEvent:
    """An event row as read back from storage: the payload still as its stored text."""

    seq: int
    time: str
    actor: str
    kind: str
    subject: str
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Anchor:
    """A (seq, hash) pair recorded outside the DB, and where it was recorded."""

    seq: int
    hash: str
    where: str


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    anchors_checked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "anchors_checked": self.anchors_checked,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChainReport:
        return cls(
            d["ok"],
            d["count"],
            d["head_seq"],
            d["head_hash"],
            d["first_bad_seq"],
            d["problem"],
            list(d["anchors_checked"]),
        )


def now() -> str:
    """Event time: UTC, microseconds, fixed width, so it sorts and hashes the same everywhere."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Row = tuple[int, str, str, str, str, str, str, str]
"""An event as stored: seq, time, actor, kind, subject, payload (canonical JSON text),
prev hash, hash."""


def event_hash(
    prev_hash: str,
    *,
    seq: int,
    time: str,
    actor: str,
    kind: str,
    subject: str,
    payload: Any,
) -> str:
    enc = canonical_json
    return _digest(prev_hash, seq, enc(time), enc(actor), enc(kind), enc(subject), enc(payload))


def _digest(
    prev_hash: str, seq: int, time: bytes, actor: bytes, kind: bytes, subject: bytes, payload: bytes
) -> str:
    """BLAKE3 over the previous hash and the event's canonical JSON, given its encoded parts.

    The JSON object is spelled out in its sorted key order (actor, kind, payload, seq,
    subject, time): the same bytes `canonical_json` makes of the whole event (a test holds
    the two together), without encoding each payload twice.
    """
    body = b"".join(
        (
            b'{"actor":',
            actor,
            b',"kind":',
            kind,
            b',"payload":',
            payload,
            b',"seq":',
            b"%d" % seq,
            b',"subject":',
            subject,
            b',"time":',
            time,
            b"}",
        )
    )
    return blake3.blake3(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def payload_json(payload: Any) -> bytes:
    """The payload's canonical JSON as it is hashed and stored: the bytes that reading it
    back and encoding it again gives, so a verifier recomputes the same hash. Only a dict
    key that is not a string changes on that round trip (it becomes one, and sorts as one);
    a value JSON cannot hold fails here."""
    text = canonical_json(payload)
    if not _string_keys(payload):
        text = canonical_json(json.loads(text))
    return text


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _string_keys(value: Any) -> bool:
    """Whether every dict key inside `value` is a str (leaves encode the same either way).

    Plain loops: this runs for every event appended, and `all()` over a generator costs
    twice as much here."""
    if isinstance(value, dict):
        for key in value:
            if type(key) is not str:
                return False
        items: Iterable[Any] = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return True
    for item in items:  # noqa: SIM110 (see the docstring)
        if type(item) not in _LEAVES and not _string_keys(item):
            return False
    return True


def next_event(
    prev_seq: int,
    prev_hash: str,
    *,
    time: str,
    actor: str,
    kind: str,
    subject: str,
    payload: dict[str, Any],
) -> Event:
    # The event carries exactly what is hashed and stored (tuples become lists).
    row = chain(prev_seq, prev_hash, time=time, actor=actor, items=[(kind, subject, payload)])[0]
    return Event(
        seq=row[0],
        time=time,
        actor=actor,
        kind=kind,
        subject=subject,
        payload=json.loads(row[5]),
        prev_hash=prev_hash,
        hash=row[7],
    )


def chain(
    prev_seq: int,
    prev_hash: str,
    *,
    time: str,
    actor: str,
    items: Iterable[tuple[str, str, Any]],
) -> list[Row]:
    """Events (kind, subject, payload) linked after (prev_seq, prev_hash), as rows to store."""
    rows: list[Row] = []
    seq, prev = prev_seq, prev_hash
    encoded_time, encoded_actor = canonical_json(time), canonical_json(actor)
    kinds: dict[str, bytes] = {}
    for kind, subject, payload in items:
        seq += 1
        encoded_kind = kinds.get(kind)
        if encoded_kind is None:
            encoded_kind = kinds[kind] = canonical_json(kind)
        text = payload_json(payload)
        digest = _digest(
            prev, seq, encoded_time, encoded_actor, encoded_kind, canonical_json(subject), text
        )
        rows.append((seq, time, actor, kind, subject, text.decode("utf-8"), prev, digest))
        prev = digest
    return rows


def verify_chain(
    rows: Iterable[StoredEvent],
    *,
    head: tuple[int, str] | None = None,
    anchors: Iterable[Anchor] = (),
) -> ChainReport:
    """Check the chain in seq order, then the recorded head, then every anchor.

    Names the first bad seq: the first event whose link, content or position is wrong.
    """
    by_seq: dict[int, str] = {}
    anchors = sorted(anchors, key=lambda a: a.seq)
    wanted = {a.seq for a in anchors}
    prev_seq, prev_hash, count = 0, GENESIS_HASH, 0

    def fail(seq: int, problem: str) -> ChainReport:
        return ChainReport(False, count, prev_seq, prev_hash, seq, problem)

    for row in rows:
        expected_seq = prev_seq + 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                return fail(expected_seq, f"event seq {expected_seq} is missing")
            return fail(row.seq, f"event seq {row.seq} is out of order")
        if row.prev_hash != prev_hash:
            return fail(row.seq, f"event seq {row.seq} does not link to event seq {prev_seq}")
        try:
            payload = json.loads(row.payload)
        except ValueError:
            return fail(row.seq, f"event seq {row.seq} has a payload that is not JSON")
        digest = event_hash(
            prev_hash,
            seq=row.seq,
            time=row.time,
            actor=row.actor,
            kind=row.kind,
            subject=row.subject,
            payload=payload,
        )
        if digest != row.hash:
            return fail(row.seq, f"event seq {row.seq} was altered: its hash does not match")
        prev_seq, prev_hash = row.seq, row.hash
        count += 1
        if row.seq in wanted:
            by_seq[row.seq] = row.hash

    if head is not None and head != (prev_seq, prev_hash):
        if head[0] > prev_seq:
            return fail(
                prev_seq + 1, f"events after seq {prev_seq} were deleted (head is {head[0]})"
            )
        return fail(head[0], "the recorded ledger head does not match the chain")

    checked = []
    for anchor in anchors:
        if anchor.seq < 1:
            return fail(0, f"anchor {anchor.where} cannot be read: it was altered")
        if anchor.seq > prev_seq:
            return fail(
                prev_seq + 1,
                f"anchor {anchor.where} records seq {anchor.seq}, "
                f"but the chain ends at seq {prev_seq}: events were deleted",
            )
        if by_seq.get(anchor.seq) != anchor.hash:
            return fail(
                anchor.seq,
                f"anchor {anchor.where} records a different hash for seq {anchor.seq}: "
                "the history was rewritten",
            )
        checked.append(anchor.where)
    return ChainReport(True, count, prev_seq, prev_hash, anchors_checked=checked)
