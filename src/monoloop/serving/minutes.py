"""A serving process's own request counters, per UTC minute, written to the metadata DB off
the request path: what the UI's deployments page and `GET /v1/deployments/{name}/traffic`
chart, summed over every replica (serving/traffic.py reads them).

    counts = MinuteCounts()
    counts.record("churn-api", "primary", "churn", 3, 200, 0.0021)   # on the request path
    writer = MinuteWriter(ws, counts, spec, ["churn-api"])
    writer.start()          # registers the instance, then writes every flush_interval_s
    writer.close()          # writes what is left and marks the instance stopped

On the request path a request costs one dict update under a lock. Per deployment, minute,
role and version the process keeps requests, 4xx and 5xx errors and a latency histogram of
the answered requests (histogram.py); a thread writes the minutes that changed every
`flush_interval_s`, as absolute values into rows only this process writes (keyed by its
instance: host, pid, start time), so a retried write is harmless and replicas never
contend for a row. In the same transaction it rolls the hours it touched up into hour
rows (the sum of that hour's minute rows), which long windows read: a week is 168 rows
per role and replica instead of 10,080. With no traffic it still writes a heartbeat every
HEARTBEAT_S, so the UI can tell a quiet replica from a gone one. As it writes (at most
hourly) it deletes hour rows older than `retention_days` and minute rows older than
MINUTES_KEPT_S (the short windows' need). A write that fails keeps the counts for the
next attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from monoloop.serving.drain import stop_and_drain
from monoloop.serving.histogram import encode, observe
from monoloop.serving.spec import ServerMetricsSpec
from monoloop.serving.tables import HOUR, MINUTE, serving_counts, serving_instances
from monoloop.workspace import Workspace

log = logging.getLogger("monoloop.serving")

HEARTBEAT_S = 30.0  # an instance with no traffic still writes this often
PRUNE_EVERY_S = 3600.0
DAY_S = 86400
MINUTES_KEPT_S = 2 * DAY_S  # minute rows serve windows up to a day; hour rows the rest

# deployment, minute (epoch seconds of its start), role, model, version
Key = tuple[str, int, str, str, int]


@dataclass(slots=True)
class Counts:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_sum_ms: float = 0.0
    latency: dict[int, int] = field(default_factory=dict)  # bucket index -> answered requests
    dirty: bool = True

    def copy(self) -> Counts:
        return Counts(
            self.requests,
            self.errors_4xx,
            self.errors_5xx,
            self.latency_sum_ms,
            dict(self.latency),
        )


class MinuteCounts:
    """The counters of the minutes not yet written (and of the current one)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._minutes: dict[Key, Counts] = {}
        self._lock = threading.Lock()

    def record(
        self, deployment: str, role: str, model: str, version: int, status: int, seconds: float
    ) -> None:
        """One predict request answered with `status` after `seconds`."""
        key = (deployment, int(self.clock()) // 60 * 60, role, model, version)
        with self._lock:
            counts = self._minutes.get(key)
            if counts is None:
                counts = self._minutes[key] = Counts()
            counts.requests += 1
            counts.dirty = True
            if status >= 500:
                counts.errors_5xx += 1
            elif status >= 400:
                counts.errors_4xx += 1
            else:
                ms = seconds * 1000.0
                counts.latency_sum_ms += ms
                observe(counts.latency, ms)

    def take(self) -> dict[Key, Counts]:
        """Copies of the minutes that changed since the last take, now marked written."""
        with self._lock:
            changed = {k: c.copy() for k, c in self._minutes.items() if c.dirty}
            for key in changed:
                self._minutes[key].dirty = False
        return changed

    def restore(self, keys: Sequence[Key]) -> None:
        """A write of these failed: write them again next time."""
        with self._lock:
            for key in keys:
                counts = self._minutes.get(key)
                if counts is not None:
                    counts.dirty = True

    def forget(self, before: int) -> None:
        """Drop written minutes that started before `before` (they will not change)."""
        with self._lock:
            for key in [k for k, c in self._minutes.items() if k[1] < before and not c.dirty]:
                del self._minutes[key]

    def __len__(self) -> int:
        return len(self._minutes)


class MinuteWriter:
    def __init__(
        self,
        ws: Workspace,
        counts: MinuteCounts,
        spec: ServerMetricsSpec,
        deployments: Sequence[str],
    ) -> None:
        self.ws = ws
        self.counts = counts
        self.spec = spec
        self.deployments = list(deployments)
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.started = counts.clock()
        self.instances: dict[str, int] = {}  # deployment -> serving_instances.id
        self.failed_writes = 0
        self._last_write = 0.0
        self._next_prune = 0.0
        self._stop = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monoloop-minutes", daemon=True)
        self._thread.start()

    def close(self, *, attempts: int = 5) -> None:
        """Stop the thread, write every count left and mark this instance stopped."""
        self._stop = True
        drained = stop_and_drain(
            self._thread, self._wake, lambda: self.flush(stopping=True), attempts=attempts
        )
        self._thread = None
        if not drained:
            log.error("serving metrics: the last minutes could not be written")

    def _run(self) -> None:
        force = True  # register at once, so the instance shows before its first request
        while not self._stop:
            try:
                self.flush(heartbeat=force)
            except Exception:  # never let the thread die: the next interval tries again
                log.exception("serving metrics: write failed")
            self._wake.wait(self.spec.flush_interval_s)
            force = False

    def flush(self, *, heartbeat: bool = False, stopping: bool = False) -> bool:
        """Write the minutes that changed (and a heartbeat when one is due, or `heartbeat`);
        True when nothing is left to write."""
        now = self.counts.clock()
        changed = self.counts.take()
        due = heartbeat or stopping or now - self._last_write >= HEARTBEAT_S
        if not changed and not due:
            return True
        try:
            with self.ws.db.write() as conn:
                instances = {**self.instances, **self._register(conn, now)}
                for key, counts in changed.items():
                    _put(conn, instances[key[0]], MINUTE, key, _values(counts))
                for deployment, hour in sorted({(k[0], k[1] // HOUR * HOUR) for k in changed}):
                    roll_up(conn, instances[deployment], deployment, hour)
                ids = list(instances.values())
                seen = {"last_seen": now, **({"stopped": now} if stopping else {})}
                conn.execute(
                    update(serving_instances).where(serving_instances.c.id.in_(ids)).values(seen)
                )
                pruning = now >= self._next_prune
                if pruning:
                    prune(conn, self.deployments, now, self.spec.retention_days * DAY_S)
        except Exception as exc:  # DB down: keep the counts, try again next time
            self.failed_writes += 1
            self.counts.restore(list(changed))
            log.warning("serving metrics: %d minutes not written: %s", len(changed), exc)
            return False
        self.instances = instances  # known once committed: a failed write registered nothing
        self._last_write = now
        if pruning:
            self._next_prune = now + PRUNE_EVERY_S
        self.counts.forget(before=int(now) // 60 * 60 - 60)
        return True

    def _register(self, conn: Connection, now: float) -> dict[str, int]:
        """Rows for this process's deployments that have none yet: deployment -> id."""
        new = {}
        for deployment in self.deployments:
            if deployment in self.instances:
                continue
            row = {
                "deployment": deployment,
                "host": self.host,
                "pid": self.pid,
                "started": self.started,
                "last_seen": now,
                "stopped": None,
            }
            result = conn.execute(insert(serving_instances).values(row))
            new[deployment] = int(result.inserted_primary_key[0])  # type: ignore[index]
        return new


def _values(counts: Counts) -> dict[str, object]:
    return {
        "requests": counts.requests,
        "errors_4xx": counts.errors_4xx,
        "errors_5xx": counts.errors_5xx,
        "latency_sum_ms": counts.latency_sum_ms,
        "latency": orjson.dumps(encode(counts.latency)).decode(),
    }


def _put(conn: Connection, instance: int, span: int, key: Key, values: dict[str, object]) -> None:
    """Write one minute's or hour's totals: update this instance's row, or insert it."""
    deployment, start, role, model, version = key
    t = serving_counts.c
    found = conn.execute(
        update(serving_counts)
        .where(
            t.instance == instance,
            t.span == span,
            t.start == start,
            t.role == role,
            t.model == model,
            t.version == version,
        )
        .values(values)
    )
    if found.rowcount == 0:
        conn.execute(
            insert(serving_counts).values(
                instance=instance,
                deployment=deployment,
                span=span,
                start=start,
                role=role,
                model=model,
                version=version,
                **values,
            )
        )


def roll_up(conn: Connection, instance: int, deployment: str, hour: int) -> None:
    """Write the instance's hour rows of `hour` as the sums of its minute rows."""
    t = serving_counts.c
    minutes = conn.execute(
        select(
            t.role,
            t.model,
            t.version,
            t.requests,
            t.errors_4xx,
            t.errors_5xx,
            t.latency_sum_ms,
            t.latency,
        ).where(t.instance == instance, t.span == MINUTE, t.start >= hour, t.start < hour + HOUR)
    ).all()
    sums: dict[tuple[str, str, int], _Sum] = {}
    for role, model, version, requests, e4, e5, total_ms, latency in minutes:
        into = sums.setdefault((role, model, version), _Sum())
        into.requests += requests
        into.errors_4xx += e4
        into.errors_5xx += e5
        into.latency_sum_ms += total_ms
        for upper, n in orjson.loads(latency).items():
            into.latency[upper] = into.latency.get(upper, 0) + n
    for (role, model, version), into in sums.items():
        values = {
            "requests": into.requests,
            "errors_4xx": into.errors_4xx,
            "errors_5xx": into.errors_5xx,
            "latency_sum_ms": into.latency_sum_ms,
            "latency": orjson.dumps(into.latency).decode(),
        }
        _put(conn, instance, HOUR, (deployment, hour, role, model, version), values)


@dataclass(slots=True)
class _Sum:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_sum_ms: float = 0.0
    latency: dict[str, int] = field(default_factory=dict)  # as stored: upper bound -> count


def prune(conn: Connection, deployments: Sequence[str], now: float, keep_s: float) -> None:
    """Delete these deployments' hour rows from before `now - keep_s` and minute rows from
    before `now - min(keep_s, MINUTES_KEPT_S)`, and the instances of any deployment silent
    since `now - keep_s` (their rows go with them)."""
    t, i = serving_counts.c, serving_instances.c
    names = list(deployments)
    for span, cutoff in ((HOUR, now - keep_s), (MINUTE, now - min(keep_s, MINUTES_KEPT_S))):
        conn.execute(
            delete(serving_counts).where(t.deployment.in_(names), t.span == span, t.start < cutoff)
        )
    conn.execute(delete(serving_instances).where(i.last_seen < now - keep_s))
