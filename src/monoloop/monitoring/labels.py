"""Ground truth for logged predictions, attached by request id, and joined back to a window.

    attach(ws, "churn-api", frame)              # columns request_id, label
    attach_file(ws, "churn-api", Path("labels.csv"))
    labelled = join(ws, "churn-api", window)    # the window with a `label` column

A label arrives long after its prediction (a customer churns a month later), so labels
live in their own table, one per (deployment, request id); attaching one again replaces
it (a correction). A label whose prediction is not (yet) in the log is kept all the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import bindparam, insert, select, update

from monoloop.errors import InvalidInput, NotFound
from monoloop.monitoring.tables import REQUEST_ID_LEN, prediction_labels
from monoloop.predictions.log import PREDICTION
from monoloop.workspace import Workspace

LABEL = "label"
_CHUNK = 500  # request ids per IN (...) query: well under every driver's parameter limit


@dataclass(frozen=True)
class Attached:
    deployment: str
    attached: int  # new labels
    replaced: int  # labels that were there and now hold the new value
    skipped: int  # rows without a label value

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_deployment(ws: Workspace, deployment: str) -> None:
    if deployment not in ws.config.deployments:
        known = ", ".join(sorted(ws.config.deployments)) or "none are configured"
        raise NotFound(
            f"no deployment {deployment!r} in monoloop.yaml",
            hint=f"deployments: {known}",
        )


def attach_file(
    ws: Workspace,
    deployment: str,
    path: Path,
    *,
    id_column: str = "request_id",
    label_column: str = LABEL,
    clock: Callable[[], float] = time.time,
) -> Attached:
    """Attach the labels in a CSV, Parquet or JSON Lines file."""
    from monoloop.validation.readers import read_path

    frame = read_path(path, string_columns=[id_column])
    return attach(
        ws,
        deployment,
        frame,
        id_column=id_column,
        label_column=label_column,
        source=path.name,
        clock=clock,
    )


def attach(
    ws: Workspace,
    deployment: str,
    frame: pd.DataFrame,
    *,
    id_column: str = "request_id",
    label_column: str = LABEL,
    source: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Attached:
    """Attach labels, one per request id (a later row wins within the frame), in one
    transaction with a `monitor.labels` ledger event."""
    check_deployment(ws, deployment)
    missing = [c for c in (id_column, label_column) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the labels lack column(s) {', '.join(missing)}",
            hint=f"give one row per request: {id_column}, {label_column}; or name the columns "
            "with --id-column and --label-column",
        )
    ids = frame[id_column]
    if ids.isna().any():
        raise InvalidInput(
            f"{int(ids.isna().sum())} label row(s) have no {id_column}",
            hint="every label needs the request id the prediction's response carried",
        )
    keep = frame[label_column].notna()
    values = {
        str(rid): _encode(value)
        for rid, value in zip(ids[keep], frame[label_column][keep], strict=True)
    }
    too_long = [rid for rid in values if len(rid) > REQUEST_ID_LEN]
    if too_long:
        raise InvalidInput(
            f"request id {too_long[0][:40]!r}... is longer than {REQUEST_ID_LEN} characters",
            hint="use the request ids the deployment returned",
        )
    now = clock()
    with ws.db.write() as conn:
        existing: set[str] = set()
        keys = list(values)
        for start in range(0, len(keys), _CHUNK):
            existing.update(
                conn.execute(
                    select(prediction_labels.c.request_id).where(
                        prediction_labels.c.deployment == deployment,
                        prediction_labels.c.request_id.in_(keys[start : start + _CHUNK]),
                    )
                ).scalars()
            )
        fresh = [
            {"deployment": deployment, "request_id": k, "label": v, "time": now}
            for k, v in values.items()
            if k not in existing
        ]
        if fresh:
            conn.execute(insert(prediction_labels), fresh)
        if existing:
            conn.execute(
                update(prediction_labels)
                .where(
                    prediction_labels.c.deployment == deployment,
                    prediction_labels.c.request_id == bindparam("rid"),
                )
                .values(label=bindparam("value"), time=now),
                [{"rid": k, "value": values[k]} for k in existing],
            )
        result = Attached(deployment, len(fresh), len(existing), int((~keep).sum()))
        ws.record(conn, "monitor.labels", deployment, {**result.to_dict(), "source": source})
    return result


def _encode(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        # CSV gives 1.0 for a column with gaps; the classes the model predicts are 0 and 1.
        value = int(value)
    return json.dumps(value)


def lookup(ws: Workspace, deployment: str, request_ids: Sequence[str]) -> dict[str, Any]:
    """The labels of those request ids that have one."""
    found: dict[str, Any] = {}
    keys = list(dict.fromkeys(str(r) for r in request_ids))
    with ws.db.read() as conn:
        for start in range(0, len(keys), _CHUNK):
            rows = conn.execute(
                select(prediction_labels.c.request_id, prediction_labels.c.label).where(
                    prediction_labels.c.deployment == deployment,
                    prediction_labels.c.request_id.in_(keys[start : start + _CHUNK]),
                )
            )
            found.update({rid: json.loads(label) for rid, label in rows})
    return found


def join(ws: Workspace, deployment: str, window: pd.DataFrame) -> pd.DataFrame:
    """The window's rows that have a label, with it in a `label` column cast to the
    predictions' type (so "1" from a CSV matches the class 1)."""
    if window.empty:
        return window.assign(**{LABEL: pd.Series(dtype=object)})
    found = lookup(ws, deployment, window["request_id"].astype(str).tolist())
    labelled = window[window["request_id"].astype(str).isin(found)].copy()
    raw = labelled["request_id"].astype(str).map(found)
    labelled[LABEL] = _like(raw, window.get(PREDICTION))
    return labelled.reset_index(drop=True)


def _like(labels: pd.Series, predictions: pd.Series | None) -> pd.Series:
    if predictions is None or labels.empty:
        return labels
    if pd.api.types.is_numeric_dtype(predictions.dtype):
        numbers = pd.to_numeric(labels, errors="coerce")
        if numbers.notna().all():
            return numbers.astype(predictions.dtype) if _whole(numbers, predictions) else numbers
        return labels
    return labels.astype(str)


def _whole(numbers: pd.Series, predictions: pd.Series) -> bool:
    if not pd.api.types.is_integer_dtype(predictions.dtype):
        return False
    return bool((numbers == numbers.round()).all())
