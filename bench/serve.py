"""`monoloop serve` under closed-loop load, and optionally MLflow's `mlflow models serve`.

Prints one JSON line on stdout; progress goes to stderr. The model: scikit-learn's
LogisticRegression on 20 features (5,000 rows, seed 0), registered in a fresh workspace
(skops, the default format, which also verifies its ONNX companion) and served by
`monoloop serve` pinned to core 0 (taskset); the load generator, wrk with a Lua script
POSTing JSON, is pinned to core 1. For each body (1 row, 100 rows) and concurrency (8,
32): --warmup seconds unmeasured, then --seconds measured. Reported per run: requests/s,
rows/s, p50/p99 latency (wrk's), failed requests, and the server's CPU time per request
(from /proc, the whole process tree). Also: launch-to-ready time (until GET /readyz
answers 200; the median and the best of --launches starts), the RSS of the server's
process tree when ready and after the load, and the in-process floor (model.predict on a
numpy row and on a one-row DataFrame, on core 0).

    per-request overhead = server CPU per request at concurrency 8 (1 row) - the floor

(the floor of what answers: scikit-learn's predict, or the ONNX graph's one run giving
labels and probabilities).

Two deployments of the same version are measured the same way: `monoloop` is the default
(`runtime: auto`: the version's verified ONNX companion, through onnxruntime), and
`monoloop_native` forces the model itself (`runtime: native`: skops and scikit-learn).
With --compare mlflow, MLflow (pip install 'mlflow==3.17.*' into a virtualenv in the
scratch directory, outside any timing; telemetry off) trains the same model from the same
arrays, saves it with mlflow.sklearn, and `mlflow models serve --env-manager local` gets
the same load (bodies as dataframe_records), pinned the same way; the JSON carries the
ratios of both deployments.

    python bench/serve.py [--seconds 20] [--warmup 3] [--launches 3] [--compare mlflow]
                          [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

FEATURES = 20
ROWS = 5_000
SEED = 0
BODIES = (1, 100)
CONCURRENCY = (8, 32)
SERVER_CORE, LOAD_CORE = 0, 1
MLFLOW_SPEC = "mlflow==3.17.*"
MLFLOW_FALLBACK = "mlflow>=3,<4"
INSTALL_TIMEOUT = 1800.0
# MLflow 3.17 measured on this machine with exactly this model and load (issue #7): the
# fallback reference when --compare is not given.
REFERENCE = {"rps_1row_c32": 210.0, "p99_ms_1row_c32": 313.0, "rss_mib": 500.0}
TARGETS = {
    "rps_ratio_1row_c32": 8.0,
    "p99_ratio_1row_c32": 5.0,
    "overhead_us_c8": 1000.0,
    "startup_s": 1.5,
    "rss_ratio": 2.0,
}

WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"socket_errors":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""

MLFLOW_SCRIPT = r"""
import json, sys
import numpy as np, pandas as pd, mlflow, mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
base, out = sys.argv[1], sys.argv[2]
x, y = np.load(base + "/x.npy"), np.load(base + "/y.npy")
model = LogisticRegression(max_iter=1000).fit(x, y)
cols = [f"f{i}" for i in range(x.shape[1])]
sample = pd.DataFrame(x[:100], columns=cols)
mlflow.sklearn.save_model(model, out, signature=infer_signature(sample, model.predict(x[:100])))
np.save(base + "/mlflow-proba.npy", model.predict_proba(x[:1000]))
print(json.dumps({"mlflow": mlflow.__version__}))
"""


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def pin(core: int) -> None:
    """Run the bench's own work on one core (the floor on the server's, polling on the other)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# -- the model and the floor ----------------------------------------------------------------


def make_data(base: Path) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(ROWS, FEATURES))
    y = (x @ rng.normal(size=FEATURES) + rng.normal(0, 0.5, ROWS) > 0).astype(int)
    np.save(base / "x.npy", x)
    np.save(base / "y.npy", y)
    return x, y


