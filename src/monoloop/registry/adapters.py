"""Adapters giving models loaded from portable formats the scikit-learn interface:
`predict(frame)`, `predict_proba(frame)`, plus `task` and `has_proba`."""

from __future__ import annotations

from typing import Any

import numpy as np

from monoloop.errors import InvalidInput


def has_proba(model: Any) -> bool:
    """Whether a loaded model gives probabilities: the adapters below say so themselves;
    a scikit-learn style model has a callable `predict_proba`."""
    known = getattr(model, "has_proba", None)
    if isinstance(known, bool):
        return known
    return callable(getattr(model, "predict_proba", None))


class OnnxModel:
    """An ONNX graph behind the scikit-learn predict / predict_proba interface.

    `classes`: the model's class labels, when they are booleans or floats, which ONNX
    graphs give as integers (skl2onnx writes True as 1, 2.0 as 2): the labels are turned
    back into them, so that the answers have the model's own types."""

    def __init__(
        self, data: bytes, *, quiet: bool = False, classes: list[Any] | None = None
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4 if quiet else 3  # quiet: failed runs log nothing
        self.session = ort.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.inputs = self.session.get_inputs()
        outputs = [o.name for o in self.session.get_outputs()]
        self._label = outputs[0]
        self._proba = outputs[1] if len(outputs) > 1 else None
        self.task = "classification" if self._proba is not None else "regression"
        self.has_proba = self._proba is not None
        self._classes = _LabelMap.of(classes)

    def _feeds(self, frame: Any) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1 and self.inputs[0].name not in getattr(frame, "columns", ()):
            dtype = _ONNX_DTYPES.get(self.inputs[0].type)
            values = np.asarray(frame, dtype=dtype if dtype in (np.float32, np.float64) else None)
            return {self.inputs[0].name: values}
        return {i.name: _column(frame[i.name], i.type) for i in self.inputs}

    def predict(self, frame: Any) -> np.ndarray:
        (labels,) = self.session.run([self._label], self._feeds(frame))
        out: np.ndarray = np.asarray(labels).ravel()
        return out if self._classes is None else self._classes(out)

    def outputs(self, frame: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels and, where the graph gives them, probabilities: one run of the graph."""
        names = [self._label] if self._proba is None else [self._label, self._proba]
        found = self.session.run(names, self._feeds(frame))
        labels: np.ndarray = np.asarray(found[0]).ravel()
        if self._classes is not None:
            labels = self._classes(labels)
        return labels, (np.asarray(found[1]) if self._proba is not None else None)

    def predict_proba(self, frame: Any) -> np.ndarray:
        if self._proba is None:
            raise InvalidInput("this ONNX model gives no probabilities")
        (proba,) = self.session.run([self._proba], self._feeds(frame))
        out: np.ndarray = np.asarray(proba)
        return out


class _LabelMap:
    """Integer labels of a graph back to the boolean or float classes they stand for."""

    def __init__(self, classes: np.ndarray, keys: np.ndarray) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.classes = classes[self.order]

    @classmethod
    def of(cls, classes: list[Any] | None) -> _LabelMap | None:
        if not classes or not all(isinstance(c, bool | float) for c in classes):
            return None  # text and integers come out of a graph as they went in
        if not all(float(c).is_integer() for c in classes):
            return None
        keys = np.array([int(c) for c in classes], dtype=np.int64)
        if len(set(keys.tolist())) != len(keys):
            return None
        return cls(np.asarray(classes), keys)

    def __call__(self, labels: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self.keys, labels).clip(0, len(self.keys) - 1)
        if not np.array_equal(self.keys[at], labels):
            raise InvalidInput("the ONNX graph answered a label that is none of the classes")
        out: np.ndarray = self.classes[at]
        return out


_ONNX_DTYPES = {
    "tensor(double)": np.float64,
    "tensor(float)": np.float32,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


def _column(series: Any, kind: str) -> np.ndarray:
    values = np.asarray(series)
    if kind == "tensor(string)":
        return values.astype(str).astype(object).reshape(-1, 1)
    return values.astype(_ONNX_DTYPES.get(kind, np.float64)).reshape(-1, 1)


class LightGBMModel:
    """A LightGBM booster from its text format. Its classifier labels are not in that
    format: they come from the version's signature (0..k-1 when unknown)."""

    def __init__(self, data: bytes, classes: list[Any] | None = None) -> None:
        import lightgbm

        self.booster = lightgbm.Booster(model_str=data.decode())
        objective = str(self.booster.dump_model().get("objective", ""))
        self.classes: np.ndarray | None = None
        if objective.startswith(("binary", "multiclass", "multiclassova", "cross_entropy")):
            count = max(2, int(self.booster.num_model_per_iteration()))
            known = classes if classes and len(classes) == count else list(range(count))
            self.classes = np.asarray(known)
        self.task = "regression" if self.classes is None else "classification"
        self.has_proba = self.classes is not None
        self.classes_ = self.classes

    def _frame(self, frame: Any) -> Any:
        """Text columns as the categoricals the booster was trained on (JSON and CSV input
        arrive as plain strings; LightGBM wants the training categories, in order)."""
        import pandas as pd  # type: ignore[import-untyped]

        known = getattr(self.booster, "pandas_categorical", None) or []
        if not isinstance(frame, pd.DataFrame) or not known:
            return frame
        text = [
            c
            for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(frame[c])
            or pd.api.types.is_string_dtype(frame[c])
        ]
        if len(text) != len(known):
            return frame
        return frame.assign(
            **{
                c: pd.Categorical(frame[c].astype(object), categories=cats)
                for c, cats in zip(text, known, strict=True)
            }
        )

    def predict_proba(self, frame: Any) -> np.ndarray:
        if self.classes is None:
            raise InvalidInput("this LightGBM model is a regressor: it gives no probabilities")
        raw = np.asarray(self.booster.predict(self._frame(frame)))
        out: np.ndarray = np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw
        return out

    def predict(self, frame: Any) -> np.ndarray:
        if self.classes is None:
            out: np.ndarray = np.asarray(self.booster.predict(self._frame(frame)))
            return out
        labels: np.ndarray = self.classes[np.argmax(self.predict_proba(frame), axis=1)]
        return labels
