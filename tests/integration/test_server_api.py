"""The REST API as curl sees it, on SQLite and PostgreSQL: runs, metrics, objects, models,
aliases, the ledger and tokens; error bodies; and every response checked against the model
the OpenAPI schema documents for it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter
from tests.integration.registry_fixtures import Trained, train_model
from tests.integration.server_fixtures import LiveServer, live_server

from monoloop.hashing import hash_bytes
from monoloop.registry import service
from monoloop.server import schemas
from monoloop.workspace import Workspace


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    with live_server(ws, max_object_bytes=100_000) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(server.token("admin")) as client:
        yield client


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train_model(seed=2)


def shaped(model: Any, response: httpx.Response, status: int = 200) -> Any:
    """The response's JSON, after checking its status and the documented shape."""
    assert response.status_code == status, response.text
    body = response.json()
    TypeAdapter(model).validate_python(body)
    return body


def error(response: httpx.Response, status: int, name: str) -> str:
    body = shaped(schemas.ErrorOut, response, status)
    assert body["error"] == name, body
    return str(body["message"])


def test_health_and_docs_need_no_token(server: LiveServer) -> None:
    anonymous = server.client()
    assert shaped(schemas.Health, anonymous.get("/healthz"))["status"] == "ok"
    assert "swagger" in anonymous.get("/docs").text.lower()
    schema = anonymous.get("/openapi.json").json()
    assert schema["info"]["title"] == "monoloop" and "/v1/runs" in schema["paths"]


def test_runs_over_http(api: httpx.Client) -> None:
    env = {
        "git_commit": "a" * 40,
        "git_dirty": False,
        "python": "CPython 3.11",
        "packages_hash": "b3:" + "1" * 64,
    }
    body = {"name": "curl", "params": {"lr": 0.1, "layers": [2, 3]}, "tags": {"team": "x"}}
    created = api.post("/v1/runs", json={**body, "env": env})
    run_id = shaped(schemas.RunCreated, created, 201)["id"]
    upload = b"weights"
    oid = hash_bytes(upload)
    headers = {"Content-Type": "application/octet-stream"}
    assert shaped(
        schemas.ObjectOut, api.put(f"/v1/objects/{oid}", content=upload, headers=headers), 201
    ) == {"id": oid, "size": 7}
    writes = {
        "params": {"epochs": 3},
        "tags": {"phase": "dev"},
        "metrics": [
            {"key": "train/loss", "value": 0.5, "step": 0},
            {"key": "train/loss", "value": 0.25, "step": 1},
            {"key": "diverged", "value": "nan"},
        ],
        "artifacts": [{"name": "model.bin", "id": oid}],
        "finish": {"status": "finished", "outputs": {"model.bin": oid}},
    }
    assert api.post(f"/v1/runs/{run_id}/batch", json=writes).status_code == 204
    run = shaped(schemas.RunOut, api.get(f"/v1/runs/{run_id[:8]}"))
    assert (run["status"], run["actor"], run["git_commit"]) == ("finished", "admin", "a" * 40)
    assert run["params"] == {"epochs": 3, "layers": [2, 3], "lr": 0.1}
    assert run["metrics"] == {"diverged": "nan", "train/loss": 0.25}
    assert run["artifacts"] == {"model.bin": oid} and run["outputs"] == {"model.bin": oid}
    points = shaped(list[schemas.PointOut], api.get(f"/v1/runs/{run_id}/metrics/train%2Floss"))
    assert [(p["step"], p["value"]) for p in points] == [(0, 0.5), (1, 0.25)]
    assert api.get(f"/v1/objects/{oid}").content == upload

    other = api.post("/v1/runs", json={"name": "other", "params": {"lr": 0.3}}).json()["id"]
    found = shaped(list[schemas.RunOut], api.get("/v1/runs", params={"where": "params.lr < 0.2"}))
    assert [r["id"] for r in found] == [run_id]
    ordered = api.get("/v1/runs", params={"order_by": "-params.lr", "limit": 1}).json()
    assert [r["id"] for r in ordered] == [other]
    assert [r["id"] for r in api.get("/v1/runs", params={"offset": 1}).json()] == [run_id]

    # Many runs in one transaction: what the SDK sends per flush.
    new = "c" * 32
    point = {"key": "acc", "value": 1, "timestamp": 2.0}
    batch = {
        "runs": [{"id": new, "name": "sdk", "start": 1.0}],
        "writes": {
            new: {"metrics": [point], "finish": {"end": 3.0}},
            other: {"tags": {"seen": "yes"}},
        },
    }
    assert api.post("/v1/runs/batch", json=batch).status_code == 204
    assert api.get(f"/v1/runs/{new}").json()["status"] == "finished"
    assert api.get(f"/v1/runs/{other}").json()["tags"] == {"seen": "yes"}


