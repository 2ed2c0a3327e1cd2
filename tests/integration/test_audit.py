"""The audit ledger on both databases: append, query, tamper detection, anchors, concurrency."""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from monoloop.audit import service
from monoloop.errors import Conflict, LedgerBroken, NotFound
from monoloop.store.db import Database
from monoloop.workspace import Workspace, open_workspace


def add(ws: Workspace, n: int, kind: str = "test.event") -> None:
    for i in range(n):
        with ws.db.write() as conn:
            ws.record(conn, kind, f"subject-{i % 3}", {"i": i})


def raw(ws: Workspace, sql: str, **params: object) -> None:
    with ws.db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_init_records_an_event_and_the_chain_verifies(ws: Workspace) -> None:
    events = service.log(ws)
    assert [e.kind for e in events] == ["workspace.init"]
    assert events[0].actor == "tester@example.com"
    report = service.verify(ws)
    assert report.ok and report.count == 1


def test_event_is_written_in_the_callers_transaction(ws: Workspace) -> None:
    with pytest.raises(RuntimeError), ws.db.write() as conn:
        ws.record(conn, "test.event", "s", {})
        raise RuntimeError("the state change failed")
    assert [e.kind for e in service.log(ws)] == ["workspace.init"]
    assert service.verify(ws).ok


def test_log_filters(ws: Workspace) -> None:
    add(ws, 6)
    add(ws, 2, kind="other.thing")
    assert len(service.log(ws, service.EventFilter(subject="subject-1"))) == 3
    assert len(service.log(ws, service.EventFilter(kind="other.thing"))) == 2
    assert len(service.log(ws, service.EventFilter(kind="test.*"))) == 6
    newest = service.log(ws, service.EventFilter(limit=3))
    assert [e.seq for e in newest] == [7, 8, 9]
    assert service.get_event(ws, 2).payload == {"i": 0}
    with pytest.raises(NotFound):
        service.get_event(ws, 999)


def test_export_round_trips_with_hashes(ws: Workspace) -> None:
    add(ws, 3)
    buffer = io.StringIO()
    assert service.export_jsonl(ws, buffer) == 4
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    assert all(lines[i]["prev_hash"] == lines[i - 1]["hash"] for i in range(1, 4))


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE events SET payload = '{\"i\"\\:99}' WHERE seq = 3", 3),
        ("UPDATE events SET actor = 'mallory' WHERE seq = 2", 2),
        ("UPDATE events SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 4", 4),
        ("DELETE FROM events WHERE seq = 3", 3),
    ],
)
def test_raw_sql_tampering_is_detected(ws: Workspace, sql: str, bad_seq: int) -> None:
    add(ws, 4)
    raw(ws, sql)
    report = service.verify(ws)
    assert not report.ok
    assert report.first_bad_seq == bad_seq


def test_reordered_rows_are_detected(ws: Workspace) -> None:
    add(ws, 4)
    # Swap the contents of seq 2 and 3 (via a spare seq, since seq is the key).
    raw(ws, "UPDATE events SET seq = 1000 WHERE seq = 2")
    raw(ws, "UPDATE events SET seq = 2 WHERE seq = 3")
    raw(ws, "UPDATE events SET seq = 3 WHERE seq = 1000")
    report = service.verify(ws)
    assert not report.ok and report.first_bad_seq == 2


def test_deleting_the_newest_events_is_detected_by_the_head(ws: Workspace) -> None:
    add(ws, 4)
    raw(ws, "DELETE FROM events WHERE seq >= 4")
    report = service.verify(ws)
    assert not report.ok and report.first_bad_seq == 4


def test_anchor_catches_a_history_rewritten_whole(ws: Workspace) -> None:
    add(ws, 4)
    anchored = service.anchor(ws)
    assert anchored.created and anchored.seq == 5
    tags = subprocess.run(
        ["git", "tag", "--list"], cwd=ws.root, capture_output=True, text=True, check=True
    ).stdout.split()
    assert anchored.tag in tags
    assert service.anchor(ws).created is False  # idempotent at the same head

    # Rewrite event 3 and recompute every hash after it, head included: only the anchor knows.
    _rewrite_from(ws, 3, {"i": 1, "forged": True})
    plain = service.verify_db(ws.db)
    assert plain.ok, "the forgery is self-consistent without anchors"
    report = service.verify(ws)
    assert not report.ok and report.first_bad_seq == 5
    assert "rewritten" in (report.problem or "")
    with pytest.raises(LedgerBroken):
        service.anchor(ws)


