"""Shared data and models for the registry tests: a small churn-like classification task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from monoloop.workspace import Workspace, open_workspace

FEATURES = ["tenure", "calls", "region"]


def churn_frame(rows: int, *, seed: int, noise: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.normal(24, 10, rows)
    calls = rng.integers(0, 12, rows)
    region = rng.choice(["north", "south", "east"], rows)
    logit = -0.15 * (tenure - 24) + 0.5 * (calls - 6) + (region == "south") * 0.8
    logit = logit + rng.normal(0, noise * 4, rows)
    return pd.DataFrame(
        {"tenure": tenure, "calls": calls, "region": region, "churned": (logit > 0).astype(int)}
    )


@dataclass
class Trained:
    model: Any
    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def x_train(self) -> pd.DataFrame:
        return self.train[FEATURES]

    @property
    def x_test(self) -> pd.DataFrame:
        return self.test[FEATURES]


def train_model(*, seed: int = 0, c: float = 1.0, rows: int = 600) -> Trained:
    train = churn_frame(rows, seed=seed)
    test = churn_frame(rows // 3, seed=seed + 1000)
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["tenure", "calls"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ]
        ),
        LogisticRegression(C=c, max_iter=500),
    ).fit(train[FEATURES], train["churned"])
    return Trained(model, train, test)


def configure(ws: Workspace, extra: dict[str, Any]) -> Workspace:
    """Merge `extra` into monoloop.yaml and reopen the workspace with it (same DB)."""
    path = ws.root / "monoloop.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(extra)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {"MONOLOOP_DB_URL": ws.settings.db_url}
    ws.close()
    return open_workspace(Path(ws.root), env=env)
