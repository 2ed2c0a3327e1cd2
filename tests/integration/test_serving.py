"""`monoloop serve`'s app over real HTTP on loopback: predictions equal to in-process ones,
the canary split and its stickiness, shadow isolation, errors, readiness and metrics."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.integration.registry_fixtures import FEATURES, churn_frame
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

from monoloop.predictions import log as predlog
from monoloop.registry.loading import load_model
from monoloop.registry.service import register_model
from monoloop.registry.versions import get_version
from monoloop.serving.router import CANARY, PRIMARY, choose
from monoloop.workspace import Workspace

# The registry warns when an array-fitted model meets a DataFrame (registration, the
# in-process reference): expected here, where such a model is the point.
pytestmark = pytest.mark.filterwarnings("ignore:X has feature names")

# HTTP behaviour does not depend on the DB: one backend; registry following and the
# prediction log run on both.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@sqlite_only
def test_predictions_equal_in_process_for_records_and_columns(ws: Workspace) -> None:
    register_churn(ws)
    register_lr(ws)
    alias(ws, "churn@champion", 1)
    alias(ws, "lr@champion", 1)
    ws = deploy(
        ws,
        {
            "churn-api": {"model": "churn@champion"},
            "churn-native": {"model": "churn@champion", "runtime": "native"},
            "lr-api": {"model": "lr@champion"},
        },
    )
    rows = churn_rows(25)
    x, _ = lr_data(rows=10, seed=9)
    lr_records = [dict(zip(LR_COLUMNS, map(float, r), strict=True)) for r in x]
    with serving(ws) as srv:
        got = srv.predict("churn-api", rows)
        assert got.status_code == 200, got.text
        answer = got.json()
        expected = load_model(ws, "churn:1")
        frame = pd.DataFrame(rows)
        assert answer["predictions"] == expected.predict(frame).tolist()
        np.testing.assert_allclose(answer["probabilities"], expected.predict_proba(frame))
        assert answer["classes"] == [0, 1]
        assert (answer["model"], answer["version"], answer["role"]) == ("churn", 1, PRIMARY)
        assert got.headers["x-request-id"] == answer["request_id"]
        assert got.headers["x-model-version"] == "churn:1"

        columns = {k: [r[k] for r in rows] for k in FEATURES}
        same = srv.predict("churn-api", columns, **{"X-Request-Id": "abc-123"}).json()
        assert same["predictions"] == answer["predictions"]
        assert same["request_id"] == "abc-123"

        # The plain estimator is served from a float matrix: the same answers.
        lr_answer = srv.predict("lr-api", lr_records).json()
        lr = load_model(ws, "lr:1")
        lr_frame = pd.DataFrame(x, columns=LR_COLUMNS)
        assert lr_answer["predictions"] == lr.predict(lr_frame).tolist()
        np.testing.assert_allclose(lr_answer["probabilities"], lr.predict_proba(lr_frame))
        shown = srv.client.get("/v1/deployments/lr-api").json()
        assert shown["roles"][0]["input"] == "matrix" and shown["ready"] is True
        # By default the verified ONNX companion answers, one array per column; the model
        # itself (runtime: native) from a DataFrame, a ColumnTransformer selecting by name.
        native = srv.predict("churn-native", rows).json()
        assert native["predictions"] == answer["predictions"]
        np.testing.assert_allclose(native["probabilities"], answer["probabilities"], atol=1e-9)
        roles = {
            name: srv.client.get(f"/v1/deployments/{name}").json()["roles"][0]
            for name in ("churn-api", "churn-native")
        }
        assert (roles["churn-api"]["runtime"], roles["churn-api"]["input"]) == ("onnx", "columns")
        assert roles["churn-api"]["object_id"] == get_version(ws, "churn:1").companion_id
        assert (roles["churn-native"]["runtime"], roles["churn-native"]["input"]) == (
            "native",
            "frame",
        )


@sqlite_only
def test_errors_415_422_404_413_and_the_schema(ws: Workspace) -> None:
    register_churn(ws)
    alias(ws, "churn@champion", 1)
    ws = deploy(ws, {"churn-api": {"model": "churn@champion"}}, max_body_bytes=2048)
    with serving(ws) as srv:
        url = "/v1/deployments/churn-api/predict"
        form = srv.client.post(url, data={"tenure": "1"})
        assert form.status_code == 415 and form.json()["error"] == "UnsupportedMediaType"
        text = srv.client.post(url, content=b"[{}]", headers={"content-type": "text/plain"})
        assert text.status_code == 415
        bad = srv.predict("churn-api", [{"tenure": "long", "calls": 1, "region": "north"}])
        assert bad.status_code == 422
        assert bad.json()["column"] == "tenure" and bad.json()["expected"] == "number"
        assert "tenure" in bad.json()["message"] and bad.json()["hint"]
        missing = srv.predict("churn-api", [{"tenure": 1.0, "calls": 1}])
        assert missing.status_code == 422 and missing.json()["column"] == "region"
        broken = srv.client.post(url, content=b"[{", headers={"content-type": "application/json"})
        assert broken.status_code == 400 and broken.json()["error"] == "MalformedBody"
        assert srv.predict("nope", [{}]).status_code == 404
        big = srv.predict("churn-api", churn_rows(100))
        assert big.status_code == 413 and "max_body_bytes" in big.json()["hint"]

        schema = srv.client.get("/v1/deployments/churn-api/schema").json()
        records = schema["input"]["oneOf"][0]
        assert records["items"]["required"] == FEATURES
        assert records["items"]["properties"]["calls"]["type"] == ["integer", "null"]
        assert schema["output"]["properties"]["classes"]["const"] == [0, 1]
        assert srv.client.get("/v1/deployments/nope").status_code == 404
        assert "/v1/deployments/{name}/predict" in srv.client.get("/openapi.json").json()["paths"]
        assert (
            srv.metric(
                "monoloop_serving_errors_total", deployment="churn-api", error="ColumnMismatch"
            )
            == 2
        )


@sqlite_only
def test_canary_split_is_sticky_and_near_its_share(ws: Workspace) -> None:
    register_churn(ws, seed=0)
    register_churn(ws, seed=1, c=0.05)
    alias(ws, "churn@champion", 1)
    alias(ws, "churn@challenger", 2)
    spec = {"model": "churn@champion", "canary": {"model": "churn@challenger", "traffic": 0.3}}
    ws = deploy(ws, {"churn-api": spec})
    row = churn_rows(1)
    n = 300
    with serving(ws) as srv:
        roles = {}
        for i in range(n):
            answer = srv.predict("churn-api", row, **{"X-Request-Key": f"user-{i}"}).json()
            roles[f"user-{i}"] = answer["role"]
            assert answer["version"] == (2 if answer["role"] == CANARY else 1)
        # Exactly the router's split, and so near 30% (4 standard deviations: +-32).
        assert roles == {k: choose("churn-api", k, 0.3) for k in roles}
        share = sum(r == CANARY for r in roles.values())
        assert abs(share - 0.3 * n) < 4 * (n * 0.3 * 0.7) ** 0.5
        for key in ("user-1", "user-2", "user-3"):
            again = {srv.predict("churn-api", row, **{"X-Request-Key": key}).json()["role"]}
            again |= {srv.predict("churn-api", row, **{"X-Request-Key": key}).json()["role"]}
            assert again == {roles[key]}
        shown = srv.client.get("/v1/deployments/churn-api").json()
        traffic = {r["role"]: (r["version"], r["traffic"]) for r in shown["roles"]}
        assert traffic == {"primary": (1, pytest.approx(0.7)), "canary": (2, 0.3)}
        assert (
            srv.metric(
                "monoloop_serving_version_requests_total",
                deployment="churn-api",
                role="canary",
                model="churn",
                version="2",
            )
            == share + sum(roles[k] == CANARY for k in ("user-1", "user-2", "user-3")) * 2
        )


def _strict_encoder_model() -> tuple[object, pd.DataFrame]:
    """Trained without the 'east' region and refusing unknown ones: predict raises on it."""
    train = churn_frame(300, seed=3)
    train = train[train["region"] != "east"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["tenure", "calls"]),
                ("cat", OneHotEncoder(handle_unknown="error"), ["region"]),
            ]
        ),
        LogisticRegression(),
    ).fit(train[FEATURES], train["churned"])
    return model, train[FEATURES]


def test_a_failing_shadow_never_affects_responses(ws: Workspace) -> None:
    register_churn(ws)  # churn:1 answers
    strict, sample = _strict_encoder_model()
    register_model(ws, "strict", strict, sample_input=sample.head(50))
    # Another signature: every request lacks its extra column.
    other = churn_frame(200, seed=4).assign(age=30.0)
    wide = LogisticRegression().fit(other[[*FEATURES[:2], "age"]], other["churned"])
    register_model(ws, "wide", wide, sample_input=other[[*FEATURES[:2], "age"]].head(20))
    alias(ws, "churn@champion", 1)
    alias(ws, "strict@shadow", 1)
    alias(ws, "wide@shadow", 1)
    ws = deploy(
        ws,
        {
            "raising": {"model": "churn@champion", "shadow": "strict@shadow"},
            "rejecting": {"model": "churn@champion", "shadow": "wide@shadow"},
        },
        prediction_log={"flush_interval_s": 0.1},
    )
    rows = churn_rows(40, seed=8)
    east = [r for r in rows if r["region"] == "east"]
    assert east, "the sample needs an 'east' row"
    expected = load_model(ws, "churn:1").predict(pd.DataFrame(rows)).tolist()
    with serving(ws) as srv:
        for deployment in ("raising", "rejecting"):
            for i, row in enumerate(rows):
                answer = srv.predict(deployment, [row])
                assert answer.status_code == 200, answer.text
                assert answer.json()["predictions"] == [expected[i]]
                assert answer.json()["role"] == PRIMARY
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            raised = srv.metric(
                "monoloop_serving_shadow_errors_total",
                deployment="raising",
                error="PredictionFailed",
            )
            rejected = srv.metric(
                "monoloop_serving_shadow_errors_total",
                deployment="rejecting",
                error="ColumnMismatch",
            )
            if raised == len(east) and rejected == len(rows):
                break
            time.sleep(0.05)
        assert (raised, rejected) == (len(east), len(rows))
        assert srv.metric("monoloop_serving_errors_total", deployment="raising") == 0
    # The shadow's answers are logged (never returned); its failures are not.
    logged = predlog.read(ws, "raising", roles=None)
    assert (logged["role"] == "shadow").sum() == len(rows) - len(east)
    assert (logged["role"] == "primary").sum() == len(rows)


def test_ready_only_once_loaded_and_metrics(ws: Workspace) -> None:
    register_lr(ws)
    ws = deploy(ws, {"lr-api": {"model": "lr@champion"}})
    x, _ = lr_data(rows=3, seed=2)
    records = [dict(zip(LR_COLUMNS, map(float, r), strict=True)) for r in x]
    with serving(ws, ready=False) as srv:
        assert srv.client.get("/healthz").status_code == 200
        srv.wait_first_pass()  # before it, readyz says "loading", not why
        waiting = srv.client.get("/readyz")
        assert waiting.status_code == 503
        assert "alias 'champion'" in waiting.json()["waiting"]["lr-api/primary"]
        early = srv.predict("lr-api", records)
        assert early.status_code == 503 and early.json()["error"] == "NotLoaded"
        assert srv.metric("monoloop_serving_ready") == 0
        alias(ws, "lr@champion", 1)  # the server follows the registry: it becomes ready
        srv.wait_ready(timeout=10)
        for _ in range(4):
            assert srv.predict("lr-api", records).status_code == 200
        assert srv.metric("monoloop_serving_ready") == 1
        assert srv.metric("monoloop_serving_requests_total", deployment="lr-api", status="200") == 4
        assert (
            srv.metric(
                "monoloop_serving_predictions_total",
                deployment="lr-api",
                role="primary",
                model="lr",
                version="1",
            )
            == 12
        )
        assert (
            srv.metric(
                "monoloop_serving_model_version", deployment="lr-api", role="primary", model="lr"
            )
            == 1
        )
        assert srv.metric("monoloop_serving_request_seconds_count", deployment="lr-api") == 5
        assert srv.metric("monoloop_predlog_dropped_rows_total") == 0
        text = srv.client.get("/metrics").text
        assert "monoloop_serving_batch_rows_bucket" in text
        assert "monoloop_predlog_pending_rows" in text
    # The load is in the ledger: lineage reads which process answered with what.
    from monoloop.audit.service import EventFilter, log

    (event,) = log(ws, EventFilter(kind="deployment.load"))
    assert event.subject == "lr-api" and event.payload["version"] == 1
