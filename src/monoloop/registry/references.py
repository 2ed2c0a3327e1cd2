"""Objects the registry refers to, which `data gc` must keep: every version's model bytes,
card, reference profile, holdout set and ONNX companion, and every ONNX export the ledger
records (`model.export`: what `runtime: onnx` deployments serve)."""

from __future__ import annotations

import json

from sqlalchemy import select, union

from monoloop.audit.tables import events
from monoloop.registry.export import EXPORT_KIND
from monoloop.registry.tables import model_versions
from monoloop.workspace import Workspace


def referenced_objects(ws: Workspace) -> set[str]:
    v = model_versions.c
    query = union(
        select(v.object_id.label("id")),
        select(v.card_id.label("id")),
        select(v.profile_id.label("id")).where(v.profile_id.is_not(None)),
        select(v.holdout_id.label("id")).where(v.holdout_id.is_not(None)),
        select(v.companion_id.label("id")).where(v.companion_id.is_not(None)),
    )
    exports = select(events.c.payload).where(events.c.kind == EXPORT_KIND)
    with ws.db.read() as conn:
        found = {row.id for row in conn.execute(query)}
        for (payload,) in conn.execute(exports):
            found.add(str(json.loads(payload)["object_id"]))
    return found
