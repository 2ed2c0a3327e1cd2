from __future__ import annotations

import json
from dataclasses import replace

import blake3
from hypothesis import given
from hypothesis import strategies as st

from monoloop.canonical import canonical_json
from monoloop.ledger import (
    GENESIS_HASH,
    Anchor,
    StoredEvent,
    chain,
    event_hash,
    next_event,
    verify_chain,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
events_spec = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=12),
        st.text(max_size=12),
        st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    ),
    min_size=1,
    max_size=12,
)


def build(spec: list[tuple[str, str, dict[str, object]]]) -> list[StoredEvent]:
    rows, seq, prev = [], 0, GENESIS_HASH
    for i, (kind, subject, payload) in enumerate(spec):
        event = next_event(
            seq,
            prev,
            time=f"2026-01-01T00:00:{i:02d}.000000Z",
            actor="a",
            kind=kind,
            subject=subject,
            payload=payload,
        )
        rows.append(
            StoredEvent(
                event.seq,
                event.time,
                event.actor,
                event.kind,
                event.subject,
                canonical_json(event.payload).decode(),
                event.prev_hash,
                event.hash,
            )
        )
        seq, prev = event.seq, event.hash
    return rows


@given(events_spec)
def test_an_untouched_chain_verifies(spec: list[tuple[str, str, dict[str, object]]]) -> None:
    rows = build(spec)
    report = verify_chain(rows, head=(rows[-1].seq, rows[-1].hash))
    assert report.ok and report.count == len(rows) and report.head_seq == len(rows)


@given(events_spec, st.data())
def test_any_altered_field_is_caught_at_its_seq(spec, data) -> None:  # type: ignore[no-untyped-def]
    rows = build(spec)
    index = data.draw(st.integers(0, len(rows) - 1))
    field = data.draw(st.sampled_from(["time", "actor", "kind", "subject", "payload"]))
    old = getattr(rows[index], field)
    new = json.dumps({"forged": old}) if field == "payload" else old + "x"
    rows[index] = replace(rows[index], **{field: new})
    report = verify_chain(rows)
    assert not report.ok
    assert report.first_bad_seq == index + 1


@given(events_spec.filter(lambda s: len(s) >= 3), st.data())
def test_a_deleted_event_is_caught(spec, data) -> None:  # type: ignore[no-untyped-def]
    rows = build(spec)
    index = data.draw(st.integers(0, len(rows) - 2))
    del rows[index]
    report = verify_chain(rows)
    assert not report.ok and report.first_bad_seq == index + 1


def test_swapped_events_are_caught() -> None:
    rows = build([("k", "s", {"n": i}) for i in range(5)])
    rows[1], rows[2] = replace(rows[2], seq=2), replace(rows[1], seq=3)
    report = verify_chain(rows)
    assert not report.ok and report.first_bad_seq == 2


def test_truncated_tail_is_caught_by_the_head() -> None:
    rows = build([("k", "s", {"n": i}) for i in range(5)])
    head = (rows[-1].seq, rows[-1].hash)
    report = verify_chain(rows[:3], head=head)
    assert not report.ok and report.first_bad_seq == 4


def test_a_recomputed_chain_is_caught_by_an_anchor() -> None:
    original = build([("k", "s", {"n": i}) for i in range(5)])
    anchor = Anchor(4, original[3].hash, "tag/4")
    forged = build([("k", "s", {"n": 99 if i == 1 else i}) for i in range(5)])
    assert verify_chain(forged, head=(5, forged[-1].hash)).ok
    report = verify_chain(forged, head=(5, forged[-1].hash), anchors=[anchor])
    assert not report.ok and report.first_bad_seq == 4
    assert "rewritten" in (report.problem or "")
    assert verify_chain(original, anchors=[anchor]).anchors_checked == ["tag/4"]


def test_an_anchor_past_the_end_means_deleted_events() -> None:
    rows = build([("k", "s", {"n": i}) for i in range(5)])
    report = verify_chain(rows[:2], anchors=[Anchor(5, rows[4].hash, "tag/5")])
    assert not report.ok and report.first_bad_seq == 3


def test_payload_that_is_not_json_is_reported() -> None:
    rows = build([("k", "s", {})])
    rows[0] = replace(rows[0], payload="{nope")
    report = verify_chain(rows)
    assert not report.ok and "not JSON" in (report.problem or "")


@given(st.integers(1, 2**62), st.text(), st.text(), st.text(min_size=1), st.text(), json_values)
def test_the_hash_covers_the_canonical_json_of_the_whole_event(  # type: ignore[no-untyped-def]
    seq, time, actor, kind, subject, payload
) -> None:
    # The hash is spelled out field by field for speed; it must stay the documented one.
    event = {"seq": seq, "time": time, "actor": actor, "kind": kind, "subject": subject}
    body = canonical_json({**event, "payload": payload})
    expected = blake3.blake3(GENESIS_HASH.encode() + b"\n" + body).hexdigest()
    assert event_hash(GENESIS_HASH, payload=payload, **event) == expected


def stored(rows: list[tuple[int, str, str, str, str, str, str, str]]) -> list[StoredEvent]:
    return [StoredEvent(*row) for row in rows]


@given(events_spec)
def test_chained_rows_are_the_events_next_event_makes(spec) -> None:  # type: ignore[no-untyped-def]
    rows = chain(0, GENESIS_HASH, time="2026-01-01T00:00:00.000000Z", actor="a", items=spec)
    seq, prev = 0, GENESIS_HASH
    for row, (kind, subject, payload) in zip(rows, spec, strict=True):
        event = next_event(
            seq, prev, time=row[1], actor="a", kind=kind, subject=subject, payload=payload
        )
        assert (event.seq, event.prev_hash, event.hash) == (row[0], row[6], row[7])
        assert canonical_json(event.payload).decode() == row[5]
        seq, prev = event.seq, event.hash
    assert verify_chain(stored(rows), head=(seq, prev)).ok


def test_payloads_that_change_on_a_round_trip_are_stored_as_they_read_back() -> None:
    # Keys that are not strings read back as strings (and sort as such: "10" < "9"), tuples
    # as lists, float subclasses as floats: what is stored and hashed is the read-back form,
    # so the chain verifies.
    class Score(float):
        pass

    payloads = [{"by_class": {9: "a", 10: "b"}}, {"pair": (1, 2)}, {"f": Score(0.5), "n": None}]
    items = [("k", "s", p) for p in payloads]
    rows = chain(0, GENESIS_HASH, time="t", actor="a", items=items)
    assert rows[0][5] == '{"by_class":{"10":"b","9":"a"}}'
    assert rows[1][5] == '{"pair":[1,2]}'
    assert verify_chain(stored(rows), head=(3, rows[-1][7])).ok


# Values whose JSON changes on a round trip: integer keys (they come back as strings, sorted
# as strings) and tuples (they come back as lists).
changing_values = st.recursive(
    st.none() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.integers(-50, 50), inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(st.lists(st.dictionaries(st.text(max_size=4), changing_values, max_size=3), min_size=1))
def test_any_payload_chains_into_a_verifiable_chain(payloads) -> None:  # type: ignore[no-untyped-def]
    rows = chain(0, GENESIS_HASH, time="t", actor="a", items=[("k", "s", p) for p in payloads])
    assert verify_chain(stored(rows), head=(len(rows), rows[-1][7])).ok