def test_run_errors_are_json_with_hints(api: httpx.Client) -> None:
    run_id = api.post("/v1/runs", json={}).json()["id"]
    assert "no run with id" in error(api.get("/v1/runs/ffffff"), 404, "NotFound")
    assert "position" in error(
        api.get("/v1/runs", params={"where": "metrics.x >"}), 422, "InvalidInput"
    )
    assert "limit" in error(api.get("/v1/runs", params={"limit": 0}), 422, "InvalidInput")
    message = error(api.post("/v1/runs", json={"nmae": "typo"}), 422, "InvalidInput")
    assert "nmae" in message
    finish = {"finish": {"status": "failed"}}
    assert api.post(f"/v1/runs/{run_id}/batch", json=finish).status_code == 204
    assert "already failed" in error(
        api.post(f"/v1/runs/{run_id}/batch", json=finish), 409, "Conflict"
    )
    dup = {"runs": [{"id": run_id}]}
    assert "already exists" in error(api.post("/v1/runs/batch", json=dup), 409, "Conflict")
    ghost = {"writes": {"d" * 32: {"tags": {"a": "b"}}}}
    error(api.post("/v1/runs/batch", json=ghost), 404, "NotFound")
    assert api.get(f"/v1/runs/{run_id}").json()["tags"] == {}, "a refused batch changes nothing"
    error(api.get("/v1/no/such/route"), 404, "NotFound")
    error(api.delete("/v1/runs"), 405, "MethodNotAllowed")


def test_objects_are_checked_both_ways(api: httpx.Client, server: LiveServer) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    data = b"some bytes"
    oid = hash_bytes(data)
    wrong = hash_bytes(b"other bytes")
    message = error(
        api.put(f"/v1/objects/{wrong}", content=data, headers=headers), 422, "InvalidInput"
    )
    assert f"are {oid}, not {wrong}" in message
    assert not server.ws.objects.exists(wrong) and not server.ws.objects.exists(oid)
    missing = shaped(
        schemas.MissingOut, api.post("/v1/objects/missing", json={"ids": [oid, wrong]})
    )
    assert missing == {"missing": [oid, wrong]}
    assert api.put(f"/v1/objects/{oid}", content=data, headers=headers).status_code == 201
    assert api.put(f"/v1/objects/{oid}", content=data, headers=headers).status_code == 201
    assert api.post("/v1/objects/missing", json={"ids": [oid, wrong]}).json() == {
        "missing": [wrong]
    }
    response = api.get(f"/v1/objects/{oid}")
    assert (
        response.content == data and response.headers["content-type"] == "application/octet-stream"
    )
    error(api.get(f"/v1/objects/{wrong}"), 404, "ObjectNotFound")
    error(api.get("/v1/objects/b3:nothex"), 422, "InvalidInput")
    big = b"x" * 100_001
    error(api.put(f"/v1/objects/{hash_bytes(big)}", content=big, headers=headers), 413, "TooLarge")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield big[:60_000]
        yield big[60_000:]

    response = api.put(f"/v1/objects/{hash_bytes(big)}", content=chunks(), headers=headers)
    error(response, 413, "TooLarge")


