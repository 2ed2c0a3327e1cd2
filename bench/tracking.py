"""Experiment tracking against its targets, and optionally against MLflow on the same machine.

Prints one JSON line on stdout; progress goes to stderr. Workloads, each in a fresh
workspace (a `git init` + `monoloop init` directory, the default SQLite metadata DB):

    a  per_call      run.log_metric(key, value, step) for --metrics keys x --steps steps in one
                     run: calls per second as the caller sees them, then the seconds until every
                     point is durable (run.flush() after the last call)
    b  batched       run.log_metrics({key: value}, step) per step, same shape; and
                     service.log_metric_batch with every point in one synchronous call
    c  history       service.metric_history of one --steps-point metric (median of 5)
    d  runs          --runs tiny runs through the SDK (`with start_run()`, 3 params, 3 metrics):
                     runs/s as the caller sees them and until durable; then a filtered, ordered
                     top-100 search (median of 5) with a metric filter and with a param filter

With --compare mlflow the same workloads run with MLflow (installed with pip into a
virtualenv in the scratch directory, outside any timing; telemetry off) on its SQLite
store, with smaller counts where MLflow would take minutes (reported as such), and the
JSON carries monoloop/MLflow ratios (> 1 means monoloop is faster).

    python bench/tracking.py [--runs 100000] [--steps 10000] [--metrics 10]
                             [--compare mlflow] [--mlflow-runs 2000] [--mlflow-steps 1000]
                             [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGETS = {
    "per_call_points_per_s": 300_000,
    "durable_after_s": 1.0,
    "history_read_s": 0.020,
    "runs_per_s": 5_000,
    "search_s": 0.050,
}
METRIC_FILTER = ("metrics.acc > 0.5", "-metrics.acc")
PARAM_FILTER = ("params.lr = 0.005", "-metrics.acc")
INSTALL_TIMEOUT = 1800.0
MLFLOW_TIMEOUT = 3600.0


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def median_time(fn: Callable[[], object], times: int = 5) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def new_workspace(base: Path, name: str) -> Path:
    from monoloop.workspace import init_workspace

    root = base / name
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    init_workspace(root)
    return root


def bench_monoloop(base: Path, runs: int, steps: int, metrics: int) -> dict[str, Any]:
    from monoloop.audit import service as audit
    from monoloop.tracking import sdk, writer
    from monoloop.tracking import service as tracking
    from monoloop.workspace import open_workspace

    out: dict[str, Any] = {"audit_batched": hasattr(audit, "append_events")}
    keys = [f"m{k}" for k in range(metrics)]
    points = steps * metrics

    root = new_workspace(base, "monoloop-metrics")
    log(f"a: {points:,} log_metric calls")
    with sdk.start_run(name="per-call", workspace=root) as run:
        start = time.perf_counter()
        for step in range(steps):
            for key in keys:
                run.log_metric(key, step * 0.001, step)
        called = time.perf_counter()
        run.flush()
        durable = time.perf_counter()
    out["per_call_points_per_s"] = round(points / (called - start))
    out["per_call_durable_after_s"] = round(durable - called, 3)
    per_call_run = run.id

    log(f"b: {steps:,} log_metrics calls of {metrics} keys")
    with sdk.start_run(name="batched", workspace=root) as run:
        start = time.perf_counter()
        for step in range(steps):
            run.log_metrics({key: step * 0.001 for key in keys}, step)
        called = time.perf_counter()
        run.flush()
        durable = time.perf_counter()
    out["log_metrics_points_per_s"] = round(points / (called - start))
    out["log_metrics_durable_after_s"] = round(durable - called, 3)
    with open_workspace(root) as ws:
        run_id = tracking.create_run(ws, name="log_metric_batch")
        batch = [(key, step * 0.001, step, time.time()) for step in range(steps) for key in keys]
        start = time.perf_counter()
        tracking.log_metric_batch(ws, run_id, batch)
        out["log_metric_batch_points_per_s"] = round(points / (time.perf_counter() - start))

        log(f"c: reading a {steps:,}-step history")
        history = tracking.metric_history(ws, per_call_run, "m0")
        assert len(history) == steps
        out["history_read_s"] = round(
            median_time(lambda: tracking.metric_history(ws, per_call_run, "m0")), 4
        )
    writer.close_all()

    root = new_workspace(base, "monoloop-runs")
    log(f"d: {runs:,} runs through the SDK")
    start = time.perf_counter()
    for i in range(runs):
        with sdk.start_run(name=f"r{i}", workspace=root) as run:
            run.log_params({"lr": (i % 10) * 0.001, "model": "rf" if i % 2 else "gb", "d": i % 7})
            run.log_metrics({"acc": (i % 997) / 997, "loss": 1 - (i % 997) / 997, "f1": 0.5})
    called = time.perf_counter()
    sdk.flush()
    durable = time.perf_counter()
    out["runs"] = runs
    out["runs_per_s_caller"] = round(runs / (called - start))
    out["runs_per_s_durable"] = round(runs / (durable - start))
    writer.close_all()
    with open_workspace(root) as ws:
        for label, (where, order) in (("metric", METRIC_FILTER), ("param", PARAM_FILTER)):
            found = tracking.search_runs(ws, where=where, order_by=order, limit=100)
            assert len(found) == 100, (where, len(found))

            def search(where: str = where, order: str = order) -> object:
                return tracking.search_runs(ws, where=where, order_by=order, limit=100)

            out[f"search_{label}_filter_s"] = round(median_time(search), 4)
    out["db_bytes_after_runs"] = (root / ".monoloop" / "monoloop.db").stat().st_size
    return out


MLFLOW_SCRIPT = r"""
import json, statistics, sys, time
import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

