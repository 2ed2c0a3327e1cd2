"""A scikit-learn version's ONNX companion: made and verified at registration, served by
default.

    made = make_companion(model, rows, checked_on="holdout")   # never raises
    made.data    # the graph's bytes, or None
    made.note    # what was checked, or why there is no companion

Registering a scikit-learn model in skops (the default) also converts it with skl2onnx,
with double-precision tensors for float64 columns (what scikit-learn computes in), and runs
model and graph on the version's holdout rows (on its sample input when it has no holdout
set; rows with a missing value left out, see below). The graph becomes the version's
companion only if, on every row:

- the labels are identical, in value and in type, as a JSON response shows them (a graph
  gives booleans and floats as integers: they are turned back with the model's classes,
  see adapters.OnnxModel, and then compared);
- probabilities (and a regressor's outputs) are within `TOLERANCE`. Measured: about 1e-15
  for linear models and pipelines of scalers and encoders; tree ensembles differ by about
  1e-8 (ONNX-ML keeps their leaf weights in float32), so they keep no companion: their
  probabilities are often exact ties (7 of 14 trees), which float rounding can tip;
- the graph gives probabilities exactly when the model does;
- a text value never seen in training gets the same answer from both, or the graph refuses
  it (serving then asks the model itself); a graph answering what scikit-learn refuses
  (`handle_unknown="error"`) is refused.

A deployment with `runtime: auto` (the default) serves the companion through onnxruntime,
so a serving process needs neither scikit-learn nor skops (1.9 s and 220 MB to import on
the reference machine). Requests with a missing value, and any the graph fails on, are
answered by the model itself, loaded when first needed (serving/models.py): model and graph
may treat a missing value differently, and a refusal should be scikit-learn's own.
Anything going wrong here (the converter refusing the model, a mismatch, onnxruntime
refusing the graph) means no companion and a note saying why; never a failed registration.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monoloop.errors import InvalidInput
from monoloop.registry import adapters, formats

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

TOLERANCE = 1e-9
TREES = (
    "tree models are not converted: ONNX-ML keeps their thresholds and leaf values in "
    "float32, so the graph would not answer within the tolerance"
)
UNSEEN = "\x00monoloop: a value never seen in training"


@dataclass(frozen=True)
class Companion:
    data: bytes | None  # the verified graph; None: no companion (see note["reason"])
    note: dict[str, Any]


class Mismatch(Exception):
    """Model and graph answer differently: the reason, for the note."""


def make_companion(model: Any, rows: pd.DataFrame, *, checked_on: str) -> Companion:
    """The model's ONNX graph if it answers `rows` as the model does (see the docstring)."""
    if _has_trees(model):
        # Measured with skl2onnx 1.20 / onnxruntime 1.32: a double-input tree graph either
        # fails to load or is about 1e-8 off; converting a large forest takes seconds.
        return Companion(None, {"verified": False, "reason": TREES})
    # Rows with a missing value are never the graph's to answer (serving hands them to the
    # model), so they are not its to pass either.
    rows = rows.dropna()
    if rows.empty:
        reason = "every row to check has a missing value: register with complete rows"
        return Companion(None, {"verified": False, "reason": reason})
    reason = ""
    for graph_input in _inputs(model, rows):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the converter's and onnxruntime's chatter
                data = formats.to_onnx(model, graph_input)
                graph = adapters.OnnxModel(data, quiet=True, classes=classes_of(model))
                diff = _check(model, graph, rows)
                _check_unseen(model, graph, rows)
        except Mismatch as exc:
            reason = str(exc)
        except InvalidInput as exc:
            reason = exc.message
        except Exception as exc:  # the converter and onnxruntime raise many kinds
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
        else:
            return Companion(data, _verified(data, checked_on, len(rows), diff))
    return Companion(None, {"verified": False, "reason": reason})


def _inputs(model: Any, rows: pd.DataFrame) -> list[Any]:
    """What to convert from, best first. All-numeric columns: one float64 matrix, which the
    converter keeps in double (one tensor per column goes through ONNX-ML's
    FeatureVectorizer, which is float32 only: about 1e-7 off); then one input per column,
    which text columns need."""
    numeric = all(kind in "iuf" for kind in (dt.kind for dt in rows.dtypes))
    per_column = rows[:1]
    if numeric and not formats.fitted_on_arrays(model, rows):
        return [rows[:1].to_numpy(dtype=np.float64), per_column]
    return [per_column]


def _verified(data: bytes, checked_on: str, rows: int, diff: float) -> dict[str, Any]:
    return {
        "verified": True,
        "format": "onnx",
        "checked_on": checked_on,
        "rows": rows,
        "max_abs_diff": diff,
        "tolerance": TOLERANCE,
        "size": len(data),
        "converter": _version("skl2onnx"),
        "runtime": _version("onnxruntime"),
    }


