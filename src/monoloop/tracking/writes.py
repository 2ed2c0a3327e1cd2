"""Every tracking write goes through one `Batch`, applied in one transaction.

The service builds a batch of one operation per call; the SDK's background writer builds
one batch per flush out of thousands of calls. Either way the same code checks the runs
exist, merges repeated writes (the last one wins), keeps `metric_latest` in step with
`metric_history`, and appends the audit events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, update

from monoloop.errors import Conflict, NotFound
from monoloop.store.bulk import insert_rows
from monoloop.tracking.environment import Environment
from monoloop.tracking.model import Artifact, Param, jsonable
from monoloop.tracking.tables import (
    metric_history,
    metric_latest,
    run_artifacts,
    run_io,
    run_params,
    run_tags,
    runs,
)
from monoloop.workspace import Workspace

Point = tuple[str, str, int | None, float, float]
"""(run id, key, step or None for "the next one", value, timestamp): a metric_history row."""

_CHUNK = 500


@dataclass
class NewRun:
    id: str
    start: float
    actor: str
    env: Environment | None
    name: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    params: dict[str, Param] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finish:
    status: str
    end: float
    outputs: dict[str, str] = field(default_factory=dict)
    log_id: str | None = None
    error: str | None = None


@dataclass
class Batch:
    new_runs: dict[str, NewRun] = field(default_factory=dict)
    params: dict[str, dict[str, Param]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    artifacts: dict[str, dict[str, Artifact]] = field(default_factory=dict)
    finishes: dict[str, Finish] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.new_runs
            or self.params
            or self.tags
            or self.points
            or self.artifacts
            or self.finishes
        )

    def add_run(self, run: NewRun) -> None:
        self.new_runs[run.id] = run

    def add_params(self, run_id: str, params: dict[str, Param]) -> None:
        # Params of a run created in the same batch fold into it: one row set, one event.
        new = self.new_runs.get(run_id)
        target = new.params if new is not None else self.params.setdefault(run_id, {})
        target.update(params)

    def add_tags(self, run_id: str, tags: dict[str, str]) -> None:
        new = self.new_runs.get(run_id)
        target = new.tags if new is not None else self.tags.setdefault(run_id, {})
        target.update(tags)

    def add_artifact(self, run_id: str, artifact: Artifact) -> None:
        self.artifacts.setdefault(run_id, {})[artifact.name] = artifact

    def add_finish(self, run_id: str, finish: Finish) -> None:
        if run_id in self.finishes:
            raise Conflict(f"run {run_id} is finished twice", hint="finish a run once")
        self.finishes[run_id] = finish


def apply(ws: Workspace, conn: Connection, batch: Batch) -> None:
    """Write the batch inside the caller's write transaction."""
    existing = _existing_runs(conn, batch)
    for run_id, finish in batch.finishes.items():
        status = existing.get(run_id, "running")
        if status != "running":
            raise Conflict(
                f"run {run_id} is already {status}; it cannot be marked {finish.status}",
                hint="a run is finished once, by whoever started it",
            )
    events: list[tuple[str, str, dict[str, Any]]] = []
    if batch.new_runs:
        _insert_runs(conn, batch, events)
    for run_id, params in batch.params.items():
        insert_rows(
            conn, run_params, [_param_row(run_id, k, p) for k, p in params.items()], upsert=True
        )
        events.append(("run.params", run_id, {"params": _params_payload(params)}))
    for run_id, tags in batch.tags.items():
        insert_rows(conn, run_tags, [(run_id, k, v) for k, v in tags.items()], upsert=True)
        events.append(("run.tags", run_id, {"tags": tags}))
    if batch.points:
        _write_points(conn, batch)
    for run_id, items in batch.artifacts.items():
        insert_rows(
            conn,
            run_artifacts,
            [(run_id, a.name, a.id, a.kind) for a in items.values()],
            upsert=True,
        )
        for a in items.values():
            events.append(("run.artifact", run_id, a.to_dict()))
    _finish(conn, batch, events)
    _record_all(ws, conn, events)


def _existing_runs(conn: Connection, batch: Batch) -> dict[str, str]:
    """The status of every run the batch touches but does not create; NotFound for a stranger."""
    wanted = set(batch.params) | set(batch.tags) | set(batch.artifacts) | set(batch.finishes)
    wanted.update({p[0] for p in batch.points})
    wanted.difference_update(batch.new_runs)
    if not wanted:
        return {}
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(wanted)):
        rows = conn.execute(select(runs.c.id, runs.c.status).where(runs.c.id.in_(chunk)))
        found.update({row.id: row.status for row in rows})
    missing = sorted(wanted - set(found))
    if missing:
        raise NotFound(
            f"no run with id {missing[0]}",
            hint="start a run first (create_run or monoloop.start_run); list runs with "
            "`monoloop runs list`",
        )
    return found


