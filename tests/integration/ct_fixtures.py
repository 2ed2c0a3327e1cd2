"""A workspace set up for continuous training: a `train` pipeline whose ingest stage reads
outside data (a "source" file the test replaces, as a warehouse table would change) and
whose train stage registers `churn`; a deployment with a canary share; a monitor; a
policy. `churn:1` is trained on the clean market and holds `champion`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from tests.integration.monitor_fixtures import DEPLOYMENT, clean_frame, fit_on
from tests.integration.registry_fixtures import configure

from monoloop.pipelines.result import PipelineResult
from monoloop.registry import aliases, service
from monoloop.workspace import Workspace

INGEST = """\
import shutil
shutil.copyfile("source/customers.csv", "data/customers.csv")
"""

TRAIN = """\
import json

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import monoloop

FEATURES = ["tenure", "calls", "region"]
rows = pd.read_csv("data/customers.csv")
test = rows.sample(frac=0.25, random_state=0)
train = rows.drop(test.index)
model = make_pipeline(
    ColumnTransformer([
        ("num", StandardScaler(), ["tenure", "calls"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
    ]),
    LogisticRegression(max_iter=500),
).fit(train[FEATURES], train["churned"])
with monoloop.start_run():  # the stage's own run
    version = monoloop.register_model(
        "churn", model, sample_input=train[FEATURES].head(100), reference=train[FEATURES],
        holdout=test, target="churned",
    )
json.dump({"version": version.version}, open("models/churn.json", "w"))
"""


def policy(**overrides: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "deployment": DEPLOYMENT,
        "on": ["drift", "decay"],
        "retrain": {"pipeline": "train"},
        "challenger_alias": "challenger",
        "canary": {"requests": 100, "minutes": 30, "min_rows": 50},
        "cooldown_minutes": 60,
        "max_retrains_per_day": 3,
    }
    found.update(overrides)
    return found


def ct_config(*, gates: list[dict[str, Any]] | None = None, **policy_overrides: Any) -> dict:
    py = json.dumps(sys.executable)
    return {
        "pipelines": {
            "train": {
                "stages": {
                    "ingest": {"cmd": f"{py} src/ingest.py", "outs": ["data/customers.csv"]},
                    "fit": {
                        "cmd": f"{py} src/train.py",
                        "deps": ["data/customers.csv", "src/train.py"],
                        "outs": ["models/churn.json"],
                    },
                }
            }
        },
        "models": {"churn": {"gates": gates or [{"metric": "accuracy >= 0.7"}]}},
        "deployments": {
            DEPLOYMENT: {
                "model": "churn@champion",
                "canary": {"model": "churn@challenger", "traffic": 0.2},
            }
        },
        "monitors": {
            DEPLOYMENT: {
                "window": {"last": 300},
                "min_rows": 100,
                "drift": {"share": 0.5},
                "decay": {"metric": "accuracy", "min": 0.7, "min_labels": 50},
            }
        },
        "policies": {"churn-retrain": policy(**policy_overrides)},
    }


def write_source(root: Path, frame: pd.DataFrame) -> None:
    (root / "source").mkdir(exist_ok=True)
    frame.to_csv(root / "source" / "customers.csv", index=False)


def ct_workspace(ws: Workspace, **config: Any) -> Workspace:
    root = ws.root
    (root / "src").mkdir(exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "models").mkdir(exist_ok=True)
    (root / "src" / "ingest.py").write_text(INGEST)
    (root / "src" / "train.py").write_text(TRAIN)
    write_source(root, clean_frame(800, seed=0))
    first = fit_on(clean_frame(600, seed=0), clean_frame(200, seed=1000))
    service.register_model(
        ws, "churn", first.model, sample_input=first.x_train, holdout=first.test, target="churned"
    )
    aliases.set_alias(ws, "churn", "champion", 1)
    return configure(ws, ct_config(**config))


class FakeTrainer:
    """Stands in for `run_pipeline`: registers the given model as the next version."""

    def __init__(self, train: pd.DataFrame, test: pd.DataFrame) -> None:
        self.trained = fit_on(train, test)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, ws: Workspace, pipeline: str, **kw: Any) -> PipelineResult:
        self.calls.append({"pipeline": pipeline, **kw})
        t = self.trained
        service.register_model(
            ws, "churn", t.model, sample_input=t.x_train, holdout=t.test, target="churned"
        )
        return PipelineResult()
