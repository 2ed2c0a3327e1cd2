"""A served deployment, simulated: the registered model answers and its answers are logged.

`serve` does what `monoloop serve` does for each request: load the version an alias
names, predict, and append one prediction-log row per request with the role it played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.integration.registry_fixtures import FEATURES, Trained, churn_frame

from monoloop.predictions import log
from monoloop.registry.loading import load_model
from monoloop.workspace import Workspace

DEPLOYMENT = "churn-api"


def drifted_frame(rows: int, *, seed: int, shift: float = 15.0) -> pd.DataFrame:
    """Customers of a changed market: longer tenure, mostly in the south, and a churn
    rule the old model never saw: the region decides, support calls no longer matter."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(24 + shift, 10, rows)
    calls = rng.integers(0, 12, rows)
    region = rng.choice(["north", "south", "east"], rows, p=[0.1, 0.8, 0.1])
    logit = 2.5 * (region == "south") - 1.2 + rng.normal(0, 1.0, rows)
    return pd.DataFrame(
        {"tenure": tenure, "calls": calls, "region": region, "churned": (logit > 0).astype(int)}
    )


@dataclass
class Served:
    rows: pd.DataFrame  # the logged rows
    truth: pd.DataFrame  # request_id, label

    def labels(self, share: float = 1.0) -> pd.DataFrame:
        return self.truth.head(int(len(self.truth) * share))


def serve(
    ws: Workspace,
    frame: pd.DataFrame,
    *,
    ref: str = "churn@champion",
    role: str = "primary",
    start: float,
    step: float = 1.0,
    prefix: str = "r",
    deployment: str = DEPLOYMENT,
) -> Served:
    model = load_model(ws, ref)
    features = frame[FEATURES].reset_index(drop=True)
    predicted = model.predict(features)
    proba = model.predict_proba(features)
    n = len(features)
    ids = [f"{prefix}-{i}" for i in range(n)]
    rows: dict[str, Any] = {
        "request_id": ids,
        "time": start + step * np.arange(n),
        "deployment": deployment,
        "model": model.version.model,
        "version": model.version.version,
        "role": role,
        "latency_ms": 1.0,
    }
    for col in FEATURES:
        rows[f"in.{col}"] = features[col].to_numpy()
    rows["out.prediction"] = predicted
    for i, cls in enumerate(model.model.classes_):
        rows[f"out.proba.{cls}"] = proba[:, i]
    logged = pd.DataFrame(rows)
    log.append(ws, deployment, logged)
    truth = pd.DataFrame({"request_id": ids, "label": frame["churned"].to_numpy()})
    return Served(logged, truth)


def clean_frame(rows: int, *, seed: int) -> pd.DataFrame:
    return churn_frame(rows, seed=seed)


def fit_on(train: pd.DataFrame, test: pd.DataFrame) -> Trained:
    """The registry fixtures' model, trained on the given rows."""
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["tenure", "calls"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ]
        ),
        LogisticRegression(max_iter=500),
    ).fit(train[FEATURES], train["churned"])
    return Trained(model, train, test)
