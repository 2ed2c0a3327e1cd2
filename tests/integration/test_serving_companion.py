"""The ONNX companion: made and verified at registration for a scikit-learn model in skops,
noted on the version (record, card, ledger) or noted as absent with the reason; served by
`runtime: auto` with the answers of scikit-learn; `runtime: native` loads the model itself;
a tampered companion is refused; missing values and graph failures go to the model."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from tests.integration.registry_fixtures import FEATURES, train_model
from tests.integration.serving_fixtures import LR_COLUMNS, alias, deploy, lr_data, serving

from monoloop.audit.service import EventFilter, log
from monoloop.errors import CorruptObject, InvalidInput
from monoloop.registry.card import current_card
from monoloop.registry.companion import TOLERANCE, TREES, make_companion
from monoloop.registry.loading import load_version
from monoloop.registry.model import VersionDraft
from monoloop.registry.record import insert_version
from monoloop.registry.service import register_model
from monoloop.registry.versions import get_version
from monoloop.store.local import LocalStore
from monoloop.workspace import Workspace

pytestmark = pytest.mark.filterwarnings("ignore:X has feature names")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _frame(x: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(x, columns=LR_COLUMNS)


def test_registration_verifies_a_companion_or_notes_why_not(ws: Workspace) -> None:
    t = train_model(seed=0, rows=300)
    churn = register_model(
        ws, "churn", t.model, sample_input=t.x_train.head(50), holdout=t.test, target="churned"
    )
    x, y = lr_data(rows=300)
    scaled = make_pipeline(StandardScaler(), LogisticRegression()).fit(_frame(x), y)
    pipe = register_model(ws, "scaled", scaled, sample_input=_frame(x[:80]))
    doubled = make_pipeline(FunctionTransformer(np.negative), LogisticRegression()).fit(x, y)
    custom = register_model(ws, "custom", doubled, sample_input=_frame(x[:20]))
    forest = RandomForestClassifier(5, max_depth=3, random_state=0).fit(x, y)
    trees = register_model(ws, "forest", forest, sample_input=_frame(x[:20]))

    for mv, checked_on, rows in [(churn, "holdout", len(t.test)), (pipe, "sample input", 80)]:
        note = mv.companion
        assert mv.companion_id is not None and note is not None and note["verified"] is True
        assert (note["checked_on"], note["rows"]) == (checked_on, rows)
        assert note["max_abs_diff"] <= TOLERANCE and note["converter"].startswith("skl2onnx ")
        assert get_version(ws, mv.ref).companion_id == mv.companion_id  # recorded
        (event,) = log(ws, EventFilter(kind="model.register", subject=mv.ref))
        assert event.payload["companion_id"] == mv.companion_id  # ledger-visible
        assert event.payload["companion"]["verified"] is True
        card = current_card(ws, mv.ref)
        assert f"ONNX companion | ONNX, verified on {rows} {checked_on} rows" in card
        assert mv.companion_id in card

    # No companion, never a failed registration: the reason is on the version and its card.
    assert custom.companion_id is None and custom.companion is not None
    assert "FunctionTransformer" in custom.companion["reason"]
    assert trees.companion == {"verified": False, "reason": TREES}
    assert "ONNX companion | none: tree models are not converted" in current_card(ws, "forest:1")
    assert load_version(ws, custom, runtime="auto").runtime == "native"
    # Rows with a missing value are the model's to answer in serving: not checked here.
    holes = _frame(x[:6]).assign(f3=[np.nan] * 5 + [0.5])
    gaps = make_companion(LogisticRegression().fit(x, y), holes, checked_on="holdout")
    assert gaps.data is not None and gaps.note["rows"] == 1
    gaps = make_companion(LogisticRegression().fit(x, y), holes[:5], checked_on="holdout")
    assert gaps.data is None and "missing value" in gaps.note["reason"]

    # Where the DB is (a server, for a remote SDK), a companion must be an ONNX graph.
    card_as_graph = VersionDraft(
        "skops", None, churn.object_id, companion_id=churn.card_id, companion={"verified": True}
    )
    with pytest.raises(InvalidInput, match="not an ONNX graph"):
        insert_version(ws, "churn", card_as_graph)
    with pytest.raises(InvalidInput, match="names no object"):
        insert_version(ws, "churn", replace(card_as_graph, companion_id=None))
    assert get_version(ws, "churn").version == 1


@sqlite_only
def test_auto_serves_the_companion_with_scikit_learns_answers(ws: Workspace) -> None:
    t = train_model(seed=0, rows=300)
    register_model(ws, "churn", t.model, sample_input=t.x_train.head(50))
    x, y = lr_data(rows=400)
    labels = np.where(y == 1, True, False)  # booleans: ONNX gives 1/0, served as true/false
    model = LogisticRegression(max_iter=300).fit(x, labels)
    register_model(ws, "lr", model, sample_input=_frame(x[:50]))
    alias(ws, "churn@champion", 1)
    alias(ws, "lr@champion", 1)
    ws = deploy(
        ws,
        {
            "churn-api": {"model": "churn@champion"},
            "churn-native": {"model": "churn@champion", "runtime": "native"},
            "lr-api": {"model": "lr@champion"},
            "lr-native": {"model": "lr@champion", "runtime": "native"},
        },
    )
    holdout = t.test[FEATURES]
    churn_rows = [
        {"tenure": float(r.tenure), "calls": int(r.calls), "region": str(r.region)}
        for r in holdout.itertuples()
    ]
    hx, _ = lr_data(rows=200, seed=3)
    lr_rows = [dict(zip(LR_COLUMNS, map(float, r), strict=True)) for r in hx]
    cases = [
        ("churn", churn_rows, t.model.predict(holdout), t.model.predict_proba(holdout)),
        ("lr", lr_rows, model.predict(hx), model.predict_proba(hx)),
    ]
    with serving(ws) as srv:
        for name, rows, labels_in_process, proba_in_process in cases:
            auto = srv.predict(f"{name}-api", rows).json()
            native = srv.predict(f"{name}-native", rows).json()
            assert auto["predictions"] == native["predictions"] == labels_in_process.tolist()
            assert auto["version"] == native["version"] == 1
            np.testing.assert_allclose(auto["probabilities"], proba_in_process, atol=TOLERANCE)
            np.testing.assert_allclose(native["probabilities"], proba_in_process, rtol=0, atol=0)
            one = srv.predict(f"{name}-api", rows[:1]).json()  # one row, as most callers send
            assert one["predictions"] == auto["predictions"][:1]
            shown = srv.client.get(f"/v1/deployments/{name}-api").json()
            assert shown["runtime"] == "auto" and shown["roles"][0]["runtime"] == "onnx"
            assert shown["roles"][0]["object_id"] == get_version(ws, f"{name}:1").companion_id
            native_role = srv.client.get(f"/v1/deployments/{name}-native").json()["roles"][0]
            assert native_role["runtime"] == "native"
            assert native_role["object_id"] == get_version(ws, f"{name}:1").object_id
        assert {type(p) for p in auto["predictions"]} == {bool}  # as scikit-learn answers


@sqlite_only
def test_missing_values_go_to_the_model_itself(ws: Workspace) -> None:
    t = train_model(seed=0, rows=300)
    register_model(ws, "churn", t.model, sample_input=t.x_train.head(50))
    x, y = lr_data(rows=300)
    plain = LogisticRegression().fit(x, y)
    register_model(ws, "plain", plain, sample_input=_frame(x[:50]))
    alias(ws, "churn@champion", 1)
    alias(ws, "plain@champion", 1)
    ws = deploy(
        ws,
        {
            "churn": {"model": "churn@champion"},
            "churn-b": {"model": "churn@champion"},  # the same loaded version, shared
            "plain": {"model": "plain@champion"},
        },
    )
    row = {"tenure": 20.5, "calls": 3, "region": "south"}
    with serving(ws) as srv:
        shown = srv.client.get("/v1/deployments/churn").json()["roles"][0]
        assert (shown["runtime"], shown["native"]) == ("onnx", "not loaded")
        # Requests with a null: the model itself answers them (loaded for them, while they
        # wait), as scikit-learn does; each in its own deployment's books.
        rows = [row, {**row, "region": None}]
        with ThreadPoolExecutor(2) as pool:
            both = list(pool.map(lambda name: srv.predict(name, rows).json(), ["churn", "churn-b"]))
        frame = pd.DataFrame(rows)
        for name, answered in zip(["churn", "churn-b"], both, strict=True):
            assert answered["deployment"] == name
            assert answered["predictions"] == t.model.predict(frame).tolist()
            np.testing.assert_allclose(
                answered["probabilities"], t.model.predict_proba(frame), rtol=0, atol=1e-12
            )
            labels = {"deployment": name, "role": "primary", "model": "churn", "version": "1"}
            assert srv.metric("monoloop_serving_predictions_total", **labels) == 2
        assert answered["version"] == 1
        shown = srv.client.get("/v1/deployments/churn").json()["roles"][0]
        assert (shown["runtime"], shown["native"]) == ("onnx", "loaded")
        # scikit-learn refuses a missing number here: so does the deployment, in its words.
        line = dict(zip(LR_COLUMNS, map(float, x[0]), strict=True))
        refused = srv.predict("plain", [{**line, "f3": None}])
        assert refused.status_code == 500
        assert "NaN" in refused.json()["message"]
        assert srv.predict("plain", [line]).json()["predictions"] == plain.predict(x[:1]).tolist()


@sqlite_only
def test_a_tampered_companion_is_refused(ws: Workspace) -> None:
    x, y = lr_data(rows=200)
    mv = register_model(ws, "lr", LogisticRegression().fit(x, y), sample_input=_frame(x[:50]))
    assert mv.companion_id is not None
    assert isinstance(ws.objects, LocalStore)
    path = ws.objects.object_path(mv.companion_id)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(40)
        f.write(b"\x00tampered")
    with pytest.raises(CorruptObject):
        load_version(ws, mv, runtime="auto")
    with pytest.raises(CorruptObject):
        load_version(ws, mv, runtime="onnx")
    assert load_version(ws, mv, runtime="native").runtime == "native"  # the model is intact
    alias(ws, "lr@champion", 1)
    ws = deploy(ws, {"lr-api": {"model": "lr@champion"}})
    with serving(ws, ready=False) as srv:
        deadline = time.monotonic() + 30
        while (state := srv.client.get("/readyz")).json()["waiting"].get("lr-api/primary") in (
            "loading",
            None,
        ):
            assert time.monotonic() < deadline, state.text
            time.sleep(0.05)
        assert state.status_code == 503
        assert "match" in state.json()["waiting"]["lr-api/primary"]  # refused, not served
