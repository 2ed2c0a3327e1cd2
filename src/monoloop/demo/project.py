"""The demo project's code: a prepare / train / evaluate pipeline in plain Python.

Written into the demo repository as files, so the pipeline runs them as any user's
stages would. NumPy only: the demo needs no ML framework.
"""

from __future__ import annotations

from pathlib import Path

PREPARE = '''\
"""Features from the raw customers table, and a train/test split."""
import csv, json, random, sys

import yaml

params = yaml.safe_load(open("params.yaml"))["prepare"]
rng = random.Random(params["seed"])
plans = {"basic": 0.0, "plus": 0.5, "pro": 1.0}
rows = list(csv.DictReader(open("data/customers.csv")))
features = [
    [int(r["tenure_months"]) / 72, float(r["monthly_charges"]) / 120,
     int(r["support_tickets"]) / 12, plans[r["plan"]], int(r["churned"])]
    for r in rows
]
rng.shuffle(features)
cut = int(len(features) * (1 - params["test_share"]))
json.dump({"train": features[:cut], "test": features[cut:]}, open("data/features.json", "w"))
print(f"{len(rows)} customers -> {cut} train, {len(features) - cut} test", file=sys.stderr)
'''

TRAIN = '''\
"""Logistic regression by gradient descent; every epoch's loss goes to the run."""
import json

import numpy as np
import yaml

import monoloop

params = yaml.safe_load(open("params.yaml"))["train"]
data = np.array(json.load(open("data/features.json"))["train"])
x, y = np.c_[data[:, :-1], np.ones(len(data))], data[:, -1]
w = np.zeros(x.shape[1])
with monoloop.start_run() as run:  # attaches to this stage's run
    for epoch in range(params["epochs"]):
        p = 1 / (1 + np.exp(-x @ w))
        w -= params["lr"] * x.T @ (p - y) / len(y)
        loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        run.log_metric("train.loss", loss, step=epoch)
json.dump({"weights": w.tolist()}, open("models/model.json", "w"))
'''

EVALUATE = '''\
"""Accuracy and recall of the churn class on the held-out customers."""
import json

import numpy as np

data = np.array(json.load(open("data/features.json"))["test"])
w = np.array(json.load(open("models/model.json"))["weights"])
x, y = np.c_[data[:, :-1], np.ones(len(data))], data[:, -1]
predicted = (1 / (1 + np.exp(-x @ w))) >= 0.3
accuracy = float(np.mean(predicted == y))
recall = float(np.sum(predicted & (y == 1)) / max(1, np.sum(y == 1)))
json.dump({"accuracy": round(accuracy, 4), "recall": round(recall, 4)}, open("metrics.json", "w"))
'''

PARAMS = """\
prepare:
  seed: 7
  test_share: 0.25
train:
  lr: 0.5
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
        outs: [data/features.json]
      train:
        cmd: python src/train.py
        deps: [data/features.json, src/train.py]
        params: [train]
        outs: [models/model.json]
      evaluate:
        cmd: python src/evaluate.py
        deps: [data/features.json, models/model.json, src/evaluate.py]
        metrics: [metrics.json]
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
