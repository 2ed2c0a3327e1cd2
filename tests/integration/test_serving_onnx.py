"""Serving with `runtime: onnx`: the version's ONNX graph (its companion, else its export)
answers, equal to scikit-learn within 1e-5; without either the deployment cannot start."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from tests.integration.serving_fixtures import (
    LR_COLUMNS,
    alias,
    churn_rows,
    deploy,
    lr_data,
    register_churn,
    register_lr,
    serving,
)

from monoloop.errors import NotFound
from monoloop.registry.export import export_version
from monoloop.registry.loading import load_model, load_version
from monoloop.registry.service import register_model
from monoloop.registry.versions import get_version
from monoloop.serving.service import select_deployments
from monoloop.workspace import Workspace

# The registry warns when an array-fitted model meets a DataFrame (registration, the
# in-process reference): expected here, where such a model is the point.
pytestmark = pytest.mark.filterwarnings("ignore:X has feature names")


def test_runtime_onnx_needs_a_companion_or_an_export(ws: Workspace) -> None:
    x, y = lr_data(rows=200)
    forest = RandomForestClassifier(4, max_depth=3, random_state=0).fit(x, y)
    register_model(ws, "forest", forest, sample_input=pd.DataFrame(x[:20], columns=LR_COLUMNS))
    alias(ws, "forest@champion", 1)
    ws = deploy(ws, {"forest-api": {"model": "forest@champion", "runtime": "onnx"}})
    with pytest.raises(NotFound) as caught:
        select_deployments(ws, ["forest-api"])  # tree models get no companion
    assert "no ONNX companion or export" in caught.value.message
    assert "monoloop models export forest:1 --format onnx" in (caught.value.hint or "")
    with pytest.raises(NotFound):
        load_version(ws, get_version(ws, "forest:1"), runtime="onnx")
    export_version(ws, "forest:1")  # float32 trees: within the export's 1e-5
    select_deployments(ws, ["forest-api"])
    assert load_version(ws, get_version(ws, "forest:1"), runtime="onnx").runtime == "onnx"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_onnx_serving_equals_scikit_learn_within_1e_5(ws: Workspace) -> None:
    register_churn(ws)
    register_lr(ws)
    alias(ws, "churn@champion", 1)
    alias(ws, "lr@champion", 1)
    export_version(ws, "churn@champion")
    export_version(ws, "lr@champion")
    ws = deploy(
        ws,
        {
            "churn-onnx": {"model": "churn@champion", "runtime": "onnx"},
            "lr-onnx": {"model": "lr@champion", "runtime": "onnx"},
        },
    )
    select_deployments(ws)
    rows = churn_rows(200, seed=11)
    x, _ = lr_data(rows=200, seed=12)
    lr_rows = [dict(zip(LR_COLUMNS, map(float, r), strict=True)) for r in x]
    cases = [
        ("churn-onnx", "churn:1", rows, pd.DataFrame(rows)),
        ("lr-onnx", "lr:1", lr_rows, pd.DataFrame(x, columns=LR_COLUMNS)),
    ]
    with serving(ws) as srv:
        for deployment, ref, body, frame in cases:
            answer = srv.predict(deployment, body).json()
            reference = load_model(ws, ref)
            assert answer["predictions"] == reference.predict(frame).tolist()
            got = np.asarray(answer["probabilities"])
            np.testing.assert_allclose(got, reference.predict_proba(frame), rtol=0, atol=1e-5)
            shown = srv.client.get(f"/v1/deployments/{deployment}").json()
            assert shown["runtime"] == "onnx"
        roles = srv.client.get("/v1/deployments/lr-onnx").json()["roles"]
        assert roles[0]["input"] == "matrix"  # one tensor input: a float matrix, no frame
