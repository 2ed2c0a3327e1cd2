"""The demo project's code: a prepare / train / evaluate pipeline with scikit-learn.

Written into the demo repository as files, so the pipeline runs them as any user's
stages would. The train stage registers its model through the SDK, inside its run.
"""

from __future__ import annotations

from pathlib import Path

PREPARE = '''\
"""Features from the raw customers table, and a train/test split."""
import sys

import pandas as pd
import yaml

params = yaml.safe_load(open("params.yaml"))["prepare"]
FEATURES = ["tenure_months", "monthly_charges", "support_tickets", "plan", "region"]
rows = pd.read_csv("data/customers.csv")[FEATURES + ["churned"]]
test = rows.sample(frac=params["test_share"], random_state=params["seed"])
train = rows.drop(test.index)
train.to_parquet("data/train.parquet", index=False)
test.to_parquet("data/test.parquet", index=False)
print(f"{len(rows)} customers -> {len(train)} train, {len(test)} test", file=sys.stderr)
'''

TRAIN = '''\
"""Logistic regression by stochastic gradient descent, registered in the model registry.

Every epoch's loss goes to this stage's run; the model, its holdout metrics, feature
importance and the reference profile of the training data go to the registry.
"""
import json

import numpy as np
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import monoloop

params = yaml.safe_load(open("params.yaml"))["train"]
train = pd.read_parquet("data/train.parquet")
test = pd.read_parquet("data/test.parquet")
features, y = train.drop(columns=["churned"]), train["churned"].to_numpy()
prep = ColumnTransformer([
    ("num", StandardScaler(), ["tenure_months", "monthly_charges", "support_tickets"]),
    ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
]).fit(features)
x = prep.transform(features)
clf = SGDClassifier(loss="log_loss", alpha=params["alpha"], learning_rate="constant",
                    eta0=params["lr"], class_weight={0: 1.0, 1: 2.0}, random_state=0)
rng = np.random.default_rng(0)
with monoloop.start_run() as run:  # attaches to this stage's run
    for epoch in range(params["epochs"]):
        order = rng.permutation(len(y))
        clf.partial_fit(x[order], y[order], classes=[0, 1])
        run.log_metric("train.loss", float(log_loss(y, clf.predict_proba(x))), step=epoch)
    model = Pipeline([("prep", prep), ("clf", clf)])
    version = monoloop.register_model(
        "churn", model,
        sample_input=features.head(200), reference=features,
        holdout=test, target="churned",
        card={
            "intended_use": "rank customers for retention offers; not for pricing",
            "owner": "demo@monoloop.local",
            "limitations": "synthetic data; region and plan only as coarse categories",
        },
    )
json.dump({"model": version.model, "version": version.version}, open("models/churn.json", "w"))
'''

EVALUATE = '''\
"""Accuracy, recall and AUC on the held-out customers, from the registered model."""
import json

import pandas as pd
from sklearn.metrics import roc_auc_score

import monoloop

test = pd.read_parquet("data/test.parquet")
registered = json.load(open("models/churn.json"))  # what the train stage registered
model = monoloop.load_model(f"{registered['model']}:{registered['version']}")
proba = model.predict_proba(test)[:, 1]
predicted = model.predict(test)
y = test["churned"].to_numpy()
accuracy = float((predicted == y).mean())
recall = float(((predicted == 1) & (y == 1)).sum() / max(1, (y == 1).sum()))
metrics = {"accuracy": round(accuracy, 4), "recall": round(recall, 4),
           "auc": round(float(roc_auc_score(y, proba)), 4)}
json.dump(metrics, open("metrics.json", "w"))
'''

PARAMS = """\
prepare:
  seed: 7
  test_share: 0.25
train:
  lr: 0.0005
  alpha: 0.0001
  epochs: 60
"""

PIPELINE = """
pipelines:
  churn:
    schedule: null
    stages:
      prepare:
        cmd: python src/prepare.py
        deps: [data/customers.csv, src/prepare.py]
        params: [prepare]
        outs: [data/train.parquet, data/test.parquet]
      train:
        cmd: python src/train.py
        deps: [data/train.parquet, data/test.parquet, src/train.py]
        params: [train]
        outs: [models/churn.json]
      evaluate:
        cmd: python src/evaluate.py
        deps: [data/test.parquet, models/churn.json, src/evaluate.py]
        metrics: [metrics.json]

models:
  churn:
    description: who is about to cancel their subscription
    gates:
      - metric: "accuracy >= 0.6"
      - metric: "auc >= champion.auc - 0.01"
      - slice: region
        rule: "accuracy >= 0.5"
      - latency_p99_ms: 50
      - card_fields: [intended_use, owner]
"""


def write_project(repo: Path) -> None:
    (repo / "src").mkdir(exist_ok=True)
    (repo / "models").mkdir(exist_ok=True)
    (repo / "src" / "prepare.py").write_text(PREPARE)
    (repo / "src" / "train.py").write_text(TRAIN)
    (repo / "src" / "evaluate.py").write_text(EVALUATE)
    (repo / "params.yaml").write_text(PARAMS)
    config = repo / "monoloop.yaml"
    config.write_text(config.read_text() + PIPELINE)
