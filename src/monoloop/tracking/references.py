"""Object ids that tracked runs refer to: their logs, artifacts, inputs and outputs.

Garbage collection of the object store keeps all of these alive.
"""

from __future__ import annotations

from sqlalchemy import select, union

from monoloop.tracking.tables import run_artifacts, run_io, runs
from monoloop.workspace import Workspace


def referenced_objects(ws: Workspace) -> set[str]:
    query = union(
        select(runs.c.log_id.label("id")).where(runs.c.log_id.is_not(None)),
        select(run_artifacts.c.object_id.label("id")),
        select(run_io.c.object_id.label("id")),
    )
    with ws.db.read() as conn:
        return {row.id for row in conn.execute(query)}
