"""Page loads of the web UI over a big workspace: --runs runs (default 100,000) and
--versions model versions (default 1,000), written with tracking's batch writes and the
registry's insert path, and --metric-days days (default 7) of server metrics of the
deployment as --replicas serving processes (default 2, each with a primary and a canary)
leave them: 7 x 1440 x 2 x 2 = 40,320 minute rows rolled up per hour, then pruned as a
writer prunes (minute rows kept 2 days, hour rows the retention); then a server on
loopback (no auth) and each page loaded over httpx: the median of --loads loads, in
seconds. Also prints the SQLite plan of the deployments page's window query (it must use
the (deployment, span, start) index). Prints one JSON line; progress on stderr.

    python bench/ui.py [--runs 100000] [--versions 1000] [--metric-days 7] [--loads 5]
                       [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TARGET_S = 1.0
BATCH = 5000


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def fill_runs(ws: Any, count: int) -> list[str]:
    from monoloop.tracking import service as tracking
    from monoloop.tracking.writes import Batch

    rng = random.Random(7)
    ids: list[str] = []
    start = time.time() - count
    for first in range(0, count, BATCH):
        batch = Batch()
        for i in range(first, min(first + BATCH, count)):
            lr = rng.choice([0.001, 0.005, 0.01, 0.05, 0.1])
            run = tracking.new_run(
                ws.actor,
                name=f"sweep-{i}",
                stage="train",
                params={"lr": lr, "depth": rng.randint(2, 12), "optimizer": "adam"},
                start=start + i,
            )
            batch.add_run(run)
            ts = start + i + 0.5
            for step in range(3):
                acc = min(0.99, rng.random() * 0.5 + 0.4 + step * 0.02)
                batch.points.append((run.id, "acc", step, acc, ts))
                batch.points.append((run.id, "loss", step, 1.0 - acc, ts))
            batch.add_finish(run.id, tracking.make_finish("finished", end=ts + 1))
            ids.append(run.id)
        tracking.apply_batch(ws, batch)
        log(f"runs: {len(ids)}/{count}")
    return ids


def fill_versions(ws: Any, count: int, run_id: str) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from monoloop.registry import aliases, formats, record
    from monoloop.registry.model import VersionDraft

    x = np.random.default_rng(0).normal(size=(50, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    object_id = ws.objects.put_bytes(formats.dump(model, "skops"))
    for i in range(count):
        importance = [
            {"feature": f"f{j}", "importance": float((i + j) % 7) / 10, "std": 0.01}
            for j in range(3)
        ]
        draft = VersionDraft(
            format="skops",
            flavor="sklearn",
            object_id=object_id,
            run_id=run_id,
            task="classification",
            metrics={"auc": 0.7 + (i % 20) / 100},
            importance=importance,
        )
        record.insert_version(ws, "bench", draft)
        if (i + 1) % 200 == 0:
            log(f"versions: {i + 1}/{count}")
    aliases.set_alias(ws, "bench", "champion", count)
    if count > 1:
        aliases.set_alias(ws, "bench", "challenger", count - 1)


def fill_server_metrics(ws: Any, deployment: str, days: int, replicas: int) -> dict[str, int]:
    """`days` of per-minute counters up to now, as `replicas` serving processes with a
    primary and a 10% canary write them (about 1 request a second each), rolled up per
    hour and pruned as the writer does."""
    import orjson
    from sqlalchemy import func, insert, select

    from monoloop.serving.histogram import encode, observe
    from monoloop.serving.minutes import prune, roll_up
    from monoloop.serving.tables import HOUR, MINUTE, serving_counts, serving_instances

    rng = random.Random(11)
    shapes = []
    for _ in range(64):  # latency histograms of a minute: ~60 requests, lognormal around 3 ms
        counts: dict[int, int] = {}
        for _ in range(60):
            observe(counts, rng.lognormvariate(1.1, 0.5))
        shapes.append(orjson.dumps(encode(counts)).decode())
    now = int(time.time()) // MINUTE * MINUTE
    first = now - days * 86400
    with ws.db.write() as conn:
        ids = []
        for r in range(replicas):
            row = {"deployment": deployment, "host": f"replica-{r}", "pid": 1000 + r}
            row |= {"started": float(first), "last_seen": float(now), "stopped": None}
            ids.append(conn.execute(insert(serving_instances).values(row)).inserted_primary_key[0])
    written = 0
    for day in range(first, now + 1, 86400):
        rows = []
        for minute in range(day, min(day + 86400, now + 1), MINUTE):
            for instance in ids:
                for role, share in (("primary", 0.9), ("canary", 0.1)):
                    requests = max(1, int(rng.gauss(60 * share, 3)))
                    rows.append(
                        {
                            "instance": instance,
                            "deployment": deployment,
                            "span": MINUTE,
                            "start": minute,
                            "role": role,
                            "model": "bench",
                            "version": 1000 if role == "primary" else 999,
                            "requests": requests,
                            "errors_4xx": 1 if rng.random() < 0.02 else 0,
                            "errors_5xx": 0,
                            "latency_sum_ms": 3.0 * requests,
                            "latency": shapes[rng.randrange(len(shapes))],
                        }
                    )
        with ws.db.write() as conn:
            conn.execute(insert(serving_counts), rows)
            for hour in range(day // HOUR * HOUR, min(day + 86400, now + 1), HOUR):
                for instance in ids:
                    roll_up(conn, instance, deployment, hour)
        written += len(rows)
        log(f"server metrics: {written} minute rows written and rolled up per hour")
    with ws.db.write() as conn:
        prune(conn, [deployment], float(now), 14 * 86400)
        spans = select(serving_counts.c.span, func.count()).group_by(serving_counts.c.span)
        kept = dict(conn.execute(spans).all())
    return {"minute_rows_written": written, "minute_rows": kept[MINUTE], "hour_rows": kept[HOUR]}


def window_plan(ws: Any, deployment: str) -> str:
    """How SQLite runs the deployments page's window query."""
    from sqlalchemy import text

    query = (
        "EXPLAIN QUERY PLAN SELECT * FROM serving_counts "
        "WHERE deployment = :d AND span = 60 AND start >= :a AND start <= :b"
    )
    with ws.db.read() as conn:
        rows = conn.execute(text(query), {"d": deployment, "a": 0, "b": 1}).all()
    return "; ".join(str(r[-1]) for r in rows)