uri, runs, steps, metrics = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hist_steps = int(sys.argv[5])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("bench")
client = MlflowClient()
keys = [f"m{k}" for k in range(metrics)]
out = {"version": mlflow.__version__}

def log(msg):
    sys.stderr.write(f"[bench mlflow] {msg}\n"); sys.stderr.flush()

def median(fn, n=5):
    xs = []
    for _ in range(n):
        t = time.perf_counter(); fn(); xs.append(time.perf_counter() - t)
    return statistics.median(xs)

per_call = max(1, steps // 5)
log(f"a: {per_call * metrics} log_metric calls")
with mlflow.start_run(run_name="per-call"):
    t = time.perf_counter()
    for step in range(per_call):
        for k in keys:
            mlflow.log_metric(k, step * 0.001, step=step)
    out["per_call_points"] = per_call * metrics
    out["per_call_points_per_s"] = round(per_call * metrics / (time.perf_counter() - t))

log(f"b: {steps} log_metrics calls")
with mlflow.start_run(run_name="batched"):
    t = time.perf_counter()
    for step in range(steps):
        mlflow.log_metrics({k: step * 0.001 for k in keys}, step=step)
    out["log_metrics_points"] = steps * metrics
    out["log_metrics_points_per_s"] = round(steps * metrics / (time.perf_counter() - t))

with mlflow.start_run(run_name="log_batch") as run:
    now = int(time.time() * 1000)
    batch = [Metric(k, s * 0.001, now, s) for s in range(hist_steps) for k in keys]
    t = time.perf_counter()
    for i in range(0, len(batch), 1000):
        client.log_batch(run.info.run_id, metrics=batch[i:i + 1000])
    out["log_batch_points"] = len(batch)
    out["log_batch_points_per_s"] = round(len(batch) / (time.perf_counter() - t))
    log(f"c: reading a {hist_steps}-step history")
    assert len(client.get_metric_history(run.info.run_id, "m0")) == hist_steps
    out["history_steps"] = hist_steps
    out["history_read_s"] = round(median(
        lambda: client.get_metric_history(run.info.run_id, "m0")), 4)

log(f"d: {runs} runs")
t = time.perf_counter()
for i in range(runs):
    with mlflow.start_run(run_name=f"r{i}"):
        mlflow.log_params({"lr": (i % 10) * 0.001, "model": "rf" if i % 2 else "gb", "d": i % 7})
        mlflow.log_metrics({"acc": (i % 997) / 997, "loss": 1 - (i % 997) / 997, "f1": 0.5})
out["runs"] = runs
out["runs_per_s"] = round(runs / (time.perf_counter() - t))
exp = [mlflow.get_experiment_by_name("bench").experiment_id]
for label, flt in (("metric", "metrics.acc > 0.5"), ("param", "params.lr = '0.005'")):
    found = mlflow.search_runs(exp, filter_string=flt, order_by=["metrics.acc DESC"],
                               max_results=100, output_format="list")
    assert len(found) == 100, (flt, len(found))
    out[f"search_{label}_filter_s"] = round(median(lambda f=flt: mlflow.search_runs(
        exp, filter_string=f, order_by=["metrics.acc DESC"], max_results=100,
        output_format="list")), 4)
print(json.dumps(out))
"""


def mlflow_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env.pop("PYTHONPATH", None)
    env["HOME"] = str(base / "mlflow-home")
    return env


def install_mlflow(base: Path, env: dict[str, str]) -> Path:
    venv = base / "mlflow-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import mlflow"]
    if python.exists() and subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        log(f"reusing MLflow in {venv}")
        return python
    log(f"installing MLflow into {venv} (not timed)")
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", str(venv)], check=True, env=env)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "mlflow"],
        check=True,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    return python


def bench_mlflow(base: Path, runs: int, steps: int, metrics: int, hist: int) -> dict[str, Any]:
    env = mlflow_env(base)
    (base / "mlflow-home").mkdir(exist_ok=True)
    python = install_mlflow(base, env)
    work = base / "mlflow-work"
    work.mkdir(exist_ok=True)
    script = work / "workload.py"
    script.write_text(MLFLOW_SCRIPT)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    args = [str(python), str(script), uri, str(runs), str(steps), str(metrics), str(hist)]
    proc = subprocess.run(
        args, cwd=work, env=env, stdout=subprocess.PIPE, timeout=MLFLOW_TIMEOUT, check=True
    )
    result: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return result


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    """How many times faster monoloop is, per workload (rates over rates, times over times)."""
    rates = {
        "per_call_points_per_s": "per_call_points_per_s",
        "log_metrics_points_per_s": "log_metrics_points_per_s",
        "log_metric_batch_points_per_s": "log_batch_points_per_s",
        "runs_per_s_caller": "runs_per_s",
        "runs_per_s_durable": "runs_per_s",
    }
    times = {
        "history_read_s": "history_read_s",
        "search_metric_filter_s": "search_metric_filter_s",
        "search_param_filter_s": "search_param_filter_s",
    }
    out = {k: round(ours[k] / theirs[v], 1) for k, v in rates.items()}
    out.update({k: round(theirs[v] / ours[k], 1) for k, v in times.items()})
    return out


def verdict(ours: dict[str, Any]) -> dict[str, bool]:
    return {
        "per_call_points_per_s": ours["per_call_points_per_s"] >= TARGETS["per_call_points_per_s"],
        "durable_within_1s": ours["per_call_durable_after_s"] <= TARGETS["durable_after_s"],
        "history_read": ours["history_read_s"] < TARGETS["history_read_s"],
        "runs_per_s_caller": ours["runs_per_s_caller"] >= TARGETS["runs_per_s"],
        "runs_per_s_durable": ours["runs_per_s_durable"] >= TARGETS["runs_per_s"],
        "search_metric_filter": ours["search_metric_filter_s"] < TARGETS["search_s"],
        "search_param_filter": ours["search_param_filter_s"] < TARGETS["search_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--compare", choices=["mlflow"])
    parser.add_argument("--mlflow-runs", type=int, default=2_000)
    parser.add_argument("--mlflow-steps", type=int, default=1_000)
    parser.add_argument("--dir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="monoloop-bench-", dir=args.dir))
    try:
        ours = bench_monoloop(base, args.runs, args.steps, args.metrics)
        result: dict[str, Any] = {
            "bench": "tracking",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "monoloop": ours,
            "targets": TARGETS,
            "met": verdict(ours),
        }
        if args.compare == "mlflow":
            scratch = args.dir or base
            theirs = bench_mlflow(
                scratch, args.mlflow_runs, args.mlflow_steps, args.metrics, args.steps
            )
            result["mlflow"] = theirs
            result["ratios"] = ratios(ours, theirs)
        print(json.dumps(result, sort_keys=True))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
