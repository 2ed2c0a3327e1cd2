"""A deployment's traffic as its serving processes counted it: requests, errors and latency
over a window, summed over every replica, with the last minute's figures and which
processes reported. What the UI's deployments page and `GET /v1/deployments/{name}/traffic`
show.

    t = server_traffic(ws, "churn-api", window="1h")
    t.live.rate_per_s, t.live.p99_ms, t.live.error_rate
    [(p.start, p.requests, p.p99_ms, p.error_rate) for p in t.points]

The processes write per-minute counters (minutes.py); this reads the window's rows through
the (deployment, minute) index and adds them up into WINDOWS' buckets. Latency quantiles
come from the summed histograms (histogram.py: within 10%), of answered (200) requests;
the error rate is errors (4xx and 5xx) over requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from monoloop.errors import InvalidInput
from monoloop.serving.histogram import decode, merge, quantile
from monoloop.serving.tables import serving_instances, serving_minutes
from monoloop.workspace import Workspace

# window -> (seconds, bucket seconds): about 60-100 points each
WINDOWS = {"1h": (3600, 60), "6h": (6 * 3600, 300), "24h": (86400, 900), "7d": (7 * 86400, 7200)}
DEFAULT_WINDOW = "1h"
REPORTING_S = 90.0  # an instance that wrote this recently is reporting (heartbeat: 30 s)
BEFORE_ROUTING = ""  # the role of requests refused before the split chose one


@dataclass(frozen=True)
class Minute:
    """One row of serving_minutes, decoded: plain data for `summarise`."""

    instance: int
    minute: int
    role: str
    model: str
    version: int
    requests: int
    errors_4xx: int
    errors_5xx: int
    latency: dict[float, int]


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


def window_of(name: str) -> tuple[int, int]:
    """(seconds, bucket seconds) of a window name, or an error that lists them."""
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
    seconds, bucket_s = window_of(window)
    now = time.time() if now is None else now
    first = (int(now) - seconds) // bucket_s * bucket_s + bucket_s  # whole buckets only
    m, i = serving_minutes.c, serving_instances.c
    rows = select(
        m.instance,
        m.minute,
        m.role,
        m.model,
        m.version,
        m.requests,
        m.errors_4xx,
        m.errors_5xx,
        m.latency,
    ).where(m.deployment == deployment, m.minute >= first, m.minute <= now)
    seen = select(i.id, i.host, i.pid, i.started, i.last_seen, i.stopped).where(
        i.deployment == deployment, i.last_seen >= first
    )
    with ws.db.read() as conn:
        minutes = [
            Minute(*r[:8], decode(orjson.loads(r.latency))) for r in conn.execute(rows).all()
        ]
        processes = conn.execute(seen.order_by(i.started, i.id)).all()
    points = summarise(minutes, first=first, now=now, bucket_s=bucket_s)
    by_instance: dict[int, list[Minute]] = {}
    for row in minutes:
        by_instance.setdefault(row.instance, []).append(row)
    instances = []
    for p in processes:
        own = _figures(by_instance.get(p.id, []))
        reporting = p.stopped is None and now - p.last_seen <= REPORTING_S
        instances.append(
            Instance(
                p.id,
                p.host,
                p.pid,
                p.started,
                p.last_seen,
                p.stopped,
                reporting,
                own.requests,
                own.errors,
            )
        )
    since = int(now) // 60 * 60 - 60
    recent = _figures(r for r in minutes if r.minute >= since)
    return ServerTraffic(
        deployment=deployment,
        window=window,
        start=float(first),
        end=now,
        bucket_s=bucket_s,
        points=points,
        total=_figures(minutes),
        live=Live(**_fields(recent), since=float(since), seconds=max(now - since, 1.0)),
        versions=_by_version(minutes),
        instances=instances,
    )


def summarise(minutes: Sequence[Minute], *, first: int, now: float, bucket_s: int) -> list[Point]:
    """Every bucket from `first` to the one holding `now`, oldest first: a bucket without
    requests has zero requests and no latency or error rate."""
    grouped: dict[int, list[Minute]] = {}
    for row in minutes:
        grouped.setdefault(row.minute // bucket_s * bucket_s, []).append(row)
    points = []
    for start in range(first, int(now) // bucket_s * bucket_s + 1, bucket_s):
        rows = grouped.get(start, [])
        by_role: dict[str, int] = {}
        for row in rows:
            by_role[row.role] = by_role.get(row.role, 0) + row.requests
        points.append(
            Point(**_fields(_figures(rows)), start=float(start), seconds=bucket_s, by_role=by_role)
        )
    return points


def _figures(rows: Iterable[Minute]) -> Figures:
    requests = e4 = e5 = 0
    histograms = []
    for row in rows:
        requests += row.requests
        e4 += row.errors_4xx
        e5 += row.errors_5xx
        histograms.append(row.latency)
    latency = merge(histograms)
    return Figures(requests, e4, e5, quantile(latency, 0.5), quantile(latency, 0.99))


def _fields(f: Figures) -> dict[str, Any]:
    return {
        "requests": f.requests,
        "errors_4xx": f.errors_4xx,
        "errors_5xx": f.errors_5xx,
        "p50_ms": f.p50_ms,
        "p99_ms": f.p99_ms,
    }


def _by_version(minutes: Sequence[Minute]) -> list[VersionFigures]:
    grouped: dict[tuple[str, str, int], list[Minute]] = {}
    for row in minutes:
        grouped.setdefault((row.role, row.model, row.version), []).append(row)
    return [
        VersionFigures(**_fields(_figures(rows)), role=role, model=model, version=version)
        for (role, model, version), rows in sorted(grouped.items())
    ]
