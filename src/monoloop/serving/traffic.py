"""A deployment's traffic as its serving processes counted it: requests, errors and latency
over a window, summed over every replica, with the last minute's figures and which
processes reported. What the UI's deployments page and `GET /v1/deployments/{name}/traffic`
show.

    t = server_traffic(ws, "churn-api", window="1h")
    t.live.rate_per_s, t.live.p99_ms, t.live.error_rate
    [(p.start, p.requests, p.p99_ms, p.error_rate) for p in t.points]

The processes write per-minute counters and roll them up per hour (minutes.py); this reads
the window's rows (minute rows up to a day, hour rows beyond) through the
(deployment, span, start) index and adds them up into WINDOWS' buckets, per process and
per version, with numpy. Latency quantiles come from the summed histograms (histogram.py:
within 10%), of answered (200) requests; the error rate is errors (4xx and 5xx) over
requests.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import orjson
from sqlalchemy import Select, select

from monoloop.errors import InvalidInput
from monoloop.serving.histogram import quantiles, sparse, sum_by
from monoloop.serving.tables import HOUR, MINUTE, serving_counts, serving_instances
from monoloop.workspace import Workspace

# window -> (seconds, bucket seconds, rows read: minutes or hours): 60-100 points each
WINDOWS = {
    "1h": (3600, 60, MINUTE),
    "6h": (6 * 3600, 300, MINUTE),
    "24h": (86400, 900, MINUTE),
    "7d": (7 * 86400, 7200, HOUR),
}
DEFAULT_WINDOW = "1h"
REPORTING_S = 90.0  # an instance that wrote this recently is reporting (heartbeat: 30 s)
BEFORE_ROUTING = ""  # the role of requests refused before the split chose one


class Row(NamedTuple):
    """One row of serving_counts (a minute's or an hour's): plain data for `Rows`."""

    instance: int
    start: int
    role: str
    model: str
    version: int
    requests: int
    errors_4xx: int
    errors_5xx: int
    latency: str | dict[str, int]  # as stored: histogram.encode's, as JSON or decoded


@dataclass(frozen=True)
class Figures:
    """Requests, errors and latency of some minutes, summed."""

    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def errors(self) -> int:
        return self.errors_4xx + self.errors_5xx

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors_4xx": self.errors_4xx,
            "errors_5xx": self.errors_5xx,
            "error_rate": self.error_rate,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
        }


@dataclass(frozen=True)
class Point(Figures):
    """One bucket of the window."""

    start: float = 0.0
    seconds: int = 60
    by_role: dict[str, int] = field(default_factory=dict)  # requests per role

    @property
    def rate_per_s(self) -> float:
        return self.requests / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "rate_per_s": self.rate_per_s,
            **super().to_dict(),
            "by_role": dict(self.by_role),
        }


@dataclass(frozen=True)
class Live(Figures):
    """The current minute so far and the one before it: the newest figures there are."""

    since: float = 0.0
    seconds: float = 60.0

    @property
    def rate_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "rate_per_s": self.rate_per_s, **super().to_dict()}


@dataclass(frozen=True)
class VersionFigures(Figures):
    """A role and version's requests over the window."""

    role: str = ""
    model: str = ""
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "model": self.model,
            "version": self.version,
            **super().to_dict(),
        }


@dataclass(frozen=True)
class Instance:
    """A serving process of the deployment that reported during the window."""

    id: int
    host: str
    pid: int
    started: float
    last_seen: float
    stopped: float | None
    reporting: bool  # wrote in the last REPORTING_S and not stopped
    requests: int  # in the window
    errors: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "started": self.started,
            "last_seen": self.last_seen,
            "stopped": self.stopped,
            "reporting": self.reporting,
            "requests": self.requests,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class ServerTraffic:
    deployment: str
    window: str
    start: float
    end: float
    bucket_s: int
    points: list[Point]
    total: Figures
    live: Live
    versions: list[VersionFigures]
    instances: list[Instance]

    @property
    def empty(self) -> bool:
        return self.total.requests == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "window": self.window,
            "start": self.start,
            "end": self.end,
            "bucket_s": self.bucket_s,
            "total": self.total.to_dict(),
            "live": self.live.to_dict(),
            "points": [p.to_dict() for p in self.points],
            "versions": [v.to_dict() for v in self.versions],
            "instances": [i.to_dict() for i in self.instances],
        }


def window_of(name: str) -> tuple[int, int, int]:
    """(seconds, bucket seconds, span of the rows read) of a window name, or an error that
    lists them."""
    found = WINDOWS.get(name)
    if found is None:
        raise InvalidInput(
            f"unknown traffic window {name!r}", hint=f"use one of {', '.join(WINDOWS)}"
        )
    return found