def train(x: Any, y: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(x, y)


def per_call_us(fn: Any, n: int) -> float:
    fn()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return round(statistics.median(samples), 1)


def floor(model: Any, x: Any) -> dict[str, float]:
    """In-process predict times on the server's core: the least a request can cost."""
    import warnings

    import pandas as pd

    row = x[:1]
    frame = pd.DataFrame(row, columns=[f"f{i}" for i in range(FEATURES)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a DataFrame for a model fitted on an array
        on_frame = per_call_us(lambda: model.predict(frame), 300)
    return {
        "predict_numpy_row_us": per_call_us(lambda: model.predict(row), 2000),
        "predict_proba_numpy_row_us": per_call_us(lambda: model.predict_proba(row), 2000),
        "predict_dataframe_row_us": on_frame,
    }


def bodies(base: Path, x: Any, mlflow: bool) -> dict[int, Path]:
    """JSON bodies of 1 and 100 rows: monoloop's records, or MLflow's dataframe_records."""
    out = {}
    for rows in BODIES:
        records = [{f"f{i}": float(v) for i, v in enumerate(r)} for r in x[100 : 100 + rows]]
        data = {"dataframe_records": records} if mlflow else records
        path = base / f"body-{'mlflow' if mlflow else 'monoloop'}-{rows}.json"
        path.write_text(json.dumps(data))
        out[rows] = path
    return out


def onnx_floor(root: Path, x: Any) -> dict[str, float]:
    """The same for the version's ONNX companion: labels and probabilities in one run."""
    from monoloop.registry.loading import load_version
    from monoloop.registry.versions import get_version
    from monoloop.workspace import open_workspace

    with open_workspace(root) as ws:
        graph = load_version(ws, get_version(ws, "bench-lr@champion"), runtime="auto").model
    row = x[:1]
    return {"onnx_outputs_numpy_row_us": per_call_us(lambda: graph.outputs(row), 2000)}


# -- a server under load ---------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_mib(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def start(command: list[str], ready_url: str, env: dict[str, str], cwd: Path) -> Any:
    """Launch the server on its core; returns (process, seconds from launch to ready)."""
    launched = time.perf_counter()
    proc = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CORE), *command],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=open(cwd / "server.log", "ab"),  # noqa: SIM115 - the child owns it
        start_new_session=True,
    )
    ready = wait_ready(ready_url, proc)
    return proc, round(ready - launched, 3)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group, and wait until every process of it is gone
    (MLflow's uvicorn is a child that outlives its parent for a moment)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def launch(
    command: list[str], ready_path: str, env: dict[str, str], cwd: Path, launches: int
) -> tuple[subprocess.Popen[bytes], str, list[float]]:
    """Start the server `launches` times (each on a fresh port: `command` takes the port as
    its last argument), timing each; the last one keeps running: (process, url, times)."""
    startups = []
    for attempt in range(launches):
        url = f"http://127.0.0.1:{free_port()}"
        proc, startup = start([*command, url.rsplit(":", 1)[1]], url + ready_path, env, cwd)
        startups.append(startup)
        if attempt < launches - 1:
            stop(proc)
    return proc, url, startups


def wrk(url: str, body: Path, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    command = [
        "taskset", "-c", str(LOAD_CORE), "wrk", "-t1", f"-c{connections}",
        f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script), url,
    ]  # fmt: skip
    env = {**os.environ, "BENCH_BODY": str(body)}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    found: dict[str, Any] = json.loads(line[len("BENCH ") :])
    return found


def load(
    proc: subprocess.Popen[bytes],
    url: str,
    files: dict[int, Path],
    script: Path,
    seconds: float,
    warmup: float,
    label: str,
) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for rows, body in files.items():
        for c in CONCURRENCY:
            if warmup > 0:
                wrk(url, body, script, c, warmup)
            log(f"{label}: {rows}-row requests, concurrency {c}, {seconds:g} s")
            before = cpu_seconds(proc.pid)
            got = wrk(url, body, script, c, seconds)
            cpu = cpu_seconds(proc.pid) - before
            duration = got["duration_us"] / 1e6
            answered = got["requests"] - got["status_errors"]
            runs[f"{rows}row_c{c}"] = {
                "requests_per_s": round(got["requests"] / duration, 1),
                "rows_per_s": round(answered * rows / duration, 1),
                "p50_ms": round(got["p50_us"] / 1000, 2),
                "p99_ms": round(got["p99_us"] / 1000, 2),
                "max_ms": round(got["max_us"] / 1000, 2),
                "failed": got["status_errors"] + got["socket_errors"],
                "server_cpu_us_per_request": round(cpu / max(got["requests"], 1) * 1e6, 1),
            }
    return runs


# -- monoloop ---------------------------------------------------------------------------------


