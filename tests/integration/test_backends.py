"""The tracking and registry SDKs and the `runs` / `models` CLI, one test body each, run
through both backends: the workspace itself, and a real server on loopback reached with
MONOLOOP_SERVER_URL and MONOLOOP_TOKEN (on SQLite and PostgreSQL both). The workspace's own
DB is read back in both cases: the remote path must leave exactly what the local one does."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import skops.io as sio
import yaml
from tests.integration.registry_fixtures import Trained, train_model
from tests.integration.server_fixtures import live_server

import monoloop
from monoloop.audit import service as audit
from monoloop.backend import ENV_SERVER_URL, ENV_TOKEN
from monoloop.backend.base import Backend
from monoloop.backend.http import HttpBackend
from monoloop.backend.local import LocalBackend
from monoloop.cli import main
from monoloop.errors import Conflict, ConnectionFailed, CorruptObject, InvalidInput, NotFound
from monoloop.registry.gates import GatesFailed
from monoloop.tracking import sdk
from monoloop.tracking import writer as buffered
from monoloop.workspace import Workspace, open_workspace

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


@dataclass
class Target:
    mode: str
    ws: Workspace  # the DB and store both backends write to: read it to check
    backend: Backend
    actor: str  # whom the ledger must name


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train_model(seed=0)


@pytest.fixture(params=["local", "remote"])
def target(
    request: pytest.FixtureRequest, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    path = ws.root / "monoloop.yaml"
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, **GATES}, sort_keys=False))
    gated = open_workspace(ws.root, env={"MONOLOOP_DB_URL": ws.settings.db_url})
    monkeypatch.chdir(ws.root)
    try:
        if request.param == "local":
            with _flushed():
                yield Target("local", gated, LocalBackend(gated, owns=False), gated.actor)
            return
        with live_server(gated) as server:
            token = server.token("promote", "ci-bot")
            monkeypatch.setenv(ENV_SERVER_URL, server.url)
            monkeypatch.setenv(ENV_TOKEN, token)
            with HttpBackend(server.url, token, root=ws.root) as backend, _flushed():
                yield Target("remote", gated, backend, "ci-bot")
    finally:
        gated.close()


@contextlib.contextmanager
def _flushed() -> Iterator[None]:
    """Runs still buffered are written before the server stops."""
    try:
        yield
    finally:
        buffered.close_all()


def actors(ws: Workspace, **filters: str) -> set[str]:
    return {e.actor for e in audit.log(ws, audit.EventFilter(**filters))}  # type: ignore[arg-type]


# --- tracking ------------------------------------------------------------------------------


def test_tracking_through_the_sdk(target: Target) -> None:
    root = target.ws.root
    (root / "model.txt").write_text("weights")
    (root / "report" / "sub").mkdir(parents=True)
    (root / "report" / "a.txt").write_text("a")
    (root / "report" / "sub" / "b.txt").write_text("b")
    with sdk.start_run(name="sdk", tags={"team": "a"}, params={"lr": 0.1}) as run:
        assert run.backend.root == root
        run.log_params({"model": "rf", "layers": [64, 32]})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("train/acc", 0.5)
        run.log_metric("train/acc", 0.75)
        run.log_metric("diverged", float("nan"))
        run.set_tags({"phase": "dev"})
        file_id = run.log_artifact(root / "model.txt")
        dir_id = run.log_artifact(root / "report", name="report")
    with pytest.raises(ValueError, match="boom"), sdk.start_run(name="bad") as bad:
        bad.log_metric("x", 1.0)
        raise ValueError("boom")
    sdk.flush()

    b = target.backend
    got = b.get_run(run.id[:8])
    assert (got.id, got.name, got.status, got.actor) == (run.id, "sdk", "finished", target.actor)
    assert got.params == {"layers": [64, 32], "lr": 0.1, "model": "rf"}
    assert got.tags == {"phase": "dev", "team": "a"}
    assert got.metrics["loss"] == 0.2 and got.metrics["train/acc"] == 0.75
    assert math.isnan(got.metrics["diverged"])
    assert {k: (a.id, a.kind) for k, a in got.artifacts.items()} == {
        "model.txt": (file_id, "file"),
        "report": (dir_id, "dir"),
    }
    assert got.python and got.packages_hash, "the client's environment is recorded"
    # What the backend reads is what the workspace holds, field for field.
    from monoloop.tracking import service as tracking

    here, there = got.to_dict(), tracking.get_run(target.ws, run.id).to_dict()
    assert here.pop("duration_s") == pytest.approx(there.pop("duration_s"), abs=1e-5)
    assert here == there
    assert b.get_object(file_id) == b"weights"
    assert [e.path for e in target.ws.objects.read_manifest(dir_id).entries] == [
        "a.txt",
        "sub/b.txt",
    ]
    assert [(s, v) for s, v, _ in b.metric_history(run.id, "train/acc")] == [(0, 0.5), (1, 0.75)]
    found = b.search_runs(where='params.model = "rf" and metrics.loss < 0.3')
    assert [r.id for r in found] == [run.id]
    (failed,) = b.search_runs(where="status = failed")
    assert (failed.id, failed.error) == (bad.id, "ValueError: boom")
    assert [r.id for r in b.search_runs(order_by="-metrics.x", limit=1)] == [bad.id]
    assert actors(target.ws, kind="run.*") == {target.actor}


def test_a_run_in_a_loop_of_tiny_runs(target: Target) -> None:
    ids = []
    for i in range(50):
        with sdk.start_run(name=f"r{i}", flush_interval=60) as run:
            run.log_params({"i": i})
            run.log_metric("acc", i / 50)
        ids.append(run.id)
    sdk.flush()
    found = target.backend.search_runs(where="metrics.acc >= 0", order_by="params.i", limit=100)
    assert [r.id for r in found] == ids


def cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    code = main.run(["-C", str(root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_runs_cli(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    ids = []
    for model, acc in [("rf", 0.8), ("gb", 0.9)]:
        with sdk.start_run(name=model, params={"model": model}) as run:
            for step in range(3):
                run.log_metric("acc", acc * (step + 1) / 3, step=step)
        ids.append(run.id)
    sdk.flush()
    root = target.ws.root
    code, out, err = cli(capsys, root, "runs", "list", "--where", "metrics.acc > 0.85", "--json")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == [ids[1]]
    code, out, _ = cli(capsys, root, "runs", "show", ids[0][:8], "--json")
    assert json.loads(out)["params"] == {"model": "rf"}
    code, out, _ = cli(capsys, root, "runs", "metric", ids[1][:8], "acc", "--json")
    assert [p["step"] for p in json.loads(out)] == [0, 1, 2]
    code, out, _ = cli(capsys, root, "runs", "compare", ids[0][:8], ids[1][:8], "--json")
    assert json.loads(out)["differ"]["params"] == ["model"]
    # Errors are the same messages and exit codes either way.
    code, _, err = cli(capsys, root, "runs", "show", "ffffff")
    assert code == 2 and "no run with id" in err
    code, out, _ = cli(capsys, root, "runs", "list", "--where", "metrics.acc >", "--json")
    assert code == 2 and json.loads(out)["error"] == "InvalidInput"
    code, _, err = cli(capsys, root, "runs", "metric", ids[0][:8], "nope")
    assert code == 2 and "its metrics are: acc" in err


# --- registry ------------------------------------------------------------------------------


def test_registry_through_the_sdk(target: Target, trained: Trained) -> None:
    x_test = trained.x_test
    with sdk.start_run(name="train") as run:
        run.log_metric("train_loss", 0.3)
        mv = monoloop.register_model(
            "churn",
            trained.model,
            sample_input=trained.x_train,
            holdout=trained.test,
            target="churned",
            card={"owner": "ml-team"},
        )
    assert (mv.ref, mv.run_id, mv.actor, mv.format) == ("churn:1", run.id, target.actor, "skops")
    assert mv.metrics["train_loss"] == 0.3 and 0.5 < mv.metrics["auc"] <= 1
    assert mv.signature is not None and mv.importance and mv.profile_id and mv.holdout_id
    # The ONNX companion is made and checked here, uploaded, and recorded where the DB is.
    assert mv.companion is not None and mv.companion["checked_on"] == "holdout"
    assert mv.companion_id is not None and target.ws.objects.exists(mv.companion_id)
    predictor = monoloop.load_model("churn:1")
    np.testing.assert_array_equal(predictor.predict(x_test), trained.model.predict(x_test))
    np.testing.assert_allclose(predictor.predict_proba(x_test), trained.model.predict_proba(x_test))
    second = monoloop.register_model(
        "churn",
        trained.model,
        sample_input=trained.x_train,
        format="onnx",
        holdout=trained.test,
        target="churned",
        metrics={"auc": 0.5},  # as if its AUC had dropped
    )
    assert (second.version, second.format, second.run_id) == (2, "onnx", None)
    assert (second.companion_id, second.companion) == (None, None)  # ONNX already

    b = target.backend
    assert b.set_alias("churn", "champion", 1).version == 1
    with pytest.raises(GatesFailed, match="failed 1 gate"):
        b.promote("churn", 2, to="champion")
    move, report = b.promote("churn", 2, to="champion", force=True, reason="hotfix")
    assert (move.version, move.previous, move.forced, report.passed) == (2, 1, True, False)
    assert report.reference is not None and report.reference.version == 1
    assert [r.status for r in report.results] == ["pass", "fail"]
    assert b.rollback("churn", "champion", reason="bad").version == 1
    with pytest.raises(Conflict, match="no earlier holder"):
        b.rollback("churn", "champion")
    assert [(m.action, m.version) for m in b.history("churn", "champion")] == [
        ("alias", 1),
        ("promote", 2),
        ("rollback", 1),
    ]
    assert b.get_version("churn@champion").aliases == ["champion"]
    assert [v.version for v in b.list_versions("churn")] == [1, 2]
    assert [(m.name, m.latest, m.aliases) for m in b.list_models()] == [
        ("churn", 2, {"champion": 1})
    ]
    check = b.check("churn", None, against="champion")
    assert (check.version.version, check.passed) == (2, False)
    assert "ml-team" in b.card("churn:1") and "Latest gate check" not in b.card("churn:1")
    lineage = b.lineage("churn@champion")
    assert [r.id for r in lineage.runs] == [run.id] and lineage.aliases == ["champion"]
    assert {"model.register", "model.alias", "run.start"} <= {e.kind for e in lineage.events}
    with pytest.raises(NotFound, match="no model named 'nope'"):
        b.get_version("nope")
    with pytest.raises(InvalidInput, match="not a model reference"):
        b.get_version("churn@a@b")
    assert actors(target.ws, kind="model.*") == {target.actor}
    assert audit.verify(target.ws).ok


def test_models_cli(target: Target, trained: Trained, capsys: pytest.CaptureFixture[str]) -> None:
    root = target.ws.root
    sio.dump(trained.model, root / "model.skops")
    trained.x_train.head(200).to_csv(root / "sample.csv", index=False)
    trained.test.to_csv(root / "holdout.csv", index=False)
    register = ("models", "register", "churn", "--artifact", "model.skops",
                "--sample", "sample.csv", "--holdout", "holdout.csv",
                "--target", "churned", "--json")  # fmt: skip
    code, out, err = cli(capsys, root, *register)
    assert code == 0, err
    assert json.loads(out)["version"] == 1 and json.loads(out)["actor"] == target.actor
    code, out, err = cli(capsys, root, *register, "--metric", "auc=0.1")
    assert code == 0, err
    assert cli(capsys, root, "models", "alias", "churn@champion", "1")[0] == 0
    code, out, _ = cli(capsys, root, "check", "churn", "2", "--json")
    assert code == 1 and json.loads(out)["passed"] is False
    code, _, err = cli(capsys, root, "models", "promote", "churn", "2", "--to", "champion")
    assert code == 1 and "champion not moved" in err
    code, out, _ = cli(capsys, root, "models", "promote", "churn", "2", "--to", "champion",
                       "--force", "--reason", "hotfix", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["move"]["forced"] is True
    code, out, _ = cli(capsys, root, "models", "rollback", "churn@champion", "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = cli(capsys, root, "models", "history", "churn", "--json")
    assert [m["action"] for m in json.loads(out)] == ["alias", "promote", "rollback"]
    code, out, _ = cli(capsys, root, "models", "list", "--json")
    assert json.loads(out) == [
        {"name": "churn", "latest": 2, "aliases": {"champion": 1}, "description": None}
    ]
    code, out, _ = cli(capsys, root, "models", "show", "churn@champion")
    assert code == 0 and "tenure:number" in out
    code, _, _ = cli(capsys, root, "models", "card", "churn", "-o", "card.md")
    assert code == 0 and "## Metrics" in (root / "card.md").read_text()
    code, out, _ = cli(capsys, root, "models", "lineage", "churn:1", "--json")
    assert code == 0 and json.loads(out)["events"][0]["kind"] == "model.register"
    code, _, err = cli(capsys, root, "models", "show", "churn:9")
    assert code == 2 and "has no version 9" in err
    code, out, _ = cli(capsys, root, "audit", "log", "--kind", "model.*", "--json")
    assert {e["actor"] for e in json.loads(out)} == {target.actor}
    code, out, _ = cli(capsys, root, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


# --- remote only ---------------------------------------------------------------------------


class Tamper(httpx.BaseTransport):
    """Flips a byte of every object the server sends: a man in the middle, or a bad disk."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "GET" and request.url.path.startswith("/v1/objects/"):
            data = bytearray(response.read())
            data[len(data) // 2] ^= 1
            return httpx.Response(response.status_code, content=bytes(data))
        return response


def test_remote_bytes_are_checked_before_loading(ws: Workspace, trained: Trained) -> None:
    with live_server(ws) as server:
        token = server.token("write")
        with HttpBackend(server.url, token, root=ws.root) as backend:
            from monoloop.registry import service

            service.register_model(backend, "churn", trained.model, sample_input=trained.x_train)
        tampered = HttpBackend(server.url, token, root=ws.root, transport=Tamper())
        with tampered, pytest.raises(CorruptObject, match="not that object"):
            tampered.load_model("churn")


def test_an_unreachable_server_keeps_the_buffer(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SERVER_URL, "http://127.0.0.1:9")  # the discard port: refused
    monkeypatch.chdir(ws.root)
    run = sdk.start_run(name="offline", flush_interval=60)
    writer = buffered.writer_for(None)
    try:
        run.log_metric("x", 1.0)
        with pytest.raises(ConnectionFailed, match="cannot reach the monoloop server"):
            run.flush()
        assert len(writer.ops) == 2, "kept, to be retried"
    finally:
        run.end()
        writer.ops.clear()
        buffered.close_all()


def test_tokens_cli_here_and_through_a_server(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ws.root
    code, out, err = cli(capsys, root, "tokens", "create", "lead", "--scope", "admin")
    assert code == 0 and out.strip().startswith("mlt_") and "not shown again" in err
    admin = out.strip()
    code, out, _ = cli(capsys, root, "tokens", "create", "ci", "--scope", "write",
                       "--expires", "30d", "--json")  # fmt: skip
    assert json.loads(out)["scope"] == "write" and json.loads(out)["expires"]
    code, out, _ = cli(capsys, root, "tokens", "list", "--json")
    assert sorted(t["name"] for t in json.loads(out)) == ["ci", "lead"]
    assert admin not in out
    code, out, _ = cli(capsys, root, "tokens", "create", "x", "--scope", "root")
    assert code == 2

    with live_server(ws) as server:
        monkeypatch.setenv(ENV_SERVER_URL, server.url)
        monkeypatch.setenv(ENV_TOKEN, admin)
        code, out, err = cli(capsys, root, "tokens", "revoke", "ci", "--json")
        assert code == 0, err
        assert json.loads(out)["revoked_by"] == "lead"
        code, out, _ = cli(capsys, root, "tokens", "list", "--all")
        assert code == 0 and "revoked" in out
        monkeypatch.setenv(ENV_TOKEN, "mlt_wrong")
        code, _, err = cli(capsys, root, "runs", "list")
        assert code == 2 and "not valid" in err and "MONOLOOP_TOKEN" in err
    revoke = [e for e in audit.log(ws, audit.EventFilter(kind="token.revoke"))]
    assert [(e.subject, e.actor) for e in revoke] == [("ci", "lead")]