def _insert_runs(conn: Connection, batch: Batch, events: list[tuple[str, str, Any]]) -> None:
    run_rows: list[tuple[Any, ...]] = []
    param_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    io_rows: list[tuple[Any, ...]] = []
    for new in batch.new_runs.values():
        finish = batch.finishes.get(new.id)
        env = new.env
        run_rows.append(
            (
                new.id,
                new.name,
                new.pipeline,
                new.stage,
                finish.status if finish else "running",
                new.start,
                finish.end if finish else None,
                env.git_commit if env else None,
                env.git_dirty if env else None,
                env.python if env else None,
                env.packages_hash if env else None,
                new.actor,
                finish.log_id if finish else None,
                finish.error if finish else None,
            )
        )
        # Most runs have no tags, inputs or outputs: skip building nothing for them.
        if new.params:
            param_rows += [(new.id, k, p.kind, p.text, p.num) for k, p in new.params.items()]
        if new.tags:
            tag_rows += [(new.id, k, v) for k, v in new.tags.items()]
        if new.inputs:
            io_rows += _io_rows(new.id, "in", new.inputs)
        events.append(
            (
                "run.start",
                new.id,
                {
                    "name": new.name,
                    "pipeline": new.pipeline,
                    "stage": new.stage,
                    "git_commit": env.git_commit if env else None,
                    "git_dirty": env.git_dirty if env else None,
                    "params": _params_payload(new.params),
                    "tags": new.tags,
                    "inputs": new.inputs,
                },
            )
        )
        if finish is not None and finish.outputs:
            io_rows += _io_rows(new.id, "out", finish.outputs)
    # Brand-new ids: plain inserts, nothing to conflict with.
    for table, rows in (
        (runs, run_rows),
        (run_params, param_rows),
        (run_tags, tag_rows),
        (run_io, io_rows),
    ):
        insert_rows(conn, table, rows)


def _finish(conn: Connection, batch: Batch, events: list[tuple[str, str, Any]]) -> None:
    for run_id, finish in batch.finishes.items():
        events.append(("run.finish", run_id, _finish_payload(finish)))
        if run_id in batch.new_runs:
            continue  # inserted finished
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status=finish.status,
                end_time=finish.end,
                log_id=finish.log_id,
                error=finish.error,
            )
        )
        insert_rows(conn, run_io, _io_rows(run_id, "out", finish.outputs), upsert=True)


def _write_points(conn: Connection, batch: Batch) -> None:
    """Number "next step" points, store every point, and move each key's latest value."""
    points: list[Point] = batch.points
    if any(p[2] is None for p in points):
        points = _number_steps(conn, batch)
    latest: dict[tuple[str, str], Point] = {}
    finite = True
    for p in points:
        if p[3] != p[3]:
            finite = False
        pair = (p[0], p[1])
        seen = latest.get(pair)
        if seen is None or p[2] >= seen[2]:  # type: ignore[operator]
            latest[pair] = p
    # The last write of a step wins; one statement must not carry a step twice (PostgreSQL).
    rows = list({(p[0], p[1], p[2]): p for p in points}.values())
    if not finite:
        # NaN has no SQLite spelling (it reads back as NULL): both databases store NULL.
        rows = [(r, k, s, None if v != v else v, t) for r, k, s, v, t in rows]  # type: ignore[misc]
    insert_rows(conn, metric_history, rows, upsert=True)
    tops = [(r, k, s, None if v != v else v, t) for r, k, s, v, t in latest.values()]
    insert_rows(conn, metric_latest, tops, upsert=True, newer="step")


def _number_steps(conn: Connection, batch: Batch) -> list[Point]:
    """Give each point without a step the key's next one: one past the highest so far."""
    pending = {(p[0], p[1]) for p in batch.points if p[2] is None and p[0] not in batch.new_runs}
    last_step: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted({r for r, _ in pending})):
        found = conn.execute(
            select(metric_latest.c.run_id, metric_latest.c.key, metric_latest.c.step).where(
                metric_latest.c.run_id.in_(chunk)
            )
        )
        last_step.update({(r.run_id, r.key): r.step for r in found})
    numbered: list[Point] = []
    for run_id, key, step, value, ts in batch.points:
        pair = (run_id, key)
        before = last_step.get(pair, -1)
        if step is None:
            step = before + 1
        if step > before:
            last_step[pair] = step
        numbered.append((run_id, key, step, value, ts))
    return numbered


def _record_all(ws: Workspace, conn: Connection, events: list[tuple[str, str, Any]]) -> None:
    from monoloop.audit import service as audit

    # One chain extension for the whole batch: the SDK creates thousands of runs a second
    # and each makes two events.
    audit.record_events(conn, actor=ws.actor, items=events)


def _param_row(run_id: str, key: str, p: Param) -> tuple[Any, ...]:
    return (run_id, key, p.kind, p.text, p.num)


def _params_payload(params: dict[str, Param]) -> dict[str, Any]:
    return {k: jsonable(p.value()) for k, p in params.items()}


def _io_rows(run_id: str, direction: str, paths: dict[str, str]) -> list[tuple[Any, ...]]:
    return [(run_id, direction, path, oid) for path, oid in paths.items()]


def _finish_payload(finish: Finish) -> dict[str, Any]:
    return {
        "status": finish.status,
        "outputs": finish.outputs,
        "log_id": finish.log_id,
        "error": finish.error,
    }


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
