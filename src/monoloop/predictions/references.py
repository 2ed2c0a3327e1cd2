"""Objects the prediction log refers to, which `data gc` must keep."""

from __future__ import annotations

from sqlalchemy import select

from monoloop.predictions.tables import prediction_files
from monoloop.workspace import Workspace


def referenced_objects(ws: Workspace) -> set[str]:
    with ws.db.read() as conn:
        return set(conn.execute(select(prediction_files.c.object_id)).scalars())
