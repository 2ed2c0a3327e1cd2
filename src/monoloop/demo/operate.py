"""The demo's second half: the champion served on loopback, traffic, drift, monitoring,
and the controller closing the loop (retrain on fresh data, gates, canary, promotion).

The server is a real `monoloop serve` process; the demo talks to it over HTTP only and
stops it at the end, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop import gitutil

if TYPE_CHECKING:
    import httpx
    import pandas as pd  # type: ignore[import-untyped]

    from monoloop.demo.run import _Runner
    from monoloop.validation import PiiKey
    from monoloop.workspace import Workspace

DEPLOYMENT = "churn-api"
FEATURES = ["tenure_months", "monthly_charges", "support_tickets", "plan", "region"]
ROWS_PER_REQUEST = 10

OPERATIONS = f"""
serving:
  poll_interval_s: 0.2
  prediction_log: {{flush_interval_s: 0.2}}
  metrics: {{flush_interval_s: 0.5}}

deployments:
  {DEPLOYMENT}:
    model: churn@champion
    canary: {{model: churn@challenger, traffic: 0.3}}

monitors:
  {DEPLOYMENT}:
    window: {{last: 500}}
    min_rows: 200

policies:
  churn-retrain:
    deployment: {DEPLOYMENT}
    on: [drift]
    retrain: {{pipeline: churn}}
    challenger_alias: challenger
    canary: {{requests: 100, min_rows: 50}}
    cooldown_minutes: 60
    max_retrains_per_day: 3
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(repo: Path, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`monoloop serve` in its own process; stopped (SIGTERM, then waited for) on the way out."""
    port = free_port()
    exe = [sys.executable, "-m", "monoloop.cli.main"]
    proc = subprocess.Popen(
        [*exe, "-q", "serve", DEPLOYMENT, "--port", str(port)],
        cwd=repo,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(what: str, check: Any, *, timeout: float = 30.0) -> Any:
    from monoloop.demo.run import DemoFailed

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise DemoFailed(f"timed out after {timeout:g} s waiting for {what}")


class Traffic:
    """The rows this demo has sent, to check that the prediction log holds each of them."""

    def __init__(self) -> None:
        self.rows = 0


def send(
    client: httpx.Client, url: str, rows: pd.DataFrame, traffic: Traffic, *, keyed: bool = False
) -> list[dict[str, Any]]:
    """POST the rows in requests of ROWS_PER_REQUEST records; every answer must be 200."""
    from monoloop.demo.run import DemoFailed

    answers = []
    traffic.rows += len(rows)
    for i in range(0, len(rows), ROWS_PER_REQUEST):
        records = rows.iloc[i : i + ROWS_PER_REQUEST].to_dict(orient="records")
        headers = {"X-Request-Key": f"customer-{i}"} if keyed else {}
        reply = client.post(
            f"{url}/v1/deployments/{DEPLOYMENT}/predict", json=records, headers=headers
        )
        if reply.status_code != 200:
            raise DemoFailed(f"predict answered {reply.status_code}: {reply.text[:300]}")
        answers.append(reply.json())
    return answers


def logged(ws: Workspace) -> int:
    from monoloop.predictions.log import count

    return count(ws, DEPLOYMENT)


def served_version(client: httpx.Client, url: str, role: str) -> int | None:
    view = client.get(f"{url}/v1/deployments/{DEPLOYMENT}").json()
    for r in view.get("roles", []):
        if r.get("role") == role:
            version = r.get("version")
            return int(version) if version is not None else None
    return None


def operate_steps(run: _Runner, repo: Path, key: PiiKey, env: dict[str, str]) -> None:
    import httpx
    import pandas as pd

    from monoloop.workspace import open_workspace

    config = repo / "monoloop.yaml"
    config.write_text(config.read_text() + OPERATIONS, encoding="utf-8")
    gitutil.git(["commit", "-q", "-am", "Serve churn-api, monitor it, retrain on drift"], repo)
    traffic = Traffic()
    with (
        open_workspace(repo, env=env) as ws,
        served(repo, env) as (url, proc),
        httpx.Client(timeout=30) as client,
    ):
        with run.step("monoloop serve: churn@champion over HTTP on loopback") as say:
            started = time.monotonic()
            wait_until(
                "the server to be ready",
                lambda: _ready(client, url, proc),
                timeout=60,
            )
            schema = client.get(f"{url}/v1/deployments/{DEPLOYMENT}/schema").json()
            records = schema["input"]["oneOf"][0]["items"]["properties"]
            say.append(
                f"{url} ready in {time.monotonic() - started:.1f} s; serves churn:"
                f"{schema['version']}; JSON Schema of {len(records)} inputs"
            )

        test = pd.read_parquet(repo / "data" / "test.parquet")
        with run.step("traffic like the training data: no drift") as say:
            answers = send(client, url, test[FEATURES].head(300), traffic)
            versions = {a["version"] for a in answers}
            run.check(versions == {1}, f"answered by versions {versions}")
            wait_until("the prediction log", lambda: logged(ws) >= 300)
            (result,) = _monitor(ws)
            run.check(not result.fired, f"drift reported on unchanged data: {result.summary}")
            say.append(f"300 predictions by churn:1, logged; monitor: {result.summary}")

        fresh = repo / "data" / "incoming.csv"
        from monoloop.demo.data import write_customers

        write_customers(fresh, seed=8, drifted=True, first_id=2000)
        drifted = pd.read_csv(fresh)
        with run.step("inject drift: newer customers, higher prices") as say:
            send(client, url, drifted[FEATURES].head(500), traffic)
            wait_until("the prediction log", lambda: logged(ws) >= 800)
            (result,) = _monitor(ws)
            run.check(result.fired, f"the drift went unnoticed: {result.summary}")
            run.report.summary["drift"] = result.summary
            say.append(f"monitor fired: {result.summary}")

        with run.step("fresh labelled data arrives: the contract flags the price rise") as say:
            say.append(_fresh_data(run, ws, repo, fresh, key))

        _ct_steps(run, ws, client, url, drifted, traffic)
        with run.step("stop the server: every prediction logged") as say:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            run.check(code == 0, f"the server exited with {code}")
            total = logged(ws)
            run.check(total == traffic.rows, f"{traffic.rows:,} rows sent, {total:,} logged")
            say.append(f"exit 0 after SIGTERM; all {total:,} predictions in the log")

    with open_workspace(repo, env=env) as ws, run.step("monitoring report (offline HTML)") as say:
        from monoloop.monitoring.report_html import write_report

        path = repo / "reports" / "churn-api-monitoring.html"
        written = write_report(ws, DEPLOYMENT, path)
        run.report.summary.setdefault("models", {})["monitoring report"] = str(path)
        say.append(f"{path.name}: {len(written['charts'])} charts")


def _fresh_data(run: _Runner, ws: Workspace, repo: Path, fresh: Path, key: PiiKey) -> str:
    """Pseudonymise and validate the new customers; a reviewed contract change lets the
    higher prices in; then version the data."""
    import yaml

    import monoloop.data as data
    from monoloop.validation import check, fix

    contract = repo / "contracts" / "customers.yaml"
    target = repo / "data" / "customers.csv"
    fix(ws, fresh, contract, output=target, key=key, force=True)
    fresh.unlink()
    failed = [r.rule for r in check(ws, target, contract).rules if r.failed]
    run.check(failed == ["columns.monthly_charges.max"], f"unexpected contract failures: {failed}")
    spec = yaml.safe_load(contract.read_text(encoding="utf-8"))
    spec["columns"]["monthly_charges"]["max"] = 200.0  # reviewed: prices rose 25%
    contract.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    report = check(ws, target, contract)
    run.check(report.ok, "the fresh data fails its reviewed contract")
    (added,) = data.add("data/customers.csv", workspace=repo)
    gitutil.git(["add", "-A"], repo)
    gitutil.git(["commit", "-q", "-m", "Fresh customers; contract: prices up to 200"], repo)
    return (
        f"{report.rows:,} new customers; monthly_charges.max failed, the range was reviewed "
        f"and widened, the contract passes; versioned as {added.id[:19]}…"
    )


def _ready(client: httpx.Client, url: str, proc: subprocess.Popen[bytes]) -> bool:
    from monoloop.demo.run import DemoFailed

    if proc.poll() is not None:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise DemoFailed(f"monoloop serve exited with {proc.returncode}: {err[-500:]}")
    try:
        return client.get(f"{url}/readyz").status_code == 200
    except Exception:  # not listening yet
        return False


def _monitor(ws: Workspace) -> list[Any]:
    from monoloop.monitoring.monitors import run_monitors

    return [r for r in run_monitors(ws, [DEPLOYMENT]) if r.monitor == "drift"]


def _ct_steps(
    run: _Runner,
    ws: Workspace,
    client: httpx.Client,
    url: str,
    drifted: pd.DataFrame,
    traffic: Traffic,
) -> None:
    from monoloop.ct import cycles
    from monoloop.ct.controller import Controller
    from monoloop.registry.versions import get_version

    controller = Controller(ws)

    def advance(until: str, limit: int = 8) -> Any:
        for _ in range(limit):
            controller.tick()
            cycle = cycles.last_cycle(ws, "churn-retrain")
            if cycle is not None and (cycle.step == until or not cycle.is_open):
                return cycle
        return cycles.last_cycle(ws, "churn-retrain")

    with run.step("controller: drift -> retrain on fresh data -> gates vs champion") as say:
        cycle = advance(cycles.CANARY)
        run.check(cycle is not None and cycle.is_open and cycle.step == cycles.CANARY,
                  f"the cycle did not reach its canary: {cycle and cycle.to_dict()}")  # fmt: skip
        challenger = get_version(ws, "churn@challenger")
        say.append(
            f"cycle {cycle.id}: retrained, registered churn:{challenger.version} "
            f"(auc {challenger.metrics['auc']:.3f}), gates passed, canary at 30%"
        )

    with run.step("canary: 30% of callers answered by the challenger") as say:
        wait_until(
            "the canary to load",
            lambda: served_version(client, url, "canary") == challenger.version,
        )
        answers = send(client, url, drifted[FEATURES].iloc[500:1500], traffic, keyed=True)
        by = {v: sum(a["version"] == v for a in answers) for v in {a["version"] for a in answers}}
        run.check(set(by) == {1, challenger.version}, f"answered by {by}")
        wait_until("the prediction log", lambda: logged(ws) >= 1800)
        say.append(", ".join(f"churn:{v} answered {n} requests" for v, n in sorted(by.items())))

    with run.step("controller: canary judged, challenger promoted") as say:
        cycle = advance(cycles.DONE)
        run.check(
            cycle.state == cycles.PROMOTED, f"the cycle ended {cycle.state}: {cycle.decisions[-1:]}"
        )
        champion = get_version(ws, "churn@champion")
        run.check(champion.version == challenger.version, "the champion did not change")
        wait_until(
            "the server to follow",
            lambda: served_version(client, url, "primary") == champion.version,
        )
        (answer,) = send(client, url, drifted[FEATURES].head(ROWS_PER_REQUEST), traffic)
        run.check(answer["version"] == champion.version, "the server answers with the old model")
        run.report.summary.setdefault("models", {})["champion now"] = (
            f"churn:{champion.version} (auc {champion.metrics['auc']:.3f}), promoted by "
            f"the controller (cycle {cycle.id})"
        )
        say.append(f"churn@champion -> v{champion.version}; the server answers with it")

    with run.step("lineage of the new champion: why it changed") as say:
        from monoloop.registry.lineage import lineage

        found = lineage(ws, "churn@champion")
        kinds = [e.kind for e in found.events]
        run.check(any(k.startswith("ct.") for k in kinds), f"no controller events: {kinds}")
        run.check("data/customers.csv" in found.data, "lineage misses the fresh data")
        say.append(
            f"{len(found.events)} events: "
            + ", ".join(sorted({k for k in kinds if k.startswith(("ct.", "model."))}))
        )
