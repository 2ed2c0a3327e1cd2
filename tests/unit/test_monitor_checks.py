"""The monitor checks as plain functions: every decay metric on hand-computed rows, the
drift verdict (features, predictions, chosen columns), and importance over time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monoloop.monitoring import checks
from monoloop.monitoring.profile import build_profile
from monoloop.monitoring.spec import DecaySpec, DriftSpec, ImportanceSpec

# --- decay: each metric ---------------------------------------------------------------


def classified() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": [1, 0, 1, 1, 0, 0],
            "out.prediction": [1, 0, 0, 1, 1, 0],
            "out.proba.0": [0.1, 0.8, 0.6, 0.2, 0.45, 0.7],
            "out.proba.1": [0.9, 0.2, 0.4, 0.8, 0.55, 0.3],
        }
    )


def test_classification_metrics_by_hand() -> None:
    found = checks.scores("classification", classified())
    assert found["accuracy"] == pytest.approx(4 / 6)
    assert found["precision"] == pytest.approx(2 / 3)  # 2 of the 3 predicted 1s
    assert found["recall"] == pytest.approx(2 / 3)  # 2 of the 3 true 1s
    assert found["f1"] == pytest.approx(2 / 3)
    # AUC: of the 9 (positive, negative) pairs, the positive scores higher in 8.
    assert found["auc"] == pytest.approx(8 / 9)


def test_regression_metrics_by_hand() -> None:
    rows = pd.DataFrame({"label": [1.0, 2.0, 3.0, 4.0], "out.prediction": [1.5, 2.0, 2.0, 4.0]})
    found = checks.scores("regression", rows)
    assert found["mae"] == pytest.approx(1.5 / 4)
    assert found["rmse"] == pytest.approx(math.sqrt(1.25 / 4))
    assert found["r2"] == pytest.approx(1 - 1.25 / 5.0)


def test_probability_columns_follow_the_class_order() -> None:
    rows = pd.DataFrame({"out.proba.10": [0.7], "out.proba.2": [0.3]})
    np.testing.assert_allclose(checks.probabilities(rows), [[0.3, 0.7]])
    assert checks.probabilities(pd.DataFrame({"x": [1]})) is None


@pytest.mark.parametrize(
    ("spec", "registered", "verdict", "reason"),
    [
        (DecaySpec(metric="accuracy", min=0.7, min_labels=1), {}, "fired", "below min 0.7"),
        (DecaySpec(metric="accuracy", min=0.6, min_labels=1), {}, "ok", ""),
        (DecaySpec(metric="auc", max_drop=0.05, min_labels=1), {"auc": 0.95}, "fired", "worse"),
        (DecaySpec(metric="auc", max_drop=0.1, min_labels=1), {"auc": 0.95}, "ok", ""),
        (DecaySpec(metric="recall", max_drop=0.1, min_labels=1), {}, "skipped", "no registered"),
        (DecaySpec(metric="accuracy", min=0.5, min_labels=7), {}, "skipped", "fewer than"),
    ],
)
def test_decay_verdicts(
    spec: DecaySpec, registered: dict[str, float], verdict: str, reason: str
) -> None:
    found = checks.decay("classification", classified(), spec, registered)
    assert found.verdict == verdict and reason in found.summary


def test_decay_of_an_error_metric_fires_above_max() -> None:
    rows = pd.DataFrame({"label": [1.0, 2.0, 3.0], "out.prediction": [2.0, 3.0, 4.0]})
    found = checks.decay("regression", rows, DecaySpec(metric="mae", max=0.5, min_labels=1), {})
    assert found.verdict == "fired" and found.statistics["value"] == pytest.approx(1.0)
    drop = checks.decay(
        "regression", rows, DecaySpec(metric="rmse", max_drop=0.5, min_labels=1), {"rmse": 0.2}
    )
    assert drop.verdict == "fired" and drop.statistics["drop"] == pytest.approx(0.8)


# --- drift ---------------------------------------------------------------------------


def reference(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "plan": rng.choice(["basic", "pro"], n),
            "__prediction__": rng.choice([0, 1], n, p=[0.7, 0.3]),
        }
    )


def window(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "in.age": frame["age"],
            "in.plan": frame["plan"],
            "out.prediction": frame["__prediction__"],
        }
    )


def test_drift_fires_on_features_and_on_predictions_alone() -> None:
    profile = build_profile(reference())
    same = window(reference(500, seed=1))
    assert checks.drift(profile, same, DriftSpec(), min_rows=100).verdict == "ok"

    moved = reference(500, seed=2)
    moved["age"] += 10
    moved["plan"] = "pro"
    found = checks.drift(profile, window(moved), DriftSpec(), min_rows=100)
    assert found.verdict == "fired" and found.statistics["drifted"] == ["age", "plan"]
    assert found.statistics["columns"]["age"]["by"] == ["psi", "ks", "wasserstein"]

    flipped = reference(500, seed=3)
    flipped["__prediction__"] = 1
    by_prediction = checks.drift(profile, window(flipped), DriftSpec(), min_rows=100)
    assert by_prediction.verdict == "fired" and by_prediction.statistics["drifted"] == []
    assert "predictions drifted" in by_prediction.summary
    quiet = checks.drift(profile, window(flipped), DriftSpec(prediction=False), min_rows=100)
    assert quiet.verdict == "ok"


def test_drift_on_chosen_columns_and_its_refusals() -> None:
    profile = build_profile(reference())
    moved = reference(500, seed=2)
    moved["age"] += 10
    only_plan = checks.drift(profile, window(moved), DriftSpec(columns=["plan"]), min_rows=1)
    assert only_plan.verdict == "ok" and list(only_plan.statistics["columns"]) == ["plan"]
    assert checks.drift(profile, window(moved), DriftSpec(), min_rows=501).verdict == "skipped"
    bad = checks.drift(profile, window(moved), DriftSpec(columns=["zip"]), min_rows=1)
    assert bad.verdict == "error" and "zip" in bad.summary
    lacking = checks.drift(profile, window(moved).drop(columns=["in.age"]), DriftSpec(), min_rows=1)
    assert lacking.verdict == "error" and "lacks column(s) 'age'" in lacking.summary


# --- importance over time -----------------------------------------------------------------


class OnlyA:
    """A model that looks at feature `a` alone."""

    def predict(self, frame: pd.DataFrame) -> Any:
        return (frame["a"] > 0).astype(int).to_numpy()


def test_importance_fires_when_the_top_features_change() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=400), rng.normal(size=400)
    rows = pd.DataFrame({"in.a": a, "in.b": b, "label": (a > 0).astype(int)})
    registered = [{"feature": "b", "importance": 0.3}, {"feature": "a", "importance": 0.1}]
    spec = ImportanceSpec(top=1, min_labels=100)
    found = checks.importance(OnlyA(), "classification", rows, spec, registered)
    assert found.verdict == "fired"
    assert (found.statistics["entered"], found.statistics["left"]) == (["a"], ["b"])
    relied_on_a = [{"feature": "a", "importance": 0.3}, {"feature": "b", "importance": 0.0}]
    same = checks.importance(OnlyA(), "classification", rows, spec, relied_on_a)
    assert same.verdict == "ok"
    assert checks.importance(
        OnlyA(), "classification", rows.head(50), spec, registered
    ).verdict == ("skipped")
    assert checks.importance(OnlyA(), "classification", rows, spec, None).verdict == "error"


def test_distributions_count_the_window_on_the_reference_buckets() -> None:
    from monoloop.monitoring.drift import distribution

    profile = build_profile(reference())
    current = reference(500, seed=4)
    current.loc[:9, "plan"] = "enterprise"
    plan = distribution(profile, current, "plan")
    assert plan.labels == ["basic", "pro", "(other)", "(unseen)"]
    assert sum(plan.current) == 500 and plan.current[-1] == 10
    age = distribution(profile, current, "age")
    assert len(age.labels) == len(age.reference) == len(age.current) == 10
    assert age.labels[0].startswith("<= ") and age.labels[-1].startswith("> ")
    assert sum(age.reference) == 2000 and sum(age.current) == 500
