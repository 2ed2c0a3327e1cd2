"""The model registry on SQLite and PostgreSQL: formats, the safe loader, signatures, aliases,
promotion through gates, rollback, forced promotion, Git tags and lineage."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import update
from tests.integration.registry_fixtures import FEATURES, Trained, configure, train_model

from monoloop.audit import service as audit
from monoloop.errors import Conflict, Forbidden, InvalidInput, NotFound
from monoloop.registry import aliases, gates, service
from monoloop.registry.formats import UnsafeModel
from monoloop.registry.lineage import lineage
from monoloop.registry.loading import load_model
from monoloop.registry.signature import SignatureMismatch
from monoloop.registry.tables import model_versions
from monoloop.registry.tags import sync_tags
from monoloop.registry.versions import get_version, list_models, list_versions
from monoloop.workspace import Workspace


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train_model(seed=0)


@pytest.fixture
def reconfigure(ws: Workspace) -> Iterator[Callable[[dict[str, Any]], Workspace]]:
    opened: list[Workspace] = []

    def apply(extra: dict[str, Any]) -> Workspace:
        new = configure(opened[-1] if opened else ws, extra)
        opened.append(new)
        return new

    yield apply
    for w in opened:
        w.close()


def register(ws: Workspace, t: Trained, name: str = "churn", **kw: Any) -> Any:
    kw.setdefault("holdout", t.test)
    kw.setdefault("target", "churned")
    return service.register_model(ws, name, t.model, sample_input=t.x_train, **kw)


def kinds(ws: Workspace) -> list[str]:
    return [e.kind for e in audit.log(ws)]


# --- registration and loading ------------------------------------------------------------


def test_skops_round_trip_records_everything(ws: Workspace, trained: Trained) -> None:
    mv = register(ws, trained, card={"intended_use": "retention offers", "owner": "ml-team"})
    assert (mv.model, mv.version, mv.format) == ("churn", 1, "skops")
    assert [c.name for c in mv.signature.inputs] == FEATURES
    assert [c.type for c in mv.signature.inputs] == ["number", "integer", "string"]
    assert mv.signature.classes == [0, 1]
    # Metrics computed on the holdout agree with scikit-learn's own.
    expected = float((trained.model.predict(trained.x_test) == trained.test.churned).mean())
    assert mv.metrics["accuracy"] == pytest.approx(expected)
    assert 0.5 < mv.metrics["auc"] <= 1.0
    assert {r["feature"] for r in mv.importance} == set(FEATURES)
    assert mv.importance == sorted(mv.importance, key=lambda r: -r["importance"])
    assert mv.profile_id and mv.holdout_id and mv.git_commit is None
    card = ws.objects.get(mv.card_id).decode()
    assert "retention offers" in card and "## Metrics" in card and "tenure" in card

    predictor = load_model(ws, "churn:1")
    np.testing.assert_array_equal(
        predictor.predict(trained.x_test), trained.model.predict(trained.x_test)
    )
    np.testing.assert_allclose(
        predictor.predict_proba(trained.x_test), trained.model.predict_proba(trained.x_test)
    )
    assert kinds(ws).count("model.register") == 1
    assert audit.verify(ws).ok


def test_onnx_predictions_match_scikit_learn(ws: Workspace, trained: Trained) -> None:
    mv = register(ws, trained, format="onnx")
    assert mv.format == "onnx" and mv.task == "classification"
    predictor = load_model(ws, "churn")
    np.testing.assert_allclose(
        predictor.predict_proba(trained.x_test),
        trained.model.predict_proba(trained.x_test),
        atol=1e-5,
    )
    np.testing.assert_array_equal(
        predictor.predict(trained.x_test), trained.model.predict(trained.x_test)
    )


def test_regressor_gets_regression_metrics(ws: Workspace) -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200)})
    frame["y"] = 2 * frame.x - frame.z + rng.normal(0, 0.1, 200)
    model = Ridge().fit(frame[["x", "z"]], frame.y)
    mv = service.register_model(
        ws, "price", model, sample_input=frame[["x", "z"]], holdout=frame, target="y"
    )
    assert mv.task == "regression" and {"mae", "rmse", "r2"} <= set(mv.metrics)
    assert mv.metrics["r2"] > 0.95
    loaded = load_model(ws, "price")
    np.testing.assert_allclose(loaded.predict(frame), model.predict(frame[["x", "z"]]))
    with pytest.raises(InvalidInput, match="no probabilities"):
        loaded.predict_proba(frame)


def test_versions_count_up_and_list(ws: Workspace, trained: Trained) -> None:
    register(ws, trained)
    register(ws, trained, holdout=None, target=None)
    assert [v.version for v in list_versions(ws, "churn")] == [1, 2]
    (summary,) = list_models(ws)
    assert (summary.name, summary.latest, summary.aliases) == ("churn", 2, {})
    assert get_version(ws, "churn").version == 2
    assert get_version(ws, "churn:latest").version == 2


def test_trusted_pickle_registers_flagged_and_loads(ws: Workspace, trained: Trained) -> None:
    mv = register(ws, trained, format="pickle", trusted=True)
    assert mv.trusted and mv.trusted_by == ws.actor
    assert "Warning" in ws.objects.get(mv.card_id).decode()
    np.testing.assert_array_equal(
        load_model(ws, "churn").predict(trained.x_test), trained.model.predict(trained.x_test)
    )


class Explode:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_never_runs_without_trust(
    ws: Workspace, trained: Trained, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps(Explode(marker)))
    before = kinds(ws)
    with pytest.raises(UnsafeModel, match="pickle"):
        service.register_file(ws, "churn", evil)
    with pytest.raises(UnsafeModel, match="pickle"):
        service.register_model(
            ws, "churn", trained.model, sample_input=trained.x_train, format="pickle"
        )
    assert not marker.exists() and list_models(ws) == [] and kinds(ws) == before

    # A pickle version whose trust was never given (or was taken away) does not load.
    register(ws, trained, format="pickle", trusted=True)
    data = pickle.dumps(Explode(marker))
    oid = ws.objects.put_bytes(data)
    with ws.db.write() as conn:
        conn.execute(update(model_versions).values(trusted_by=None, object_id=oid, size=len(data)))
    with pytest.raises(UnsafeModel, match="not marked trusted"):
        load_model(ws, "churn:1")
    assert not marker.exists()


class Custom:
    def predict(self, x: Any) -> Any:
        return np.zeros(len(x))


def test_skops_with_unknown_types_needs_trust(ws: Workspace, tmp_path: Path) -> None:
    import skops.io as sio

    path = tmp_path / "custom.skops"
    sio.dump(Custom(), path)
    with pytest.raises(UnsafeModel, match="Custom"):
        service.register_file(ws, "odd", path)
    assert list_models(ws) == []


def test_model_file_that_is_not_its_format(ws: Workspace, tmp_path: Path) -> None:
    fake = tmp_path / "model.skops"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InvalidInput, match="not a skops file"):
        service.register_file(ws, "churn", fake)
    junk = tmp_path / "model.onnx"
    junk.write_bytes(b"hello world, no model here")
    with pytest.raises(InvalidInput, match="not a model file"):
        service.register_file(ws, "churn", junk)
    link = tmp_path / "link.skops"
    link.symlink_to(fake)
    with pytest.raises(InvalidInput, match="symbolic link"):
        service.register_file(ws, "churn", link)
    assert list_models(ws) == []


def test_register_file_from_skops_and_onnx(ws: Workspace, trained: Trained, tmp_path: Path) -> None:
    import skops.io as sio

    from monoloop.registry.formats import to_onnx

    sio.dump(trained.model, tmp_path / "m.skops")
    (tmp_path / "m.onnx").write_bytes(to_onnx(trained.model, trained.x_train))
    a = service.register_file(ws, "churn", tmp_path / "m.skops", sample_input=trained.x_train)
    b = service.register_file(ws, "churn", tmp_path / "m.onnx", sample_input=trained.x_train)
    assert (a.format, b.format) == ("skops", "onnx")
    for ref in ("churn:1", "churn:2"):
        np.testing.assert_allclose(
            load_model(ws, ref).predict_proba(trained.x_test),
            trained.model.predict_proba(trained.x_test),
            atol=1e-5,
        )


def test_signature_errors_name_the_column(ws: Workspace, trained: Trained) -> None:
    register(ws, trained)
    predictor = load_model(ws, "churn")
    with pytest.raises(SignatureMismatch, match="lacks column calls") as missing:
        predictor.predict(trained.x_test.drop(columns=["calls"]))
    assert "integer" in (missing.value.hint or "")
    bad = trained.x_test.assign(tenure="long")
    with pytest.raises(SignatureMismatch, match=r"'tenure' has string values.*expected number"):
        predictor.predict(bad)
    # Ints where floats are expected, extra columns, other column order: all fine.
    ok = trained.x_test.assign(tenure=trained.x_test.tenure.round().astype(int), extra=1)
    assert len(predictor.predict(ok[["extra", "region", "calls", "tenure"]])) == len(ok)


def test_unknown_model_alias_and_version(ws: Workspace, trained: Trained) -> None:
    register(ws, trained)
    with pytest.raises(NotFound, match="no model named 'nope'"):
        load_model(ws, "nope")
    with pytest.raises(NotFound, match="holds the alias 'champion'"):
        load_model(ws, "churn@champion")
    with pytest.raises(NotFound, match="no version 7"):
        get_version(ws, "churn:7")
    register(ws, trained, name="other")
    register(ws, trained, name="other")
    with pytest.raises(NotFound, match="'churn' has no version 2"):
        aliases.set_alias(ws, "churn", "champion", 2)
    with pytest.raises(InvalidInput, match="not a model reference"):
        get_version(ws, "churn@a@b")


# --- aliases, promotion, rollback ---------------------------------------------------------


def test_alias_promote_and_rollback(ws: Workspace, trained: Trained) -> None:
    for _ in range(3):
        register(ws, trained)
    aliases.set_alias(ws, "churn", "champion", 1)
    move, report = aliases.promote(ws, "churn", 2, to="champion")
    assert (move.version, move.previous, report.passed) == (2, 1, True)
    aliases.promote(ws, "churn", 3, to="champion")
    assert get_version(ws, "churn@champion").version == 3
    assert aliases.rollback(ws, "churn", "champion").version == 2
    assert aliases.rollback(ws, "churn", "champion").version == 1
    with pytest.raises(Conflict, match="no earlier holder"):
        aliases.rollback(ws, "churn", "champion")
    actions = [(m.action, m.version) for m in aliases.history(ws, "churn", "champion")]
    assert actions == [
        ("alias", 1),
        ("promote", 2),
        ("promote", 3),
        ("rollback", 2),
        ("rollback", 1),
    ]
    assert kinds(ws).count("model.rollback") == 2 and audit.verify(ws).ok


GATES = {
    "models": {
        "churn": {
            "gates": [
                {"metric": "accuracy >= 0.6"},
                {"metric": "auc >= champion.auc - 0.005"},
            ]
        }
    }
}


def test_failing_gates_stop_a_promotion_unless_forced(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    ws = reconfigure(GATES)
    register(ws, trained)
    move, report = aliases.promote(ws, "churn", 1, to="champion")
    assert report.passed and "nothing to compare" in report.results[1].detail
    register(ws, trained, metrics={"auc": 0.5})  # as if its AUC had dropped
    with pytest.raises(gates.GatesFailed, match="failed 1 gate"):
        aliases.promote(ws, "churn", 2, to="champion")
    assert get_version(ws, "churn@champion").version == 1
    with pytest.raises(InvalidInput, match="needs a reason"):
        aliases.promote(ws, "churn", 2, to="champion", force=True)
    move, report = aliases.promote(
        ws, "churn", 2, to="champion", force=True, reason="hotfix for a schema change"
    )
    assert move.forced and not report.passed
    event = audit.log(ws, audit.EventFilter(kind="model.promote"))[-1]
    assert event.payload["forced"] is True
    assert event.payload["reason"] == "hotfix for a schema change"
    assert event.payload["failed_gates"] == ["auc >= champion.auc - 0.005"]


def test_forcing_and_trusting_need_the_promote_permission(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    ws = reconfigure({**GATES, "registry": {"promoters": ["lead@example.com"]}})
    register(ws, trained, metrics={"accuracy": 0.1})
    before = kinds(ws)
    with pytest.raises(Forbidden, match="promote permission"):
        aliases.promote(ws, "churn", 1, to="champion", force=True, reason="because")
    with pytest.raises(Forbidden):
        aliases.trust(ws, "churn", 1, reason="I wrote it")
    with pytest.raises(Forbidden):
        register(ws, trained, format="pickle", trusted=True)
    assert kinds(ws) == before


# --- gates, one test per kind -------------------------------------------------------------


def gate_results(ws: Workspace, name: str = "churn") -> dict[str, str]:
    report = gates.check(ws, name, None)
    return {r.kind: r.status for r in report.results}


def test_metric_and_comparison_gates(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    ws = reconfigure(
        {
            "models": {
                "churn": {
                    "gates": [
                        {"metric": "accuracy >= 0.99"},
                        {"metric": "rmse <= 1"},
                    ]
                }
            }
        }
    )
    register(ws, trained)
    report = gates.check(ws, "churn", 1)
    assert [r.status for r in report.results] == ["fail", "error"]
    assert "lacks" in report.results[1].detail and "accuracy" in report.results[1].detail
    assert not report.passed
    checks = audit.log(ws, audit.EventFilter(kind="model.check"))
    assert checks[-1].payload["passed"] is False


def test_slice_latency_size_and_card_gates(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    def gate_set(slice_min: float, p99: float, mb: float, fields: list[str]) -> dict[str, Any]:
        return {
            "models": {
                "churn": {
                    "gates": [
                        {"slice": "region", "rule": f"accuracy >= {slice_min}"},
                        {"latency_p99_ms": p99, "batch_rows": 10},
                        {"max_size_mb": mb},
                        {"card_fields": fields},
                    ]
                }
            }
        }

    ws = reconfigure(gate_set(0.5, 5000, 10, ["owner"]))
    register(ws, trained, card={"owner": "ml-team"})
    report = gates.check(ws, "churn", 1)
    assert report.passed, report.to_dict()
    slices = report.results[0].data["slices"]
    assert set(slices) == {"east", "north", "south"}
    for region, info in slices.items():
        rows = trained.test[trained.test.region == region]
        expected = (trained.model.predict(rows[FEATURES]) == rows.churned).mean()
        assert info["accuracy"] == pytest.approx(expected)

    ws = reconfigure(gate_set(0.999, 1e-6, 1e-6, ["owner", "limitations"]))
    report = gates.check(ws, "churn", 1)
    assert [r.status for r in report.results] == ["fail", "fail", "fail", "fail"]
    assert "limitations" in report.results[3].detail


def test_slice_gate_without_holdout_is_an_error(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    ws = reconfigure(
        {"models": {"churn": {"gates": [{"slice": "region", "rule": "accuracy >= 0.5"}]}}}
    )
    register(ws, trained, holdout=None, target=None)
    (result,) = gates.check(ws, "churn", 1).results
    assert result.status == "error" and "holdout" in result.detail


def test_data_validated_gate_reads_the_ledger(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    from monoloop.tracking import service as tracking

    ws = reconfigure({"models": {"churn": {"gates": [{"data_validated": True}]}}})
    run = tracking.create_run(ws, name="train", inputs={"data/train.csv": "b3:" + "0" * 64})
    tracking.finish_run(ws, run)
    register(ws, trained, run=run)
    assert gate_results(ws) == {"data_validated": "fail"}
    for ok in (False, True):
        with ws.db.write() as conn:
            ws.record(conn, "validation.check", "data/train.csv", {"ok": ok})
        assert gate_results(ws) == {"data_validated": "pass" if ok else "fail"}


# --- Git tags and lineage -----------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_tags_mirror_versions_and_aliases(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    ws = reconfigure({"registry": {"git_tags": True}})
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "first")
    first = git(ws.root, "rev-parse", "HEAD")
    register(ws, trained)
    (ws.root / "x.txt").write_text("x")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "second")
    second = git(ws.root, "rev-parse", "HEAD")
    register(ws, trained)

    def target(tag: str) -> str:
        return git(ws.root, "rev-parse", f"{tag}^{{commit}}")

    assert target("model/churn/v1") == first and target("model/churn/v2") == second
    assert git(ws.root, "cat-file", "-t", "model/churn/v1") == "tag"  # annotated
    aliases.set_alias(ws, "churn", "champion", 2)
    assert target("model/churn@champion") == second
    aliases.set_alias(ws, "churn", "champion", 1)
    assert target("model/churn@champion") == first

    git(ws.root, "tag", "-d", "model/churn/v2", "model/churn@champion")
    git(ws.root, "tag", "model/churn@stale", first)
    result = sync_tags(ws)
    assert result.created == ["model/churn/v2", "model/churn@champion"]
    assert result.deleted == ["model/churn@stale"]
    assert target("model/churn@champion") == first


def test_lineage_follows_data_runs_commit_and_aliases(ws: Workspace, trained: Trained) -> None:
    from monoloop.tracking import service as tracking

    raw, feats = "b3:" + "1" * 64, "b3:" + "2" * 64
    prep = tracking.create_run(ws, pipeline="p", stage="prepare", inputs={"data/raw.csv": raw})
    tracking.finish_run(ws, prep, outputs={"data/features.parquet": feats})
    fit = tracking.create_run(
        ws, pipeline="p", stage="fit", inputs={"data/features.parquet": feats}
    )
    tracking.finish_run(ws, fit)
    register(ws, trained, run=fit)
    aliases.set_alias(ws, "churn", "champion", 1)
    found = lineage(ws, "churn@champion")
    assert found.data == {"data/features.parquet": feats, "data/raw.csv": raw}
    assert [r.stage for r in found.runs] == ["prepare", "fit"]
    assert found.aliases == ["champion"]
    event_kinds = [e.kind for e in found.events]
    assert "model.register" in event_kinds and "model.alias" in event_kinds
    assert event_kinds.count("run.start") == 2
    assert json.loads(json.dumps(found.to_dict()))["version"] == 1


def test_lineage_names_the_deployments_serving_a_version(
    ws: Workspace, trained: Trained, reconfigure: Callable[[dict[str, Any]], Workspace]
) -> None:
    ws = reconfigure(
        {
            "deployments": {
                "api": {
                    "model": "churn@champion",
                    "canary": {"model": "churn@challenger", "traffic": 0.2},
                },
                "batch": {"model": "churn@challenger"},
            }
        }
    )
    register(ws, trained)
    register(ws, trained)
    aliases.set_alias(ws, "churn", "champion", 1)
    aliases.set_alias(ws, "churn", "challenger", 2)
    assert lineage(ws, "churn:1").deployments == ["api (primary)"]
    assert lineage(ws, "churn:2").deployments == ["api (canary)", "batch (primary)"]


def test_lightgbm_native_format_round_trips(ws: Workspace, tmp_path: Path) -> None:
    import lightgbm

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=400),
            "b": rng.normal(size=400),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], 400)),
        }
    )
    frame["label"] = np.where(frame.a + (frame.c == "y") > 0.3, "stay", "leave")
    features = frame[["a", "b", "c"]]
    clf = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1).fit(features, frame.label)
    mv = service.register_model(
        ws, "gbm", clf, sample_input=features, format="lightgbm", holdout=frame, target="label"
    )
    assert (mv.format, mv.task, mv.signature.classes) == ("lightgbm", "classification",
                                                        ["leave", "stay"])  # fmt: skip
    assert mv.metrics["accuracy"] == pytest.approx((clf.predict(features) == frame.label).mean())
    loaded = load_model(ws, "gbm")
    np.testing.assert_array_equal(loaded.predict(features), clf.predict(features))
    np.testing.assert_allclose(loaded.predict_proba(features), clf.predict_proba(features))

    reg = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1).fit(features[["a", "b"]], frame.a)
    path = tmp_path / "model.txt"
    reg.booster_.save_model(str(path))
    mv = service.register_file(ws, "gbm-reg", path, sample_input=features[["a", "b"]])
    assert (mv.format, mv.task) == ("lightgbm", "regression")
    np.testing.assert_allclose(
        load_model(ws, "gbm-reg").predict(frame), reg.predict(frame[["a", "b"]])
    )


def test_lightgbm_takes_plain_strings_for_its_categories(ws: Workspace) -> None:
    import lightgbm

    rng = np.random.default_rng(6)
    frame = pd.DataFrame(
        {"a": rng.normal(size=300), "c": pd.Categorical(rng.choice(["x", "y"], 300))}
    )
    y = (frame.a + (frame.c == "y") > 0.5).astype(int)
    clf = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(frame, y)
    service.register_model(ws, "gbm", clf, sample_input=frame, format="lightgbm")
    as_json = frame.assign(c=frame.c.astype(str))  # what a JSON request or a CSV gives
    np.testing.assert_allclose(
        load_model(ws, "gbm").predict_proba(as_json), clf.predict_proba(frame)
    )
