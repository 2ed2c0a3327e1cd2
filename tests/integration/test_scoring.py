"""Batch scoring: files scored in chunks equal in-process predictions, and each scoring is
a run; on Ray, a pool of actors gives the same file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.integration.registry_fixtures import FEATURES, churn_frame
from tests.integration.serving_fixtures import alias, register_churn

from monoloop.errors import InvalidInput
from monoloop.hashing import hash_file
from monoloop.registry.loading import load_model
from monoloop.serving.scoring import score_file
from monoloop.tracking import service as tracking
from monoloop.workspace import Workspace


def read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


@pytest.mark.parametrize(("src", "dst"), [("in.csv", "out.parquet"), ("in.parquet", "out.csv")])
def test_scored_file_equals_in_process_predictions(ws: Workspace, src: str, dst: str) -> None:
    register_churn(ws)
    alias(ws, "churn@champion", 1)
    rows = churn_frame(1_050, seed=21).drop(columns=["churned"]).assign(id=range(1_050))
    source, target = ws.root / src, ws.root / "scored" / dst
    if source.suffix == ".csv":
        rows.to_csv(source, index=False)
    else:
        rows.to_parquet(source, index=False)
    seen: list[int] = []
    result = score_file(ws, "churn@champion", source, target, chunk_rows=200, progress=seen.append)
    assert result.rows == 1_050 and seen == [200] * 5 + [50]

    scored = read(target)
    expected = load_model(ws, "churn:1")
    assert list(scored.columns) == [*FEATURES, "id", "prediction", "proba_0", "proba_1"]
    assert scored["id"].tolist() == list(range(1_050))
    assert scored["prediction"].tolist() == expected.predict(rows).tolist()
    np.testing.assert_allclose(
        scored[["proba_0", "proba_1"]].to_numpy(), expected.predict_proba(rows), atol=1e-12
    )
    run = tracking.get_run(ws, result.run_id)
    assert run.status == "finished"
    assert run.tags == {"kind": "batch-scoring", "model": "churn:1"}
    assert run.params["version"] == "churn:1"
    assert run.metrics["rows"] == 1_050
    assert run.inputs == {str(source): hash_file(source)}
    assert run.outputs == {str(target): hash_file(target)}
    assert not list(target.parent.glob(".*partial*"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_refusals_leave_no_output(ws: Workspace) -> None:
    register_churn(ws)
    source = ws.root / "in.csv"
    churn_frame(10, seed=1).assign(prediction=1).to_csv(source, index=False)
    with pytest.raises(InvalidInput, match="already has column 'prediction'"):
        score_file(ws, "churn", source, ws.root / "out.csv")
    assert not (ws.root / "out.csv").exists()
    with pytest.raises(InvalidInput, match=r"\.csv and \.parquet"):
        score_file(ws, "churn", source, ws.root / "out.json")
    (failed,) = tracking.search_runs(ws, where="tags.kind = 'batch-scoring'")
    assert failed.status == "failed" and "prediction" in (failed.error or "")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    yield ray
    ray.shutdown()


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ray_actors_give_the_same_file(ws: Workspace, ray_cluster: Any) -> None:
    register_churn(ws)
    source = ws.root / "in.parquet"
    churn_frame(2_000, seed=22).to_parquet(source, index=False)
    local = score_file(ws, "churn", source, ws.root / "local.parquet", chunk_rows=300)
    on_ray = score_file(
        ws, "churn", source, ws.root / "ray.parquet", chunk_rows=300, executor="ray"
    )
    assert on_ray.rows == local.rows == 2_000
    pd.testing.assert_frame_equal(read(ws.root / "ray.parquet"), read(ws.root / "local.parquet"))
    assert tracking.get_run(ws, on_ray.run_id).params["executor"] == "ray"
