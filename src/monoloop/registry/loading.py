"""The one way a registered model is loaded: SDK, serving, batch scoring and gates all call
`load_version` (or `load_bytes`, when a remote backend fetched the bytes from a server). It
reads only from monoloop's store, checks the bytes against the content id the version
names (its model, its ONNX companion or its export), and refuses pickle-family formats
unless that version was marked trusted.

    native  the version's own format through its own library (skops: scikit-learn);
            what the SDK, batch scoring and gates load
    auto    its ONNX companion, verified at registration (registry/companion.py), when it
            has one; else native. What deployments serve by default
    onnx    its ONNX graph: the version itself if it is ONNX, else its companion, else its
            export (registry/export.py)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from monoloop.errors import InvalidInput, NotFound
from monoloop.registry import adapters, formats
from monoloop.registry.adapters import OnnxModel
from monoloop.registry.model import ModelRef, ModelVersion
from monoloop.registry.record import verify_bytes
from monoloop.registry.versions import get_version
from monoloop.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]


class Predictor:
    """A loaded model version: `predict(df)` and, where the model has it, `predict_proba(df)`.

    Input is checked against the version's signature first: a missing or mistyped column
    is a SignatureMismatch naming it and the expected type."""

    def __init__(
        self,
        version: ModelVersion,
        model: Any,
        *,
        runtime: str = "native",
        object_id: str | None = None,
    ) -> None:
        self.version = version
        self.model = model
        self.runtime = runtime  # native or onnx: what answers
        self.object_id = object_id or version.object_id  # the bytes it was loaded from

    def __repr__(self) -> str:
        return f"<Predictor {self.version.ref} ({self.version.format}, {self.runtime})>"

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.version.signature is None:
            return frame
        return self.version.signature.check(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(self.features(frame)))

    @property
    def has_proba(self) -> bool:
        return adapters.has_proba(self.model)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.has_proba:
            raise InvalidInput(
                f"{self.version.ref} gives no probabilities", hint="call predict() instead"
            )
        return np.asarray(self.model.predict_proba(self.features(frame)))


RUNTIMES = ("auto", "native", "onnx")


def load_version(ws: Workspace, mv: ModelVersion, *, runtime: str = "native") -> Predictor:
    """The version, loaded by one of RUNTIMES (see the module's docstring)."""
    if runtime not in RUNTIMES:
        raise InvalidInput(f"unknown runtime {runtime!r}", hint="use auto, native or onnx")
    if runtime == "auto" and mv.companion_id is not None:
        return _load_graph(ws, mv, mv.companion_id)
    if runtime == "onnx" and mv.format != "onnx":
        return _load_graph(ws, mv, mv.companion_id or _export_of(ws, mv))
    return load_bytes(mv, ws.objects.get(mv.object_id))


def load_bytes(mv: ModelVersion, data: bytes) -> Predictor:
    """A version's bytes, however they were fetched (the store, or a server for a remote
    SDK), checked against the version's id before anything parses them."""
    verify_bytes(data, mv.object_id)
    if mv.format in formats.PICKLE_FAMILY and not mv.trusted:
        raise formats.UnsafeModel(
            f"{mv.ref} is a {mv.format} file and is not marked trusted: loading it would run "
            "arbitrary code",
            hint=f"if you vouch for it: monoloop models trust {mv.model} {mv.version} --reason ...",
        )
    classes = mv.signature.classes if mv.signature is not None else None
    model = formats.load(data, mv.format, trusted=mv.trusted, classes=classes)
    return Predictor(mv, model, runtime="onnx" if mv.format == "onnx" else "native")


def _export_of(ws: Workspace, mv: ModelVersion) -> str:
    from monoloop.registry.export import find_export

    found = find_export(ws, mv)
    if found is None:
        raise NotFound(
            f"{mv.ref} has no ONNX companion or export to serve with runtime: onnx",
            hint=f"export it first: monoloop models export {mv.ref} --format onnx -o "
            f"{mv.model}-v{mv.version}.onnx",
        )
    return found[0]


def _load_graph(ws: Workspace, mv: ModelVersion, object_id: str) -> Predictor:
    data = ws.objects.get(object_id)
    verify_bytes(data, object_id)
    # An ONNX graph runs no Python code: it needs no trust, whatever the version's format.
    classes = mv.signature.classes if mv.signature is not None else None
    graph = OnnxModel(data, classes=classes)
    return Predictor(mv, graph, runtime="onnx", object_id=object_id)


def load_model(ws: Workspace, ref: str | ModelRef) -> Predictor:
    """`load_model(ws, "churn@champion")`, `"churn:3"` or `"churn"` (the latest)."""
    return load_version(ws, get_version(ws, ref))
