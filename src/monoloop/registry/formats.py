"""Model formats: how a model becomes bytes, how bytes are recognised, and how they load.

    skops   scikit-learn (and compatible) models, the default; safe to load: skops rebuilds
            objects from a schema and refuses types it does not know, and we accept only
            types from the libraries in SAFE_MODULES unless a version is marked trusted
    onnx    an ONNX graph (skl2onnx export), run with onnxruntime; never executes Python
    lightgbm  LightGBM's own text format (LGBMClassifier, LGBMRegressor, Booster); plain data
    pickle  pickle, joblib and cloudpickle files: arbitrary code on load, so registering
            one needs trusted=True and loading it needs the version marked trusted

Bytes are recognised by content, not by name: a `.skops` file that is not a skops zip,
or an `.onnx` file that does not parse, is refused at registration.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from monoloop.errors import InvalidInput
from monoloop.registry.adapters import LightGBMModel, OnnxModel

FORMATS = ("skops", "onnx", "lightgbm", "pickle")
PICKLE_FAMILY = ("pickle", "joblib", "cloudpickle")
SAFE_MODULES = ("sklearn", "numpy", "scipy", "xgboost", "lightgbm", "builtins", "collections")
_SUFFIXES = {
    ".skops": "skops",
    ".onnx": "onnx",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "pickle",
    ".cloudpickle": "pickle",
}


class UnsafeModel(InvalidInput):
    """Loading these bytes could run code nobody vouched for."""

    http_status = 403


def dump(model: Any, fmt: str, sample: Any = None) -> bytes:
    """Serialise an in-memory model in `fmt`."""
    if fmt == "skops":
        import skops.io as sio

        return bytes(sio.dumps(model))
    if fmt == "onnx":
        return to_onnx(model, sample)
    if fmt == "lightgbm":
        booster = getattr(model, "booster_", model)
        if not hasattr(booster, "model_to_string"):
            raise InvalidInput(
                f"{type(model).__name__} is not a LightGBM model",
                hint="use format='lightgbm' for LGBMClassifier, LGBMRegressor or a Booster",
            )
        return str(booster.model_to_string()).encode()
    if fmt == "pickle":
        import pickle

        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    raise InvalidInput(f"unknown model format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def to_onnx(model: Any, sample: Any) -> bytes:
    """Export a scikit-learn model to ONNX, one graph input per DataFrame column."""
    try:
        from skl2onnx import to_onnx as convert
    except ImportError:  # pragma: no cover - skl2onnx is a dependency
        raise InvalidInput(
            "ONNX export needs skl2onnx", hint="pip install skl2onnx onnxruntime"
        ) from None
    if sample is None:
        raise InvalidInput("ONNX export needs a sample input", hint="pass sample_input=X.head()")
    options = {}
    if hasattr(model, "predict_proba"):
        # Probabilities as one tensor, not a list of dicts (ZipMap): cheaper and comparable.
        options = {type(_final_step(model)): {"zipmap": False}}
    first = sample[:1]
    if hasattr(first, "to_numpy") and fitted_on_arrays(model, first):
        # A model fitted on an array takes one tensor, not one input per column.
        first = first.to_numpy(dtype=np.float64)
    try:
        graph = convert(model, first, options=options)
    except Exception as exc:  # skl2onnx raises many types for unsupported models
        raise InvalidInput(
            f"cannot export {type(model).__name__} to ONNX: {str(exc).splitlines()[0]}",
            hint="register it in the skops format instead (the default)",
        ) from None
    return bytes(graph.SerializeToString())


def fitted_on_arrays(model: Any, frame: Any) -> bool:
    """A model that never saw column names, with all-numeric input."""
    numeric = all(kind in "fiu" for kind in (dt.kind for dt in frame.dtypes))
    return numeric and not hasattr(model, "feature_names_in_")


def _final_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def detect(data: bytes, *, name: str = "the model file") -> str:
    """The format of serialised model bytes, by content; refuses what is none of them."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "schema.json" in archive.namelist():
                    return "skops"
        except zipfile.BadZipFile:
            pass
        raise InvalidInput(
            f"{name} is a zip archive but not a skops file (no schema.json)",
            hint="save scikit-learn models with skops.io.dump",
        )
    if data[:1] == b"\x80" and len(data) > 2 and data[1] <= 5:
        return "pickle"
    if data.startswith(b"tree\nversion="):
        return "lightgbm"
    if _parses_as_onnx(data):
        return "onnx"
    raise InvalidInput(
        f"{name} is not a model file monoloop knows (skops, ONNX, or pickle with --trusted)",
        hint="save the model with skops.io.dump, or export it to ONNX",
    )


def format_for(path: Path, data: bytes) -> str:
    """The format of a model file: its content must agree with its name's suffix."""
    found = detect(data, name=str(path))
    claimed = _SUFFIXES.get(path.suffix.lower())
    if claimed is not None and claimed != found:
        raise InvalidInput(
            f"{path} is named like a {claimed} file but its content is {found}",
            hint="rename it, or save it again in the format its name says",
        )
    return found


def _parses_as_onnx(data: bytes) -> bool:
    try:
        import onnx
    except ImportError:  # pragma: no cover
        return False
    try:
        graph = onnx.load_model_from_string(data)
    except Exception:  # protobuf raises DecodeError and friends
        return False
    return bool(graph.graph.node) and bool(graph.graph.input)


def check_onnx_external_data(data: bytes) -> None:
    """ONNX tensors may point at external files: never outside the model, never absolute."""
    import onnx

    graph = onnx.load_model_from_string(data)
    for tensor in graph.graph.initializer:
        for entry in tensor.external_data:
            if entry.key != "location":
                continue
            where = entry.value
            if where.startswith(("/", "\\")) or ".." in Path(where).parts or ":" in where:
                raise InvalidInput(
                    f"ONNX tensor {tensor.name!r} points at {where!r}, outside the model",
                    hint="keep external data files beside the model, named by relative paths",
                )


def skops_untrusted_types(data: bytes) -> list[str]:
    import skops.io as sio

    return sorted(sio.get_untrusted_types(data=data))


def unsafe_types(types: list[str]) -> list[str]:
    return [t for t in types if t.split(".", 1)[0] not in SAFE_MODULES]


def load(data: bytes, fmt: str, *, trusted: bool, classes: list[Any] | None = None) -> Any:
    """The model object (or an adapter over an ONNX graph or a LightGBM booster) from
    verified bytes; pickles only if trusted. `classes` names a LightGBM classifier's labels,
    which its native format does not keep."""
    if fmt == "skops":
        import skops.io as sio

        types = skops_untrusted_types(data)
        unsafe = unsafe_types(types)
        if unsafe and not trusted:
            raise UnsafeModel(
                "the model contains types outside scikit-learn, numpy and scipy: "
                + ", ".join(unsafe),
                hint="review them, then mark the version trusted (monoloop models trust)",
            )
        return sio.loads(data, trusted=types)
    if fmt == "onnx":
        return OnnxModel(data)
    if fmt == "lightgbm":
        return LightGBMModel(data, classes)
    if fmt == "pickle":
        if not trusted:
            raise UnsafeModel(
                "refusing to unpickle an untrusted model: unpickling runs arbitrary code",
                hint="if you vouch for its origin: monoloop models trust NAME VERSION "
                "(needs the promote permission)",
            )
        import pickle

        return pickle.loads(data)  # noqa: S301 - trusted by name, see the check above
    raise InvalidInput(f"unknown model format {fmt!r}", hint=f"one of {', '.join(FORMATS)}")
