"""Scoring a model on labelled rows: standard metrics and permutation feature importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.registry.adapters import has_proba

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "auc")
REGRESSION_METRICS = ("mae", "rmse", "r2")


def task_of(model: Any) -> str:
    from sklearn.base import is_classifier, is_regressor

    known = getattr(model, "task", None)  # the adapters of portable formats say it
    if known in ("classification", "regression"):
        return str(known)
    if is_classifier(model) or hasattr(model, "predict_proba"):
        return "classification"
    if is_regressor(model):
        return "regression"
    return "regression" if not hasattr(model, "classes_") else "classification"


def score(task: str, y_true: Any, y_pred: Any, proba: Any = None) -> dict[str, float]:
    """The task's standard metrics; binary classification treats the larger label as positive."""
    from sklearn import metrics as m

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if task == "regression":
        return {
            "mae": float(m.mean_absolute_error(y_true, y_pred)),
            "rmse": float(np.sqrt(m.mean_squared_error(y_true, y_pred))),
            "r2": float(m.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
        }
    labels = np.unique(np.concatenate([y_true, y_pred]))
    binary = len(labels) <= 2
    average = "binary" if binary else "macro"
    pos = labels[-1]
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = pos
    out = {
        "accuracy": float(m.accuracy_score(y_true, y_pred)),
        "precision": float(m.precision_score(y_true, y_pred, **kwargs)),
        "recall": float(m.recall_score(y_true, y_pred, **kwargs)),
        "f1": float(m.f1_score(y_true, y_pred, **kwargs)),
    }
    if proba is not None and len(np.unique(y_true)) > 1:
        p = np.asarray(proba)
        try:
            if p.ndim == 2 and p.shape[1] == 2:
                out["auc"] = float(m.roc_auc_score(y_true == pos, p[:, 1]))
            elif p.ndim == 2:
                out["auc"] = float(m.roc_auc_score(y_true, p, multi_class="ovr"))
        except ValueError:
            pass  # a label the probabilities do not cover: no AUC rather than a wrong one
    return out


def evaluate(model: Any, task: str, features: pd.DataFrame, y: Any) -> dict[str, float]:
    pred = model.predict(features)
    proba = model.predict_proba(features) if task == "classification" and has_proba(model) else None
    return score(task, y, pred, proba)


def permutation_importance(
    model: Any, task: str, features: pd.DataFrame, y: Any, *, repeats: int = 5, seed: int = 0
) -> list[dict[str, Any]]:
    """Mean drop in accuracy (classification) or R² (regression) when each feature is
    shuffled, largest first. Only `predict` is called, so every loaded format works
    (scikit-learn's own version insists on an estimator with `fit`)."""
    from sklearn.metrics import accuracy_score, r2_score

    metric = accuracy_score if task == "classification" else r2_score
    target = np.asarray(y)
    baseline = float(metric(target, model.predict(features)))
    rng = np.random.default_rng(seed)
    rows = []
    for name in features.columns:
        drops = []
        shuffled = features.copy()
        column = features[name]
        for _ in range(repeats):
            # .array.take keeps extension dtypes (a pandas Categorical stays one).
            order = rng.permutation(len(column))
            shuffled[name] = pd.Series(column.array.take(order), index=features.index)
            drops.append(baseline - float(metric(target, model.predict(shuffled))))
        rows.append(
            {"feature": str(name), "importance": float(np.mean(drops)), "std": float(np.std(drops))}
        )
    return sorted(rows, key=lambda r: -r["importance"])