def test_anchor_catches_truncation_after_head_row_is_fixed(ws: Workspace) -> None:
    add(ws, 3)
    service.anchor(ws)
    raw(ws, "DELETE FROM events WHERE seq = 4")
    row = _row(ws, 3)
    raw(ws, "UPDATE ledger_head SET seq = 3, hash = :h", h=row["hash"])
    report = service.verify(ws)
    assert not report.ok and report.first_bad_seq == 4


def test_anchor_tag_with_a_different_hash_is_a_conflict(ws: Workspace) -> None:
    add(ws, 1)
    first = service.anchor(ws)
    _rewrite_from(ws, 2, {"other": 1})
    # Moving the existing anchor would hide the rewrite: refused.
    with pytest.raises((Conflict, LedgerBroken)):
        service.anchor(ws)
    assert first.created


def test_empty_ledger_cannot_be_anchored(repo: Path, db_url: str) -> None:
    (repo / "monoloop.yaml").write_text("version: 1\nproject: p\n")
    (repo / ".monoloop").mkdir()
    with open_workspace(repo, env={"MONOLOOP_DB_URL": db_url}) as ws, pytest.raises(NotFound):
        service.anchor(ws)


def _row(ws: Workspace, seq: int) -> dict[str, object]:
    with ws.db.read() as conn:
        return dict(
            conn.execute(text("SELECT * FROM events WHERE seq = :s"), {"s": seq}).one()._mapping
        )


def _rewrite_from(ws: Workspace, seq: int, payload: dict[str, object]) -> None:
    from monoloop.canonical import canonical_json
    from monoloop.ledger import event_hash

    with ws.db.engine.begin() as conn:
        rows = conn.execute(text("SELECT * FROM events WHERE seq >= :s ORDER BY seq"), {"s": seq})
        rows = [dict(r._mapping) for r in rows]
        prev = conn.execute(text("SELECT hash FROM events WHERE seq = :s"), {"s": seq - 1}).scalar()
        conn.execute(text("DELETE FROM events WHERE seq >= :s"), {"s": seq})
        for i, row in enumerate(rows):
            body = payload if i == 0 else json.loads(row["payload"])
            row["payload"] = canonical_json(body).decode()
            row["prev_hash"] = prev
            row["hash"] = event_hash(
                prev,
                seq=row["seq"],
                time=row["time"],
                actor=row["actor"],
                kind=row["kind"],
                subject=row["subject"],
                payload=body,
            )
            conn.execute(
                text(
                    "INSERT INTO events (seq, time, actor, kind, subject, payload, prev_hash, hash)"
                    " VALUES (:seq, :time, :actor, :kind, :subject, :payload, :prev_hash, :hash)"
                ),
                row,
            )
            prev = row["hash"]
        conn.execute(
            text("UPDATE ledger_head SET seq = :s, hash = :h"), {"s": rows[-1]["seq"], "h": prev}
        )


def _append_many(url: str, n: int, who: str, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    from monoloop.audit.service import append_event

    db = Database.open(url)
    barrier.wait()
    for i in range(n):
        with db.write() as conn:
            append_event(conn, actor=who, kind="test.concurrent", subject=who, payload={"i": i})
    db.close()


@pytest.mark.slow
def test_concurrent_appenders_never_fork_the_chain(ws: Workspace, db_url: str) -> None:
    procs_n, per = 4, 200
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs_n)
    procs = [
        ctx.Process(target=_append_many, args=(db_url, per, f"writer-{k}", barrier))
        for k in range(procs_n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0] * procs_n
    report = service.verify(ws)
    assert report.ok, report.problem
    assert report.count == 1 + procs_n * per
    for k in range(procs_n):
        mine = service.log(ws, service.EventFilter(actor=f"writer-{k}"))
        # Each writer's own events kept their order within the single chain.
        assert [e.payload["i"] for e in mine] == list(range(per))
