"""Page loads of the web UI over a big workspace: --runs runs (default 100,000) and
--versions model versions (default 1,000), written with tracking's batch writes and the
registry's insert path, then a server on loopback (no auth) and each page loaded over
httpx: the median of --loads loads, in seconds. Prints one JSON line; progress on stderr.

    python bench/ui.py [--runs 100000] [--versions 1000] [--loads 5] [--dir DIR] [--keep]
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
        f.write("\ndeployments:\n  bench-api:\n    model: bench@champion\n")
    try:
        ws = open_workspace(root)
        began = time.perf_counter()
        ids = fill_runs(ws, args.runs)
        runs_s = time.perf_counter() - began
        began = time.perf_counter()
        fill_versions(ws, args.versions, ids[-1])
        versions_s = time.perf_counter() - began
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
