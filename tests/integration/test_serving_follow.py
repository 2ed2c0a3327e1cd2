"""Following the registry under load: promotions and rollbacks swap versions with no failed
request, and every response names a version that held the alias in that window."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
from tests.integration.serving_fixtures import alias, churn_rows, deploy, register_churn, serving

from monoloop.registry import aliases
from monoloop.workspace import Workspace


def test_promote_and_roll_back_under_load_fail_no_request(ws: Workspace) -> None:
    for seed in range(3):
        register_churn(ws, seed=seed, c=1.0 / (seed + 1))
    alias(ws, "churn@champion", 1)
    ws = deploy(ws, {"churn-api": {"model": "churn@champion"}})
    rows = churn_rows(3)
    outcomes: Counter[tuple[int, int | None]] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def client(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                got = http.post("/v1/deployments/churn-api/predict", json=rows)
                version = got.json().get("version") if got.status_code == 200 else None
                with lock:
                    outcomes[(got.status_code, version)] += 1

    def served(version: int, timeout: float = 15.0) -> None:
        """Wait until responses come from `version`."""
        with lock:
            before = outcomes[(200, version)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                if outcomes[(200, version)] > before + 20:
                    return
            time.sleep(0.02)
        raise AssertionError(f"v{version} never answered: {dict(outcomes)}")

    with serving(ws, poll=0.2) as srv:
        threads = [threading.Thread(target=client, args=(srv.url,)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            served(1)
            aliases.promote(ws, "churn", 2, to="champion")
            served(2)
            aliases.promote(ws, "churn", 3, to="champion")
            served(3)
            aliases.rollback(ws, "churn", "champion", reason="test")
            served(2)
        finally:
            stop.set()
            for t in threads:
                t.join()
        loads = srv.metric(
            "monoloop_serving_model_loads_total",
            deployment="churn-api",
            role="primary",
            model="churn",
            version="2",
        )
    failed = {k: n for k, n in outcomes.items() if k[0] != 200}
    assert not failed, failed
    assert {version for _, version in outcomes} == {1, 2, 3}  # each held the alias in turn
    assert loads == 2  # v2 was loaded again after the rollback


def test_a_canary_alias_nobody_holds_yet_waits_for_the_controller(ws: Workspace) -> None:
    """The CT controller sets the canary alias when a cycle starts and may remove it when
    the canary is withdrawn: serving starts without it and follows it both ways."""
    register_churn(ws, seed=0)
    register_churn(ws, seed=1, c=0.5)
    alias(ws, "churn@champion", 1)
    ws = deploy(
        ws,
        {
            "churn-api": {
                "model": "churn@champion",
                "canary": {"model": "churn@challenger", "traffic": 0.5},
            }
        },
    )
    rows = churn_rows(2)

    def versions(srv: object, n: int = 60) -> Counter[int]:
        seen: Counter[int] = Counter()
        for i in range(n):
            got = srv.predict("churn-api", rows, **{"X-Request-Key": f"user-{i}"})  # type: ignore[attr-defined]
            assert got.status_code == 200, got.text
            seen[got.json()["version"]] += 1
        return seen

    def until(srv: object, expected: set[int], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if set(versions(srv, 20)) == expected:
                return
            time.sleep(0.1)
        raise AssertionError(f"never served exactly {expected}")

    with serving(ws, poll=0.1) as srv:
        assert set(versions(srv)) == {1}  # ready, and the primary answers everyone
        alias(ws, "churn@challenger", 2)
        until(srv, {1, 2})
        aliases.remove_alias(ws, "churn", "challenger")
        until(srv, {1})
