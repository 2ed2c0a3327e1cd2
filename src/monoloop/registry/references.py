"""Objects the registry refers to, which `data gc` must keep: every version's model bytes,
card, reference profile and holdout set."""

from __future__ import annotations

from sqlalchemy import select, union

from monoloop.registry.tables import model_versions
from monoloop.workspace import Workspace


def referenced_objects(ws: Workspace) -> set[str]:
    v = model_versions.c
    query = union(
        select(v.object_id.label("id")),
        select(v.card_id.label("id")),
        select(v.profile_id.label("id")).where(v.profile_id.is_not(None)),
        select(v.holdout_id.label("id")).where(v.holdout_id.is_not(None)),
    )
    with ws.db.read() as conn:
        return {row.id for row in conn.execute(query)}