def describe(note: dict[str, Any] | None) -> str:
    """One line for the model card and the CLI."""
    if not note:
        return "none (registered before companions, or not a scikit-learn model in skops)"
    if not note.get("verified"):
        return f"none: {note.get('reason', 'unknown')}"
    return (
        f"ONNX, verified on {note['rows']:,} {note['checked_on']} rows: labels identical, "
        f"outputs within {note['tolerance']:g} (largest difference {note['max_abs_diff']:.2g}); "
        "`runtime: auto` serves it"
    )


def _check(model: Any, graph: adapters.OnnxModel, rows: pd.DataFrame) -> float:
    """The largest output difference over `rows`; Mismatch if anything differs."""
    if adapters.has_proba(model) != graph.has_proba:
        raise Mismatch(
            "the graph's second output is not the model's probabilities"
            if graph.has_proba
            else "the graph gives no probabilities, the model does"
        )
    labels, proba = graph.outputs(rows)
    native = _native_input(model, rows)
    expected = np.asarray(model.predict(native))
    diff = _same_outputs(expected, labels)
    if proba is not None:
        wanted = np.asarray(model.predict_proba(native))
        if wanted.shape != proba.shape:
            raise Mismatch(f"probabilities of shape {proba.shape}, the model's {wanted.shape}")
        diff = max(diff, float(np.max(np.abs(proba - wanted), initial=0.0)))
        if not diff <= TOLERANCE:
            raise Mismatch(
                f"probabilities differ by up to {diff:.2g} (more than {TOLERANCE:g}) on "
                f"{len(rows)} rows"
            )
    return diff


def _same_outputs(expected: np.ndarray, got: np.ndarray) -> float:
    """0 for identical labels, the largest difference of a regressor's outputs; or Mismatch."""
    if expected.shape != got.shape:
        raise Mismatch(f"predictions of shape {got.shape}, the model's {expected.shape}")
    if expected.dtype.kind == "f" and got.dtype.kind == "f":
        diff = np.abs(got.astype(np.float64) - expected)
        scale = np.maximum(1.0, np.abs(expected))
        worst = float(np.max(diff / scale, initial=0.0))
        if not worst <= TOLERANCE:
            raise Mismatch(f"predictions differ by up to {worst:.2g} (relative, > {TOLERANCE:g})")
        return float(np.max(diff, initial=0.0))
    for want, have in zip(expected.tolist(), got.tolist(), strict=True):
        if type(want) is not type(have) or want != have:
            raise Mismatch(
                f"the graph answers {have!r} ({type(have).__name__}) where the model answers "
                f"{want!r} ({type(want).__name__})"
            )
    return 0.0


def _check_unseen(model: Any, graph: adapters.OnnxModel, rows: pd.DataFrame) -> None:
    """A never-seen value in each text column: answered alike, or refused by the graph."""
    text = [c for c in rows.columns if rows[c].dtype.kind not in "biufcmM"]
    for column in text:
        row = rows.iloc[:1].copy()
        row[column] = UNSEEN
        try:
            expected = np.asarray(model.predict(row))
        except Exception:
            expected = None
        try:
            labels, _ = graph.outputs(row)
        except Exception:
            labels = None
        if expected is None:
            if labels is None:
                continue  # both refuse; serving answers such a row with the model itself
            raise Mismatch(
                f"scikit-learn refuses a value of {column!r} never seen in training, "
                "which the graph would answer"
            )
        if labels is None:
            continue  # the graph refuses: serving answers such a row with the model itself
        try:
            _check(model, graph, row)
        except Mismatch as exc:
            raise Mismatch(f"on a value of {column!r} never seen in training: {exc}") from None


def _has_trees(model: Any, depth: int = 0) -> bool:
    """A decision tree anywhere in the model: a step of a pipeline, a member of an ensemble."""
    if depth > 4:
        return False
    if hasattr(model, "tree_") or hasattr(model, "_predictors"):  # a tree; histogram GB
        return True
    parts: list[Any] = [step for _, step in getattr(model, "steps", None) or []]
    parts += [t for _, t, _ in getattr(model, "transformers_", None) or []]
    members = getattr(model, "estimators_", None)
    if members is not None:
        parts += list(np.ravel(np.asarray(members, dtype=object)))
    return any(_has_trees(p, depth + 1) for p in parts if not isinstance(p, str))


def _native_input(model: Any, rows: pd.DataFrame) -> Any:
    """Rows as the model was fitted: a float matrix for one fitted on arrays."""
    if formats.fitted_on_arrays(model, rows):
        return rows.to_numpy(dtype=np.float64)
    return rows


def classes_of(model: Any) -> list[Any] | None:
    """The model's classes as plain values, as its signature records them."""
    known = getattr(model, "classes_", None)
    if known is None:
        return None
    return [c.item() if hasattr(c, "item") else c for c in np.asarray(known).tolist()]


def _version(package: str) -> str:
    from importlib.metadata import version

    return f"{package} {version(package)}"