def monoloop_workspace(base: Path, model: Any, x: Any) -> tuple[Path, dict[str, Any]]:
    """The workspace, and the version's companion note (what `runtime: auto` serves)."""
    import pandas as pd
    import yaml

    from monoloop.registry.aliases import set_alias
    from monoloop.registry.service import register_model
    from monoloop.workspace import init_workspace, open_workspace

    root = base / "workspace"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    init_workspace(root)
    config = yaml.safe_load((root / "monoloop.yaml").read_text())
    config["deployments"] = {
        "lr": {"model": "bench-lr@champion"},  # runtime: auto, the default
        "lr-native": {"model": "bench-lr@champion", "runtime": "native"},
    }
    (root / "monoloop.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    sample = pd.DataFrame(x[:100], columns=[f"f{i}" for i in range(FEATURES)])
    with open_workspace(root) as ws:
        started = time.perf_counter()
        mv = register_model(ws, "bench-lr", model, sample_input=sample)
        registered = time.perf_counter() - started
        set_alias(ws, "bench-lr", "champion", mv.version)
    note = dict(mv.companion or {})
    note["registration_s"] = round(registered, 3)  # the first in this process: imports too
    return root, note


def bench_monoloop(
    base: Path, root: Path, deployment: str, seconds: float, warmup: float, launches: int
) -> dict[str, Any]:
    code = "from monoloop.cli.main import main; main()"
    command = [sys.executable, "-c", code, "-C", str(root), "-q", "serve", deployment]
    proc, url, startups = launch([*command, "--port"], "/readyz", monoloop_env(), root, launches)
    try:
        ready_rss = rss_mib(proc.pid)
        with urllib.request.urlopen(f"{url}/v1/deployments/{deployment}") as answer:
            role = json.loads(answer.read())["roles"][0]
        files = bodies(base, _x(base), mlflow=False)
        script = base / "post.lua"
        predict = f"{url}/v1/deployments/{deployment}/predict"
        runs = load(proc, predict, files, script, seconds, warmup, f"monoloop {deployment}")
        rss = rss_mib(proc.pid)
        with urllib.request.urlopen(f"{url}/metrics") as answer:
            metrics = answer.read().decode()
    finally:
        stop(proc)
    return {
        "runtime": role["runtime"],  # what answered: onnx (the companion) or native
        "startup_s": round(statistics.median(startups), 3),
        "startup_best_s": min(startups),
        "startup_runs_s": startups,
        "rss_ready_mib": ready_rss,
        "rss_mib": rss,
        "runs": runs,
        "mean_batch_rows": _mean_batch(metrics),
        "predlog_dropped_rows": _sample(metrics, "monoloop_predlog_dropped_rows_total"),
    }


def monoloop_env() -> dict[str, str]:
    """This process's environment, with the monoloop it imports first on the path."""
    import monoloop

    src = str(Path(monoloop.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else "")}


def _x(base: Path) -> Any:
    import numpy as np

    return np.load(base / "x.npy")


def _sample(metrics: str, name: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _mean_batch(metrics: str) -> float:
    rows = _sample(metrics, "monoloop_serving_batch_rows_sum")
    calls = _sample(metrics, "monoloop_serving_batch_rows_count")
    return round(rows / calls, 2) if calls else 0.0


# -- MLflow -----------------------------------------------------------------------------------


def mlflow_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env.pop("PYTHONPATH", None)
    env["HOME"] = str(base / "mlflow-home")
    # `mlflow models serve` runs `uvicorn` from PATH: the venv's, as if it were activated.
    env["PATH"] = os.pathsep.join([str(base / "mlflow-venv" / "bin"), env.get("PATH", "")])
    return env


def install_mlflow(base: Path, env: dict[str, str]) -> Path:
    venv = base / "mlflow-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import mlflow, sklearn"]
    if python.exists() and subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        log(f"reusing MLflow in {venv}")
        return python
    log(f"installing {MLFLOW_SPEC} into {venv} (not timed)")
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", str(venv)], check=True, env=env)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        subprocess.run([*pip, MLFLOW_SPEC], check=True, env=env, timeout=INSTALL_TIMEOUT)
    except subprocess.CalledProcessError:
        log(f"{MLFLOW_SPEC} is not available; installing {MLFLOW_FALLBACK}")
        subprocess.run([*pip, MLFLOW_FALLBACK], check=True, env=env, timeout=INSTALL_TIMEOUT)
    return python


def bench_mlflow(
    base: Path, scratch: Path, ours_proba: Any, seconds: float, warmup: float, launches: int
) -> dict[str, Any]:
    import numpy as np

    env = mlflow_env(scratch)
    (scratch / "mlflow-home").mkdir(exist_ok=True)
    python = install_mlflow(scratch, env)
    work = base / "mlflow-work"
    work.mkdir()
    script = work / "save.py"
    script.write_text(MLFLOW_SCRIPT)
    model_dir = work / "model"
    saved = subprocess.run(
        [str(python), str(script), str(base), str(model_dir)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    version = json.loads(saved.stdout.strip().splitlines()[-1])["mlflow"]
    diff = float(np.max(np.abs(np.load(base / "mlflow-proba.npy") - ours_proba)))
    mlflow = str(python.parent / "mlflow")
    command = [mlflow, "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    command += ["-h", "127.0.0.1", "-p"]
    proc, url, startups = launch(command, "/ping", env, work, launches)
    try:
        files = bodies(base, _x(base), mlflow=True)
        runs = load(proc, f"{url}/invocations", files, base / "post.lua", seconds, warmup, "mlflow")
        rss = rss_mib(proc.pid)
    finally:
        stop(proc)
    return {
        "version": version,
        "model_max_abs_diff": diff,
        "startup_s": round(statistics.median(startups), 3),
        "startup_best_s": min(startups),
        "startup_runs_s": startups,
        "rss_mib": rss,
        "runs": runs,
    }


# -- verdict ----------------------------------------------------------------------------------


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    """MLflow's figure over ours (ours over MLflow's for rates): above 1, we are better."""
    out = {}
    for key, run in ours["runs"].items():
        other = theirs["runs"][key]
        out[f"rps_{key}"] = round(run["requests_per_s"] / other["requests_per_s"], 1)
        out[f"p99_{key}"] = round(other["p99_ms"] / run["p99_ms"], 1)
    out["startup"] = round(theirs["startup_s"] / ours["startup_s"], 1)
    out["rss"] = round(theirs["rss_mib"] / ours["rss_mib"], 1)
    return out


def verdict(
    ours: dict[str, Any], native: dict[str, Any], theirs: dict[str, Any] | None
) -> dict[str, Any]:
    if theirs is not None:
        other = theirs["runs"]["1row_c32"]
        base = {"rps": other["requests_per_s"], "p99": other["p99_ms"], "rss": theirs["rss_mib"]}
    else:
        base = {
            "rps": REFERENCE["rps_1row_c32"],
            "p99": REFERENCE["p99_ms_1row_c32"],
            "rss": REFERENCE["rss_mib"],
        }
    run = ours["runs"]["1row_c32"]
    return {
        "against": "mlflow in this run" if theirs else "the MLflow figures quoted in issue #7",
        "rps_1row_c32_8x": run["requests_per_s"] >= TARGETS["rps_ratio_1row_c32"] * base["rps"],
        "p99_1row_c32_fifth": run["p99_ms"] <= base["p99"] / TARGETS["p99_ratio_1row_c32"],
        "overhead_c8_under_1ms": ours["overhead_us_c8"] < TARGETS["overhead_us_c8"],
        "startup_within_1_5s": ours["startup_s"] <= TARGETS["startup_s"],
        "rss_half": ours["rss_mib"] <= base["rss"] / TARGETS["rss_ratio"],
        # For the record: the model itself (runtime: native), not the default.
        "native_startup_within_1_5s": native["startup_s"] <= TARGETS["startup_s"],
        "native_rss_half": native["rss_mib"] <= base["rss"] / TARGETS["rss_ratio"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured, before each run")
    parser.add_argument(
        "--launches", type=int, default=3, help="starts timed per deployment (median, best)"
    )
    parser.add_argument("--compare", choices=["mlflow"])
    parser.add_argument("--dir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        log("this bench needs wrk and taskset: apt-get install wrk util-linux")
        sys.exit(2)
    if len(os.sched_getaffinity(0)) < 2:
        log("this bench needs two cores: the server on one, the load on the other")
        sys.exit(2)

    base = Path(tempfile.mkdtemp(prefix="monoloop-bench-serve-", dir=args.dir))
    try:
        before = load_average()
        (base / "post.lua").write_text(WRK_SCRIPT)
        x, y = make_data(base)
        model = train(x, y)
        pin(SERVER_CORE)
        floor_us = floor(model, x)
        pin(LOAD_CORE)
        log(f"floor: {floor_us}")
        root, companion = monoloop_workspace(base, model, x)
        if companion.get("verified"):
            pin(SERVER_CORE)
            floor_us.update(onnx_floor(root, x))
            pin(LOAD_CORE)
        launches = max(1, args.launches)
        ours = bench_monoloop(base, root, "lr", args.seconds, args.warmup, launches)
        native = bench_monoloop(base, root, "lr-native", args.seconds, args.warmup, launches)
        for found in (ours, native):
            # Over the in-process floor of what answered: the graph, or the model itself.
            key = "onnx_outputs_numpy_row_us" if found["runtime"] == "onnx" else None
            base_us = floor_us[key] if key else floor_us["predict_numpy_row_us"]
            c8 = found["runs"]["1row_c8"]["server_cpu_us_per_request"]
            found["overhead_us_c8"] = round(c8 - base_us, 1)
        result: dict[str, Any] = {
            "bench": "serve",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_before": before,
            },
            "model": f"LogisticRegression, {FEATURES} features, skops",
            "companion": companion,
            "floor": floor_us,
            "monoloop": ours,
            "monoloop_native": native,
        }
        theirs = None
        if args.compare == "mlflow":
            proba = model.predict_proba(x[:1000])
            theirs = bench_mlflow(
                base, args.dir or base, proba, args.seconds, args.warmup, launches
            )
            result["mlflow"] = theirs
            result["ratios"] = ratios(ours, theirs)
            result["ratios_native"] = ratios(native, theirs)
        result["targets"] = TARGETS
        result["met"] = verdict(ours, native, theirs)
        result["machine"]["load_after"] = load_average()
        print(json.dumps(result, sort_keys=True))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
