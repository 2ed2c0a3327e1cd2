"""Experiment tracking: the functions the CLI, the SDK, pipelines and the server all call.

    run_id = create_run(ws, name="baseline", params={"lr": 0.1})
    log_metrics(ws, run_id, {"loss": 0.3}, step=1)
    finish_run(ws, run_id)
    search_runs(ws, where="metrics.loss < 0.5 and params.lr = 0.1", order_by="metrics.loss")

Each write is one transaction with its audit events (`run.start`, `run.params`, `run.tags`,
`run.artifact`, `run.finish`); metric points are not audited one by one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from monoloop.errors import Conflict, InvalidInput, NotFound
from monoloop.hashing import is_id
from monoloop.tracking import environment
from monoloop.tracking.model import (
    FINAL_STATUSES,
    Artifact,
    Param,
    Run,
    check_key,
    check_metric,
    check_prefix,
    check_run_id,
    check_step,
    check_text,
    new_run_id,
)
from monoloop.tracking.tables import (
    ID_LEN,
    metric_latest,
    run_artifacts,
    run_io,
    run_params,
    run_tags,
    runs,
)
from monoloop.tracking.tables import (
    metric_history as history_table,
)
from monoloop.tracking.writes import Batch, Finish, NewRun, Point, apply
from monoloop.workspace import Workspace

__all__ = [
    "Run",
    "apply_batch",
    "create_run",
    "finish_run",
    "get_run",
    "log_artifact",
    "log_metric_batch",
    "log_metrics",
    "log_params",
    "metric_history",
    "producers",
    "resolve_run_id",
    "search_runs",
    "set_tags",
]


def create_run(
    ws: Workspace,
    *,
    name: str | None = None,
    pipeline: str | None = None,
    stage: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
    run_id: str | None = None,
    env: environment.Environment | None = None,
) -> str:
    """Start a run (status "running") and return its id; records the code and environment
    (`env`, or the workspace's own: a server records what its remote client ran on)."""
    new = new_run(
        ws.actor,
        run_id=run_id,
        name=name,
        pipeline=pipeline,
        stage=stage,
        tags=tags,
        params=params,
        inputs=inputs,
        env=env or environment.capture(ws.root),
    )
    batch = Batch()
    batch.add_run(new)
    apply_batch(ws, batch)
    return new.id


def apply_batch(ws: Workspace, batch: Batch) -> None:
    """Write a batch of validated operations (see `writes`) in one transaction: what the
    SDK's writer flushes, locally or through a server. A new run's id must be new."""
    with ws.db.write() as conn:
        if batch.new_runs:
            ids = list(batch.new_runs)
            for i in range(0, len(ids), 500):
                taken = conn.execute(
                    select(runs.c.id).where(runs.c.id.in_(ids[i : i + 500])).limit(1)
                ).scalar()
                if taken is not None:
                    raise Conflict(
                        f"a run with id {taken} already exists", hint="leave run_id unset"
                    )
        apply(ws, conn, batch)


def new_run(
    actor: str,
    *,
    run_id: str | None = None,
    name: str | None = None,
    pipeline: str | None = None,
    stage: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
    env: environment.Environment | None = None,
    start: float | None = None,
) -> NewRun:
    """A validated run to create; the SDK builds these on the caller's thread."""
    return NewRun(
        id=new_run_id() if run_id is None else check_run_id(run_id),
        start=time.time() if start is None else start,
        actor=actor,
        env=env,
        name=None if name is None else check_text(name, "run name"),
        pipeline=None if pipeline is None else check_text(pipeline, "pipeline name"),
        stage=None if stage is None else check_text(stage, "stage name"),
        params=check_params(params or {}),
        tags=check_tags(tags or {}),
        inputs=check_paths(inputs or {}, "inputs"),
    )


def check_params(params: dict[str, Any]) -> dict[str, Param]:
    return {key: Param.of(key, value) for key, value in params.items()}


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    return {check_key(k, "tag key"): check_text(v, f"tag {k!r}") for k, v in tags.items()}


def check_paths(paths: dict[str, str], what: str) -> dict[str, str]:
    for path, content_id in paths.items():
        check_text(path, f"a path in {what}")
        if not is_id(content_id):
            raise InvalidInput(
                f"{what}[{path!r}] is not a content id: {content_id!r}",
                hint="pass {path: 'b3:<64 hex>'}, the id the object store gave",
            )
    return dict(paths)


def log_params(ws: Workspace, run_id: str, params: dict[str, Any]) -> None:
    batch = Batch()
    batch.add_params(check_run_id(run_id), check_params(params))
    apply_batch(ws, batch)


def log_metrics(
    ws: Workspace, run_id: str, metrics: dict[str, float], *, step: int | None = None
) -> None:
    """Log metrics at `step`; with no step, each key's next step (0 for the first point)."""
    check_run_id(run_id)
    step = check_step(step)
    now = time.time()
    points = [(run_id, k, step, check_metric(k, v), now) for k, v in metrics.items()]
    log_points(ws, points)


def log_metric_batch(
    ws: Workspace, run_id: str, points: Sequence[tuple[str, float, int | None, float]]
) -> None:
    """Log many points at once: (key, value, step or None, timestamp)."""
    check_run_id(run_id)
    checked: list[Point] = []
    for key, value, step, ts in points:
        checked.append((run_id, key, check_step(step), check_metric(key, value), float(ts)))
    log_points(ws, checked)


def log_points(ws: Workspace, points: list[Point]) -> None:
    """Already validated points, for any runs (the SDK's writer uses this too)."""
    if points:
        batch = Batch()
        batch.points.extend(points)
        apply_batch(ws, batch)


def set_tags(ws: Workspace, run_id: str, tags: dict[str, str]) -> None:
    batch = Batch()
    batch.add_tags(check_run_id(run_id), check_tags(tags))
    apply_batch(ws, batch)


def log_artifact(ws: Workspace, run_id: str, path: Path, *, name: str | None = None) -> str:
    """Store a file or a directory in the object store and attach it to the run; returns its id."""
    artifact = store_artifact(ws, path, name=name)
    batch = Batch()
    batch.add_artifact(check_run_id(run_id), artifact)
    apply_batch(ws, batch)
    return artifact.id


def store_artifact(ws: Workspace, path: Path, *, name: str | None = None) -> Artifact:
    path = Path(path)
    label = check_text(name if name is not None else path.name, "artifact name")
    if path.is_dir():
        return Artifact(label, ws.objects.put_tree(path), "dir")
    if path.is_file():
        return Artifact(label, ws.objects.put_file(path), "file")
    raise NotFound(f"no file or directory at {path}", hint="log an artifact after writing it")


def finish_run(
    ws: Workspace,
    run_id: str,
    *,
    status: str = "finished",
    outputs: dict[str, str] | None = None,
    log_id: str | None = None,
    error: str | None = None,
) -> None:
    """End a running run as finished, failed or killed; Conflict if it has already ended."""
    batch = Batch()
    batch.add_finish(check_run_id(run_id), make_finish(status, outputs, log_id, error))
    apply_batch(ws, batch)


def make_finish(
    status: str,
    outputs: dict[str, str] | None = None,
    log_id: str | None = None,
    error: str | None = None,
    end: float | None = None,
) -> Finish:
    if status not in FINAL_STATUSES:
        raise InvalidInput(
            f"a run cannot finish with status {status!r}",
            hint="use one of: " + ", ".join(FINAL_STATUSES),
        )
    if log_id is not None and not is_id(log_id):
        raise InvalidInput(f"log_id is not a content id: {log_id!r}")
    return Finish(
        status=status,
        end=time.time() if end is None else end,
        outputs=check_paths(outputs or {}, "outputs"),
        log_id=log_id,
        error=error,
    )


# Reading ------------------------------------------------------------------------------------


def resolve_run_id(conn: Connection, text: str) -> str:
    """The full id of the one run whose id starts with `text` (at least 6 hex digits)."""
    prefix = check_prefix(text)
    if len(prefix) == ID_LEN:
        query = select(runs.c.id).where(runs.c.id == prefix)
    else:
        # hex digits sort below "g": the range reads the primary key index on both databases.
        query = select(runs.c.id).where(runs.c.id >= prefix, runs.c.id < prefix + "g").limit(2)
    found = list(conn.execute(query).scalars())
    if not found:
        raise NotFound(f"no run with id {text!r}", hint="list runs with `monoloop runs list`")
    if len(found) > 1:
        raise InvalidInput(
            f"run id prefix {text!r} is ambiguous: it matches {found[0]} and {found[1]}",
            hint="give more digits of the id",
        )
    return str(found[0])


def get_run(ws: Workspace, run_id: str) -> Run:
    with ws.db.read() as conn:
        return load_runs(conn, [resolve_run_id(conn, run_id)])[0]


def load_runs(conn: Connection, ids: list[str]) -> list[Run]:
    """Whole runs for `ids`, in that order."""
    found: dict[str, Run] = {}
    for row in conn.execute(select(runs).where(runs.c.id.in_(ids))):
        found[row.id] = Run(
            id=row.id,
            name=row.name,
            pipeline=row.pipeline,
            stage=row.stage,
            status=row.status,
            start=row.start_time,
            end=row.end_time,
            git_commit=row.git_commit,
            git_dirty=row.git_dirty,
            python=row.python,
            packages_hash=row.packages_hash,
            actor=row.actor,
            error=row.error,
            log_id=row.log_id,
        )
    for p in conn.execute(select(run_params).where(run_params.c.run_id.in_(ids))):
        found[p.run_id].params[p.key] = Param(p.kind, p.text, p.num).value()
    for t in conn.execute(select(run_tags).where(run_tags.c.run_id.in_(ids))):
        found[t.run_id].tags[t.key] = t.value
    latest = select(metric_latest.c.run_id, metric_latest.c.key, metric_latest.c.value)
    for m in conn.execute(latest.where(metric_latest.c.run_id.in_(ids))):
        found[m.run_id].metrics[m.key] = float("nan") if m.value is None else m.value
    for a in conn.execute(select(run_artifacts).where(run_artifacts.c.run_id.in_(ids))):
        found[a.run_id].artifacts[a.name] = Artifact(a.name, a.object_id, a.kind)
    for io in conn.execute(select(run_io).where(run_io.c.run_id.in_(ids))):
        target = found[io.run_id].inputs if io.direction == "in" else found[io.run_id].outputs
        target[io.path] = io.object_id
    for run in found.values():
        run.params = dict(sorted(run.params.items()))
        run.metrics = dict(sorted(run.metrics.items()))
        run.tags = dict(sorted(run.tags.items()))
    return [found[i] for i in ids if i in found]


def search_runs(
    ws: Workspace,
    *,
    where: str | None = None,
    order_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Run]:
    """Runs matching the filter (see `monoloop.tracking.where`), newest first by default."""
    from monoloop.tracking.query import search_ids

    with ws.db.read() as conn:
        ids = search_ids(conn, where=where, order_by=order_by, limit=limit, offset=offset)
        return load_runs(conn, ids)


def producers(ws: Workspace, object_ids: Sequence[str]) -> list[Run]:
    """Runs that wrote any of these objects as an output, newest first: lineage upstream."""
    if not object_ids:
        return []
    with ws.db.read() as conn:
        ids = list(
            conn.execute(
                select(run_io.c.run_id)
                .join(runs, runs.c.id == run_io.c.run_id)
                .where(run_io.c.direction == "out", run_io.c.object_id.in_(list(object_ids)))
                .group_by(run_io.c.run_id, runs.c.start_time)
                .order_by(runs.c.start_time.desc())
            ).scalars()
        )
        return load_runs(conn, ids)


def metric_history(ws: Workspace, run_id: str, key: str) -> list[tuple[int, float, float]]:
    """Every point of one metric of one run, by step: (step, value, timestamp)."""
    check_key(key, "metric key")
    with ws.db.read() as conn:
        full = resolve_run_id(conn, run_id)
        rows = conn.execute(
            select(history_table.c.step, history_table.c.value, history_table.c.timestamp)
            .where(history_table.c.run_id == full, history_table.c.key == key)
            .order_by(history_table.c.step)
        ).all()
    nan = float("nan")
    return [(s, nan if v is None else v, ts) for s, v, ts in rows]
