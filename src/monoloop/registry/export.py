"""Exporting a version to ONNX, so that any language's ONNX runtime can serve it.

    export = export_version(ws, "churn@champion", fmt="onnx")   # the bytes, checked

The version is loaded (through `load_version`), converted with skl2onnx, and the graph is
checked against the model on the version's holdout rows (or a row built from its
signature): labels equal, probabilities within `TOLERANCE`. The graph is stored in the
object store and recorded by a `model.export` ledger event on the version, naming its
content id; a deployment with `runtime: onnx` serves that graph. Exporting again finds
the recorded graph instead of converting anew.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monoloop.errors import InvalidInput
from monoloop.registry import formats
from monoloop.registry.adapters import OnnxModel
from monoloop.registry.model import ModelRef, ModelVersion
from monoloop.registry.signature import Signature
from monoloop.workspace import Workspace

if TYPE_CHECKING:  # imported where used: a serving process looks exports up, nothing more
    import pandas as pd  # type: ignore[import-untyped]

EXPORT_KIND = "model.export"
EXPORT_FORMATS = ("onnx",)
TOLERANCE = 1e-5
_SAMPLE = {"number": 0.0, "integer": 0, "boolean": False, "string": ""}


@dataclass(frozen=True)
class Export:
    version: ModelVersion
    format: str
    object_id: str
    size: int
    max_abs_diff: float | None  # probabilities, graph vs model; None: the version is ONNX
    created: bool  # False: an earlier export (or the version itself) was reused

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "format": self.format,
            "object_id": self.object_id,
            "size": self.size,
            "max_abs_diff": self.max_abs_diff,
            "created": self.created,
        }


def export_version(ws: Workspace, ref: str | ModelRef, *, fmt: str = "onnx") -> Export:
    """The version `ref` names as an ONNX graph in the store (converted and checked once)."""
    from monoloop.registry.loading import load_version
    from monoloop.registry.versions import get_version

    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(
            f"cannot export to {fmt!r}", hint=f"formats: {', '.join(EXPORT_FORMATS)}"
        )
    mv = get_version(ws, ref)
    if mv.format == "onnx":
        return Export(mv, fmt, mv.object_id, mv.size, None, created=False)
    known = find_export(ws, mv)
    if known is not None:
        oid, payload = known
        return Export(mv, fmt, oid, int(payload.get("size", 0)), payload.get("max_abs_diff"), False)
    if mv.signature is None:
        raise InvalidInput(
            f"{mv.ref} has no signature, and ONNX export needs its input columns and types",
            hint="register the model with a sample input (sample_input=..., --sample)",
        )
    predictor = load_version(ws, mv)
    data = formats.to_onnx(predictor.model, sample_frame(mv.signature))
    diff = _agreement(mv, predictor.model, OnnxModel(data), _check_rows(ws, mv))
    oid = ws.objects.put_bytes(data)
    with ws.db.write() as conn:
        ws.record(
            conn,
            EXPORT_KIND,
            mv.ref,
            {"format": fmt, "object_id": oid, "size": len(data), "max_abs_diff": diff},
        )
    return Export(mv, fmt, oid, len(data), diff, created=True)


def find_export(
    ws: Workspace, mv: ModelVersion, fmt: str = "onnx"
) -> tuple[str, dict[str, Any]] | None:
    """(object id, event payload) of the version's latest recorded export, or None."""
    from monoloop.audit.service import EventFilter, log

    for event in reversed(log(ws, EventFilter(subject=mv.ref, kind=EXPORT_KIND))):
        if event.payload.get("format") == fmt:
            return str(event.payload["object_id"]), event.payload
    return None


def sample_frame(signature: Signature) -> pd.DataFrame:
    """One row with each signature column in its type: what the converter reads types from."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for column in signature.inputs:
        if column.type == "datetime":
            raise InvalidInput(
                f"column {column.name!r} is a datetime, which ONNX graphs cannot take",
                hint="turn it into numbers (e.g. days since an epoch) in the model's features",
            )
        columns[column.name] = [_SAMPLE[column.type]]
    return pd.DataFrame(columns)


def _check_rows(ws: Workspace, mv: ModelVersion) -> pd.DataFrame:
    import pandas as pd

    assert mv.signature is not None
    if mv.holdout_id is not None:
        holdout = pd.read_parquet(io.BytesIO(ws.objects.get(mv.holdout_id)))
        return mv.signature.check(holdout.head(1000))
    return sample_frame(mv.signature)


def _agreement(mv: ModelVersion, model: Any, graph: OnnxModel, rows: pd.DataFrame) -> float:
    """The largest probability difference; InvalidInput if labels or probabilities differ."""
    labels, proba = graph.outputs(rows)
    if formats.fitted_on_arrays(model, rows):
        rows = rows.to_numpy(dtype=np.float64)  # as it was fitted: no feature-name warning
    expected = np.asarray(model.predict(rows))
    same = (
        np.allclose(labels.astype(np.float64), expected.astype(np.float64), atol=TOLERANCE)
        if expected.dtype.kind in "fiub"
        else np.array_equal(labels.astype(str), expected.astype(str))
    )
    diff = 0.0
    if proba is not None and hasattr(model, "predict_proba"):
        diff = float(np.max(np.abs(proba - np.asarray(model.predict_proba(rows)))))
    if not same or diff > TOLERANCE:
        raise InvalidInput(
            f"the ONNX graph of {mv.ref} disagrees with the model on {len(rows)} row(s) "
            f"(labels {'equal' if same else 'differ'}, probabilities differ by up to {diff:.2g})",
            hint="serve it with runtime: auto; the converter does not reproduce this model",
        )
    return diff