def server_traffic(
    ws: Workspace, deployment: str, *, window: str = DEFAULT_WINDOW, now: float | None = None
) -> ServerTraffic:
    """The deployment's traffic over the last `window` (one of WINDOWS), as every serving
    process of it counted it, and the processes that reported in that time."""
    seconds, bucket_s, span = window_of(window)
    now = time.time() if now is None else now
    first = (int(now) - seconds) // bucket_s * bucket_s + bucket_s  # whole buckets only
    since = int(now) // MINUTE * MINUTE - MINUTE  # "live": this minute and the one before
    i = serving_instances.c
    seen = select(i.id, i.host, i.pid, i.started, i.last_seen, i.stopped).where(
        i.deployment == deployment, i.last_seen >= first
    )
    with ws.db.read() as conn:
        found = Rows(conn.execute(_rows(deployment, span, first, now)).all())
        recent = found
        if span != MINUTE or since < first:
            recent = Rows(conn.execute(_rows(deployment, MINUTE, since, now)).all())
        processes = conn.execute(seen.order_by(i.started, i.id)).all()
    own = found.figures(*found.group_of(found.instance, [p.id for p in processes]))
    instances = [
        Instance(
            p.id,
            p.host,
            p.pid,
            p.started,
            p.last_seen,
            p.stopped,
            p.stopped is None and now - p.last_seen <= REPORTING_S,
            f.requests,
            f.errors,
        )
        for p, f in zip(processes, own, strict=True)
    ]
    (last,) = recent.figures(np.where(recent.start >= since, 0, -1), 1)
    (total,) = found.figures(np.zeros(len(found.start), dtype=np.int64), 1)
    return ServerTraffic(
        deployment=deployment,
        window=window,
        start=float(first),
        end=now,
        bucket_s=bucket_s,
        points=found.points(first=first, now=now, bucket_s=bucket_s),
        total=total,
        live=Live(**_fields(last), since=float(since), seconds=max(now - since, 1.0)),
        versions=found.by_version(),
        instances=instances,
    )


def _rows(deployment: str, span: int, first: float, now: float) -> Select[Any]:
    t = serving_counts.c
    return select(
        t.instance,
        t.start,
        t.role,
        t.model,
        t.version,
        t.requests,
        t.errors_4xx,
        t.errors_5xx,
        t.latency,
    ).where(t.deployment == deployment, t.span == span, t.start >= first, t.start <= now)


class Rows:
    """Rows of serving_counts as columns, summed per group of rows with numpy."""

    def __init__(self, rows: Sequence[Sequence[Any]]) -> None:
        """`rows`: Row's fields in order (DB rows are)."""
        columns = list(zip(*rows, strict=True)) or [()] * len(Row._fields)
        self.instance, _, self.role, self.model, self.version = columns[:5]
        self.requests = columns[5]
        self.start = np.asarray(columns[1], dtype=np.int64)
        self.counts = np.asarray(columns[5:8], dtype=np.int64).reshape(3, len(rows)).T
        stored = columns[8]  # JSON text from the DB, or mappings already decoded
        decoded = (
            list(map(orjson.loads, stored)) if stored and isinstance(stored[0], str) else stored
        )
        self.latency = sparse(decoded)

    def group_of(self, keys: Sequence[object], groups: Sequence[object]) -> tuple[np.ndarray, int]:
        """Each row's place in `groups` by its key (-1 when absent), and how many groups."""
        place = {key: i for i, key in enumerate(groups)}
        return np.fromiter((place.get(k, -1) for k in keys), np.int64, len(keys)), len(groups)

    def figures(self, group: np.ndarray, n: int) -> list[Figures]:
        """Requests, errors and p50/p99 of each of `n` groups (`group[row]`, -1: no group)."""
        keep = group >= 0
        sums = np.zeros((n, 3), dtype=np.int64)
        np.add.at(sums, group[keep], self.counts[keep])
        latency = sum_by(self.latency, group, n)
        p50, p99 = quantiles(latency, 0.5), quantiles(latency, 0.99)
        return [
            Figures(int(r), int(e4), int(e5), a, b)
            for (r, e4, e5), a, b in zip(sums, p50, p99, strict=True)
        ]

    def points(self, *, first: int, now: float, bucket_s: int) -> list[Point]:
        """Every bucket from `first` to the one holding `now`, oldest first: a bucket
        without requests has zero requests and no latency or error rate."""
        starts = list(range(first, int(now) // bucket_s * bucket_s + 1, bucket_s))
        index = (self.start - first) // bucket_s
        index[(index < 0) | (index >= len(starts))] = -1
        roles: list[dict[str, int]] = [{} for _ in starts]
        for role, requests, at in zip(self.role, self.requests, index.tolist(), strict=True):
            if at >= 0:
                roles[at][role] = roles[at].get(role, 0) + requests
        return [
            Point(**_fields(f), start=float(start), seconds=bucket_s, by_role=by_role)
            for start, f, by_role in zip(
                starts, self.figures(index, len(starts)), roles, strict=True
            )
        ]

    def by_version(self) -> list[VersionFigures]:
        keys = list(zip(self.role, self.model, self.version, strict=True))
        versions = sorted(set(keys))
        return [
            VersionFigures(**_fields(f), role=role, model=model, version=version)
            for (role, model, version), f in zip(
                versions, self.figures(*self.group_of(keys, versions)), strict=True
            )
        ]


def _fields(f: Figures) -> dict[str, Any]:
    return {
        "requests": f.requests,
        "errors_4xx": f.errors_4xx,
        "errors_5xx": f.errors_5xx,
        "p50_ms": f.p50_ms,
        "p99_ms": f.p99_ms,
    }
