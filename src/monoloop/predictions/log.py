"""Appending predictions to the log and reading windows of it back.

A logged prediction is one row:

    request_id  str     the id the response carried
    time        float   seconds since the epoch (UTC) when it was answered
    deployment  str
    model       str     the model's name
    version     int     the model version that answered
    role        str     "primary", "canary" or "shadow" (shadow answers were never returned)
    latency_ms  float
    in.<col>    ...     each input column, as received after the signature check
    out.prediction      the prediction
    out.proba.<class>   the probability of each class, where the model gives them

`append` splits a batch by UTC hour and writes one Parquet object per hour plus its index
row, in one transaction; objects are content-addressed, so a retried append of the same
batch stores and indexes nothing twice. `read` returns a window: the last N predictions,
or a time span.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import insert, select

from monoloop.errors import InvalidInput
from monoloop.predictions.tables import prediction_files
from monoloop.workspace import Workspace

if TYPE_CHECKING:  # a serving process writes Arrow tables and never imports pandas
    import pandas as pd  # type: ignore[import-untyped]
    import pyarrow as pa

REQUIRED = ("request_id", "time", "deployment", "model", "version", "role", "latency_ms")
ROLES = ("primary", "canary", "shadow")
INPUT = "in."
OUTPUT = "out."
PREDICTION = "out.prediction"
PROBA = "out.proba."


def hour_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H")


def append(ws: Workspace, deployment: str, rows: pd.DataFrame | pa.Table) -> list[str]:
    """Log a batch of predictions of one deployment (a DataFrame, or an Arrow table with
    the same columns); returns the ids of the objects written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from monoloop.predictions import arrow

    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise InvalidInput(
            f"prediction log rows lack {', '.join(missing)}",
            hint="each row needs " + ", ".join(REQUIRED),
        )
    if table.num_rows == 0:
        return []
    bad = {str(r) for r in table.column("role").unique().to_pylist()} - set(ROLES)
    if bad:
        raise InvalidInput(f"unknown prediction roles {sorted(bad)}", hint=f"use {ROLES}")
    # Whole hours since the epoch, vectorised (a serving process logs thousands of rows a
    # second): POSIX time has no leap seconds, so every UTC hour is 3600 s.
    times = arrow.floats(table.column("time"))
    slots = (times // 3600).astype(np.int64)
    written: list[tuple[str, str, int, float, float]] = []
    for slot in np.unique(slots):
        where = np.flatnonzero(slots == slot)
        part = table if len(where) == table.num_rows else table.take(arrow.array(where))
        buf = io.BytesIO()
        pq.write_table(part, buf)
        oid = ws.objects.put_bytes(buf.getvalue())
        hour = hour_of(float(slot) * 3600)
        first, last = float(times[where].min()), float(times[where].max())
        written.append((hour, oid, len(where), first, last))
    now = time.time()
    with ws.db.write() as conn:
        known = set(
            conn.execute(
                select(prediction_files.c.object_id).where(
                    prediction_files.c.deployment == deployment,
                    prediction_files.c.object_id.in_([w[1] for w in written]),
                )
            ).scalars()
        )
        fresh = [w for w in written if w[1] not in known]
        if not fresh:
            return [w[1] for w in written]
        conn.execute(
            insert(prediction_files),
            [
                {
                    "deployment": deployment,
                    "hour": hour,
                    "object_id": oid,
                    "rows": rows,
                    "first_time": first,
                    "last_time": last,
                    "created": now,
                }
                for hour, oid, rows, first, last in fresh
            ],
        )
    return [w[1] for w in written]


def read(
    ws: Workspace,
    deployment: str,
    *,
    last_n: int | None = None,
    since: float | None = None,
    until: float | None = None,
    roles: Sequence[str] | None = ("primary", "canary"),
) -> pd.DataFrame:
    """A window of logged predictions, oldest first: the last `last_n` rows and/or those
    made in [since, until). Only the objects that can hold such rows are read."""
    import pandas as pd

    if last_n is not None and last_n < 1:
        raise InvalidInput(f"last_n must be at least 1, got {last_n}")
    query = select(prediction_files.c.object_id, prediction_files.c.rows).where(
        prediction_files.c.deployment == deployment
    )
    if since is not None:
        query = query.where(prediction_files.c.last_time >= since)
    if until is not None:
        query = query.where(prediction_files.c.first_time < until)
    query = query.order_by(prediction_files.c.last_time.desc(), prediction_files.c.id.desc())
    parts: list[pd.DataFrame] = []
    kept = 0
    with ws.db.read() as conn:
        files = conn.execute(query).all()
    for oid, _rows in files:
        part = pd.read_parquet(io.BytesIO(ws.objects.get(oid)))
        part = _filter(part, since, until, roles)
        parts.append(part)
        kept += len(part)
        if last_n is not None and kept >= last_n and since is None:
            break
    if not parts:
        return pd.DataFrame(columns=list(REQUIRED))
    window = pd.concat(parts[::-1], ignore_index=True).sort_values("time", kind="stable")
    if last_n is not None:
        window = window.tail(last_n)
    return window.reset_index(drop=True)


def _filter(
    part: pd.DataFrame, since: float | None, until: float | None, roles: Sequence[str] | None
) -> pd.DataFrame:
    import pandas as pd

    keep = pd.Series(True, index=part.index)
    if since is not None:
        keep &= part["time"] >= since
    if until is not None:
        keep &= part["time"] < until
    if roles is not None:
        keep &= part["role"].isin(list(roles))
    return part[keep]


def inputs(window: pd.DataFrame) -> pd.DataFrame:
    """The input columns of a window, named as the model's signature names them."""
    cols = [c for c in window.columns if c.startswith(INPUT)]
    return window[cols].rename(columns={c: c[len(INPUT) :] for c in cols})


def count(ws: Workspace, deployment: str) -> int:
    """How many predictions of a deployment are logged (reads the index only)."""
    from sqlalchemy import func

    query = select(func.coalesce(func.sum(prediction_files.c.rows), 0)).where(
        prediction_files.c.deployment == deployment
    )
    with ws.db.read() as conn:
        return int(conn.execute(query).scalar() or 0)