def test_models_over_http(api: httpx.Client, server: LiveServer, trained: Trained) -> None:
    assert shaped(list[schemas.ModelOut], api.get("/v1/models")) == []
    ws = server.ws
    for metrics in ({"auc": 0.9}, {"auc": 0.95}):
        service.register_model(
            ws, "churn", trained.model, sample_input=trained.x_train, holdout=trained.test,
            target="churned", metrics=metrics,
        )  # fmt: skip
    versions = shaped(list[schemas.VersionOut], api.get("/v1/models/churn/versions"))
    assert [v["version"] for v in versions] == [1, 2]
    assert shaped(schemas.VersionOut, api.get("/v1/models/churn:1"))["metrics"]["auc"] == 0.9
    assert shaped(schemas.VersionOut, api.get("/v1/models/churn"))["version"] == 2
    move = shaped(
        schemas.MoveOut, api.put("/v1/models/churn/aliases/champion", json={"version": 1})
    )
    assert (move["version"], move["actor"]) == (1, "admin")
    assert api.get("/v1/models/churn@champion").json()["version"] == 1
    check = shaped(schemas.CheckOut, api.post("/v1/models/churn/versions/latest/check", json={}))
    assert (check["version"], check["reference_version"], check["passed"]) == (2, 1, True)
    promoted = shaped(
        schemas.PromotionOut, api.post("/v1/models/churn/promote", json={"to": "champion"})
    )
    assert (promoted["move"]["version"], promoted["move"]["previous"]) == (2, 1)
    back = shaped(
        schemas.MoveOut,
        api.post("/v1/models/churn/rollback", json={"alias": "champion", "reason": "r"}),
    )
    assert back["version"] == 1 and back["reason"] == "r"
    history = shaped(
        list[schemas.MoveOut], api.get("/v1/models/churn/history", params={"alias": "champion"})
    )
    assert [m["action"] for m in history] == ["alias", "promote", "rollback"]
    card = shaped(schemas.CardOut, api.get("/v1/models/churn@champion/card"))["card"]
    assert card.startswith("# Model card: churn version 1")
    lineage = shaped(schemas.LineageOut, api.get("/v1/models/churn:1/lineage"))
    assert lineage["aliases"] == ["champion"] and lineage["events"][0]["kind"] == "model.register"
    removed = shaped(schemas.MoveOut, api.delete("/v1/models/churn/aliases/champion"))
    assert removed["version"] is None
    models = shaped(list[schemas.ModelOut], api.get("/v1/models"))
    assert models == [{"name": "churn", "description": None, "latest": 2, "aliases": {}}]
    # The model's bytes, verified, for a remote loader.
    object_id = versions[0]["object_id"]
    assert hash_bytes(api.get(f"/v1/objects/{object_id}").content) == object_id
    assert "no model named" in error(api.get("/v1/models/nope"), 404, "NotFound")
    assert "not a model reference" in error(api.get("/v1/models/a@b@c"), 422, "InvalidInput")
    message = error(
        api.post("/v1/models/churn/versions/1/trust", json={"reason": " "}), 422, "InvalidInput"
    )
    assert "needs a reason" in message
    assert (
        api.post("/v1/models/churn/versions/1/trust", json={"reason": "reviewed"}).status_code
        == 204
    )
    assert api.get("/v1/models/churn:1").json()["trusted_by"] == "admin"


def test_registering_a_version_rechecks_its_bytes(
    api: httpx.Client, server: LiveServer, trained: Trained
) -> None:
    import pickle

    headers = {"Content-Type": "application/octet-stream"}
    data = pickle.dumps(trained.model)
    oid = hash_bytes(data)
    assert api.put(f"/v1/objects/{oid}", content=data, headers=headers).status_code == 201
    # Claimed to be skops, it is a pickle: refused before anything is recorded.
    message = error(
        api.post("/v1/models/churn/versions", json={"format": "skops", "object_id": oid}),
        422,
        "InvalidInput",
    )
    assert "is a pickle model, not skops" in message
    message = error(
        api.post("/v1/models/churn/versions", json={"format": "pickle", "object_id": oid}),
        403,
        "UnsafeModel",
    )
    assert "arbitrary code" in message
    assert api.get("/v1/models").json() == []
    created = api.post(
        "/v1/models/churn/versions", json={"format": "pickle", "object_id": oid, "trusted": True}
    )
    body = shaped(schemas.VersionOut, created, 201)
    assert (body["trusted_by"], body["size"]) == ("admin", len(data))


def test_the_ledger_over_http(api: httpx.Client) -> None:
    first = api.post("/v1/runs", json={"name": "a"}).json()["id"]
    api.post("/v1/runs", json={"name": "b"})
    events = shaped(list[schemas.EventOut], api.get("/v1/audit/events", params={"kind": "run.*"}))
    assert [e["subject"] for e in events][:1] == [first]
    newest = api.get("/v1/audit/events", params={"limit": 1}).json()
    after = api.get("/v1/audit/events", params={"after": events[0]["seq"]}).json()
    assert newest == after[-1:] and events[0] not in after
    assert api.get("/v1/audit/events", params={"actor": "nobody"}).json() == []
    report = shaped(schemas.ChainOut, api.get("/v1/audit/verify"))
    assert report["ok"] is True and report["count"] >= 3


