"""The checks a monitor runs on a window of logged predictions: plain functions over a
window, the version's records and a spec; no DB, no store.

- drift: the window's inputs (and predictions) against the version's reference profile;
- decay: the task's metrics on the labelled rows, against thresholds and the version's
  registered value;
- importance: permutation importance on the labelled rows; fires when the top-k features
  are no longer those the version relied on at registration.

Each returns a `Finding`: verdict `ok`, `fired`, `skipped` (not enough rows or labels: no
verdict) or `error` (the check could not run; the summary says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.errors import UserError
from monoloop.monitoring.profile import ReferenceProfile
from monoloop.monitoring.spec import DecaySpec, DriftSpec, ImportanceSpec
from monoloop.predictions.log import PREDICTION, PROBA, inputs
from monoloop.registry.service import PREDICTION_COLUMN

OK, FIRED, SKIPPED, ERROR = "ok", "fired", "skipped", "error"
VERDICTS = (OK, FIRED, SKIPPED, ERROR)


@dataclass(frozen=True)
class Finding:
    monitor: str
    verdict: str
    summary: str
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def fired(self) -> bool:
        return self.verdict == FIRED


def drift(
    profile: ReferenceProfile, window: pd.DataFrame, spec: DriftSpec, *, min_rows: int
) -> Finding:
    from monoloop.monitoring.drift import compare

    if len(window) < min_rows:
        return Finding("drift", SKIPPED, f"{len(window)} rows, fewer than min_rows {min_rows}")
    features = [c for c in profile.columns if c != PREDICTION_COLUMN]
    if spec.columns is not None:
        unknown = [c for c in spec.columns if c not in features]
        if unknown:
            return Finding(
                "drift", ERROR, f"the reference profile has no column {', '.join(unknown)}"
            )
        features = list(spec.columns)
    config = spec.to_config()
    try:
        report = compare(profile, inputs(window), config=config, columns=features)
        prediction = None
        if PREDICTION_COLUMN in profile.columns and PREDICTION in window.columns:
            frame = pd.DataFrame({PREDICTION_COLUMN: window[PREDICTION].to_numpy()})
            prediction = compare(profile, frame, config=config, columns=[PREDICTION_COLUMN])
    except UserError as exc:
        return Finding("drift", ERROR, exc.message + (f" ({exc.hint})" if exc.hint else ""))
    predicted = prediction.columns[0] if prediction is not None else None
    fired = report.dataset_drift or bool(spec.prediction and predicted and predicted.drifted)
    summary = report.summary()
    if predicted is not None and predicted.drifted:
        summary += "; predictions drifted (" + ", ".join(predicted.by) + ")"
    stats = {
        "dataset_drift": report.dataset_drift,
        "drifted_share": report.drifted_share,
        "share": spec.share,
        "drifted": report.drifted,
        "columns": {c.column: _column(c.to_dict()) for c in report.columns},
        "prediction": _column(predicted.to_dict()) if predicted is not None else None,
    }
    return Finding("drift", FIRED if fired else OK, summary, stats)


def _column(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": stats["kind"],
        "drifted": stats["drifted"],
        "by": stats["by"],
        **stats["statistics"],
    }


def probabilities(window: pd.DataFrame) -> np.ndarray | None:
    """The logged class probabilities as a matrix, columns in ascending class order (the
    order scikit-learn's `classes_` has, which the metrics assume)."""
    cols = [c for c in window.columns if c.startswith(PROBA)]
    if not cols:
        return None
    names = [c[len(PROBA) :] for c in cols]
    try:
        order = sorted(range(len(cols)), key=lambda i: float(names[i]))
    except ValueError:
        order = sorted(range(len(cols)), key=lambda i: names[i])
    matrix = window[[cols[i] for i in order]].to_numpy(dtype=np.float64)
    return None if np.isnan(matrix).any() else matrix


def scores(task: str, labelled: pd.DataFrame) -> dict[str, float]:
    """The task's metrics on labelled rows (a `label` column beside the logged outputs)."""
    from monoloop.registry.evaluation import score

    proba = probabilities(labelled) if task == "classification" else None
    found = score(task, labelled["label"].to_numpy(), labelled[PREDICTION].to_numpy(), proba)
    return {k: float(v) for k, v in found.items() if np.isfinite(v)}


def decay(
    task: str, labelled: pd.DataFrame, spec: DecaySpec, registered: dict[str, float]
) -> Finding:
    n = len(labelled)
    if n < spec.min_labels:
        return Finding(
            "decay", SKIPPED, f"{n} labelled rows, fewer than min_labels {spec.min_labels}"
        )
    try:
        found = scores(task, labelled)
    except (ValueError, TypeError) as exc:
        return Finding("decay", ERROR, f"cannot score the labelled rows: {exc}")
    value = found.get(spec.metric)
    if value is None:
        return Finding(
            "decay", ERROR, f"{spec.metric} cannot be computed for a {task} model on these rows"
        )
    reference = registered.get(spec.metric)
    reasons = []
    if spec.min is not None and value < spec.min:
        reasons.append(f"below min {spec.min:g}")
    if spec.max is not None and value > spec.max:
        reasons.append(f"above max {spec.max:g}")
    drop = None
    if reference is not None and np.isfinite(reference):
        drop = (reference - value) if spec.higher_is_better else (value - reference)
        if spec.max_drop is not None and drop > spec.max_drop:
            reasons.append(f"{drop:.4g} worse than at registration ({reference:.4g})")
    stats = {
        "metric": spec.metric,
        "value": value,
        "registered": reference,
        "drop": drop,
        "labelled": n,
        "min": spec.min,
        "max": spec.max,
        "max_drop": spec.max_drop,
        "scores": found,
    }
    summary = f"{spec.metric} {value:.4g} on {n} labelled rows"
    if reasons:
        return Finding("decay", FIRED, summary + ": " + "; ".join(reasons), stats)
    if spec.min is None and spec.max is None and reference is None:
        missing = f"; no registered {spec.metric} to compare with"
        return Finding("decay", SKIPPED, summary + missing, stats)
    return Finding("decay", OK, summary, stats)


def importance(
    model: Any,
    task: str,
    labelled: pd.DataFrame,
    spec: ImportanceSpec,
    registered: list[dict[str, Any]] | None,
) -> Finding:
    from monoloop.registry.evaluation import permutation_importance

    n = len(labelled)
    if n < spec.min_labels:
        return Finding(
            "importance", SKIPPED, f"{n} labelled rows, fewer than min_labels {spec.min_labels}"
        )
    if not registered:
        return Finding(
            "importance",
            ERROR,
            "the version was registered without feature importance (no holdout set)",
        )
    try:
        live = permutation_importance(
            model, task, inputs(labelled), labelled["label"].to_numpy(), repeats=spec.repeats
        )
    except (UserError, ValueError, TypeError) as exc:
        message = exc.message if isinstance(exc, UserError) else str(exc)
        return Finding("importance", ERROR, f"cannot compute live importance: {message}")
    before = top_features(registered, spec.top)
    now = top_features(live, spec.top)
    stats = {
        "top": spec.top,
        "registered_top": before,
        "live_top": now,
        "entered": [f for f in now if f not in before],
        "left": [f for f in before if f not in now],
        "live": live,
        "labelled": n,
    }
    if set(before) != set(now):
        summary = (
            f"top {spec.top} features changed: now {', '.join(now)}; "
            f"at registration {', '.join(before)}"
        )
        return Finding("importance", FIRED, summary, stats)
    return Finding("importance", OK, f"top {spec.top} features unchanged: {', '.join(now)}", stats)


def top_features(importance: list[dict[str, Any]], k: int) -> list[str]:
    ranked = sorted(importance, key=lambda r: -float(r["importance"]))
    return [str(r["feature"]) for r in ranked[:k]]
