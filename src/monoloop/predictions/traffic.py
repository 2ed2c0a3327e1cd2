"""Traffic of a deployment over time, from its prediction log: requests per bucket, and
p50/p99 latency, per role. What the UI's deployments page draws.

    buckets = traffic(ws, "churn-api", last_n=5000, bucket_s=60)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monoloop.predictions.log import read
from monoloop.workspace import Workspace


@dataclass(frozen=True)
class Bucket:
    start: float
    role: str
    requests: int
    rate_per_s: float
    p50_ms: float
    p99_ms: float


def traffic(
    ws: Workspace, deployment: str, *, last_n: int = 5000, bucket_s: int = 60
) -> list[Bucket]:
    """The last `last_n` logged predictions (shadow included) in `bucket_s` buckets, oldest
    first. A bucket holds only answered requests: the log records no failures."""
    window = read(ws, deployment, last_n=last_n, roles=None)
    if window.empty:
        return []
    starts = (window["time"] // bucket_s) * bucket_s
    out: list[Bucket] = []
    for (start, role), group in window.groupby([starts, "role"], sort=True):
        latency = group["latency_ms"].to_numpy(dtype=float)
        out.append(
            Bucket(
                start=float(start),
                role=str(role),
                requests=len(group),
                rate_per_s=len(group) / bucket_s,
                p50_ms=float(np.percentile(latency, 50)),
                p99_ms=float(np.percentile(latency, 99)),
            )
        )
    return out