def serve(root: Path) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    from monoloop.server.app import create_app
    from monoloop.server.settings import ServerSettings

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(ServerSettings(root=root, port=port, auth=False))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, thread


def time_pages(base: str, pages: dict[str, str], loads: int) -> dict[str, float]:
    import httpx

    out = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for name, path in pages.items():
            samples = []
            for _ in range(loads + 1):  # the first load warms caches and is not counted
                began = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}")
            out[name] = round(statistics.median(samples[1:]), 4)
            log(f"{name}: {out[name]} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--metric-days", type=int, default=7)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from monoloop.workspace import init_workspace, open_workspace

    base = args.dir or Path(tempfile.mkdtemp(prefix="monoloop-bench-ui-"))
    root = base / "ws"
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    init_workspace(root)
    with (root / "monoloop.yaml").open("a") as f:
        f.write(
            "\ndeployments:\n  bench-api:\n    model: bench@champion\n"
            "    canary: {model: bench@challenger, traffic: 0.1}\n"
        )
    try:
        ws = open_workspace(root)
        began = time.perf_counter()
        ids = fill_runs(ws, args.runs)
        runs_s = time.perf_counter() - began
        began = time.perf_counter()
        fill_versions(ws, args.versions, ids[-1])
        versions_s = time.perf_counter() - began
        metric_rows = fill_server_metrics(ws, "bench-api", args.metric_days, args.replicas)
        plan = window_plan(ws, "bench-api")
        ws.close()
        url, server, thread = serve(root)
        pages = {
            "runs": "/",
            "runs_filtered_sorted": "/?where=metrics.acc+>+0.9+and+params.lr+=+0.01"
            "&order_by=-metrics.acc&cols=metrics.acc&cols=params.lr",
            "runs_page_1000": f"/?offset={50 * 1000}",
            "run": f"/runs/{ids[len(ids) // 2]}",
            "compare": f"/runs/compare?ids={ids[1]}&ids={ids[2]}&ids={ids[3]}",
            "models": "/models",
            "model": "/models/bench",
            "version": f"/models/bench/versions/{args.versions}",
            "deployments": "/deployments",
            "deployments_24h": "/deployments?window=24h",
            "deployments_7d": "/deployments?window=7d",
            "monitoring": "/monitoring",
            "audit": "/audit",
            "audit_filtered": "/audit?kind=model.*",
        }
        timings = time_pages(url, pages, args.loads)
        # Recomputing the whole chain reads every event: an on-demand page, timed apart.
        on_demand = time_pages(url, {"audit_verify": "/audit/verify"}, 1)
        server.should_exit = True
        thread.join(15)
        print(
            json.dumps(
                {
                    "bench": "ui",
                    "runs": args.runs,
                    "versions": args.versions,
                    "fill_runs_s": round(runs_s, 1),
                    "fill_versions_s": round(versions_s, 1),
                    "server_metrics": metric_rows,
                    "window_query_plan": plan,
                    "window_query_indexed": "USING INDEX ix_serving_counts_deployment_span_start"
                    in plan,
                    "page_median_s": timings,
                    "slowest_s": max(timings.values()),
                    "on_demand_s": on_demand,
                    "target_s": TARGET_S,
                    "ok": max(timings.values()) < TARGET_S,
                    "python": platform.python_version(),
                }
            )
        )
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