def test_tokens_over_http(api: httpx.Client, server: LiveServer) -> None:
    made = shaped(
        schemas.TokenCreated,
        api.post("/v1/tokens", json={"name": "ci", "scope": "write", "expires": "30d"}),
        201,
    )
    assert made["token"].startswith("mlt_") and made["expires"] is not None
    listed = shaped(list[schemas.TokenOut], api.get("/v1/tokens"))
    assert {t["name"] for t in listed} == {"admin", "ci"}
    assert "token" not in str(listed).replace("'", " ").split()  # no values, no hashes
    assert all("hash" not in t for t in listed)
    assert "exists already" in error(
        api.post("/v1/tokens", json={"name": "ci", "scope": "read"}), 409, "Conflict"
    )
    assert "duration" in error(
        api.post("/v1/tokens", json={"name": "x", "scope": "read", "expires": "1y"}),
        422,
        "InvalidInput",
    )
    error(api.post("/v1/tokens", json={"name": "x", "scope": "root"}), 422, "InvalidInput")
    ci = server.client(made["token"])
    assert shaped(schemas.WhoAmI, ci.get("/v1/whoami"))["scope"] == "write"
    assert shaped(schemas.TokenOut, api.delete("/v1/tokens/ci"))["status"] == "revoked"
    everything = api.get("/v1/tokens", params={"everything": True}).json()
    assert {t["status"] for t in everything} == {"active", "revoked"}


def test_every_documented_model_forbids_extra_keys() -> None:
    for name in dir(schemas):
        model = getattr(schemas, name)
        if isinstance(model, type) and issubclass(model, BaseModel) and name != "BaseModel":
            assert model.model_config.get("extra") == "forbid", name


def test_non_finite_numbers_travel_as_text(api: httpx.Client) -> None:
    run_id = api.post("/v1/runs", json={}).json()["id"]
    body = {
        "metrics": [{"key": k, "value": v} for k, v in (("a", "inf"), ("b", "-inf"), ("c", 1e308))]
    }
    api.post(f"/v1/runs/{run_id}/batch", json=body)
    metrics = api.get(f"/v1/runs/{run_id}").json()["metrics"]
    assert metrics == {"a": "inf", "b": "-inf", "c": 1e308}
    assert math.isinf(float(metrics["a"]))


def test_deployments_over_http(ws: Workspace, trained: Trained) -> None:
    from tests.integration.registry_fixtures import configure

    from monoloop.registry import aliases
    from monoloop.serving.minutes import MinuteCounts, MinuteWriter
    from monoloop.serving.spec import ServerMetricsSpec

    service.register_model(ws, "churn", trained.model, sample_input=trained.x_train)
    aliases.set_alias(ws, "churn", "champion", 1)
    ws = configure(
        ws,
        {
            "deployments": {
                "churn-api": {
                    "model": "churn@champion",
                    "canary": {"model": "churn@challenger", "traffic": 0.2},
                }
            }
        },
    )
    try:
        with live_server(ws) as srv, srv.client(srv.token("read")) as http:
            (found,) = http.get("/v1/deployments").json()
            roles = {r["role"]: r for r in found["roles"]}
            assert found["name"] == "churn-api"
            assert (roles["primary"]["version"], roles["primary"]["traffic"]) == (1, 0.8)
            assert roles["canary"]["version"] is None and roles["canary"]["error"]
            assert http.get("/v1/deployments/churn-api").json() == found
            missing = http.get("/v1/deployments/nope")
            assert missing.status_code == 404 and "nope" in missing.json()["message"]
            assert srv.client().get("/v1/deployments").status_code == 401

            # What a serving process reported: its per-minute counters.
            counts = MinuteCounts()
            writer = MinuteWriter(ws, counts, ServerMetricsSpec(), ["churn-api"])
            counts.record("churn-api", "primary", "churn", 1, 200, 0.003)
            counts.record("churn-api", "primary", "churn", 1, 422, 0.001)
            assert writer.flush()
            traffic = http.get("/v1/deployments/churn-api/traffic").json()
            assert traffic["window"] == "1h" and traffic["bucket_s"] == 60
            assert traffic["live"]["requests"] == 2 and traffic["live"]["error_rate"] == 0.5
            assert [i["reporting"] for i in traffic["instances"]] == [True]
            week = http.get("/v1/deployments/churn-api/traffic", params={"window": "7d"}).json()
            assert week["total"]["errors_4xx"] == 1 and len(week["points"]) == 84
            bad = http.get("/v1/deployments/churn-api/traffic", params={"window": "2h"})
            assert bad.status_code == 422 and "1h, 6h, 24h, 7d" in bad.json()["hint"]
            assert http.get("/v1/deployments/nope/traffic").status_code == 404
    finally:
        ws.close()
