"""Prometheus metrics of a serving app, in a registry of its own (nothing process-global).

    monoloop_serving_requests_total{deployment,status}          predict requests answered
    monoloop_serving_errors_total{deployment,error}             of them, failed (error class)
    monoloop_serving_request_seconds{deployment}                latency histogram
    monoloop_serving_version_requests_total{deployment,role,model,version}
    monoloop_serving_predictions_total{deployment,role,model,version}   rows predicted
    monoloop_serving_batch_rows{deployment,role}                rows per predict call
    monoloop_serving_shadow_errors_total{deployment,error}      shadow failures (never returned)
    monoloop_serving_model_loads_total{deployment,role,model,version}
    monoloop_serving_model_load_errors_total{deployment,role}
    monoloop_serving_model_version{deployment,role,model}       the version answering now
    monoloop_serving_ready                                      1 when /readyz answers 200
    monoloop_predlog_written_rows_total, monoloop_predlog_dropped_rows_total,
    monoloop_predlog_pending_rows, monoloop_predlog_write_failures_total
    monoloop_serving_minutes_write_failures_total   failed writes of the per-minute counters

Hot-path children are cached: `.labels()` resolves label values under a lock each call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _State(Collector):
    """Values read at scrape time from the app's own state: no cost per request."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        state = self.read()
        ready = GaugeMetricFamily("monoloop_serving_ready", "1 when /readyz answers 200")
        ready.add_metric([], 1.0 if state["ready"] else 0.0)
        yield ready
        version = GaugeMetricFamily(
            "monoloop_serving_model_version",
            "The model version each role answers with now",
            labels=["deployment", "role", "model"],
        )
        for deployment, role, model, number in state["versions"]:
            version.add_metric([deployment, role, model], float(number))
        yield version
        log = state["predlog"]
        for name, text, value in (
            ("written_rows", "Predictions written to the prediction log", log["written"]),
            ("dropped_rows", "Predictions dropped: the buffer was at its bound", log["dropped"]),
            ("write_failures", "Failed writes of the prediction log (retried)", log["failures"]),
        ):
            counter = CounterMetricFamily(f"monoloop_predlog_{name}", text)
            counter.add_metric([], float(value))
            yield counter
        pending = GaugeMetricFamily(
            "monoloop_predlog_pending_rows", "Predictions buffered, not yet written"
        )
        pending.add_metric([], float(log["pending"]))
        yield pending
        minutes = CounterMetricFamily(
            "monoloop_serving_minutes_write_failures",
            "Failed writes of the per-minute request counters to the DB (retried)",
        )
        minutes.add_metric([], float(state["minutes"]["failures"]))
        yield minutes


class ServingMetrics:
    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        reg = self.registry
        self.requests = Counter(
            "monoloop_serving_requests",
            "Predict requests answered, by HTTP status",
            ["deployment", "status"],
            registry=reg,
        )
        self.errors = Counter(
            "monoloop_serving_errors",
            "Predict requests that failed, by error",
            ["deployment", "error"],
            registry=reg,
        )
        self.latency = Histogram(
            "monoloop_serving_request_seconds",
            "Predict latency in the server, body read to response ready",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.version_requests = Counter(
            "monoloop_serving_version_requests",
            "Requests answered by each model version",
            ["deployment", "role", "model", "version"],
            registry=reg,
        )
        self.predictions = Counter(
            "monoloop_serving_predictions",
            "Rows predicted by each model version (shadow included)",
            ["deployment", "role", "model", "version"],
            registry=reg,
        )
        self.batch_rows = Histogram(
            "monoloop_serving_batch_rows",
            "Rows per micro-batched predict call",
            ["deployment", "role"],
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.shadow_errors = Counter(
            "monoloop_serving_shadow_errors",
            "Shadow predictions that failed (responses are never affected)",
            ["deployment", "error"],
            registry=reg,
        )
        self.loads = Counter(
            "monoloop_serving_model_loads",
            "Model versions loaded and swapped in",
            ["deployment", "role", "model", "version"],
            registry=reg,
        )
        self.load_errors = Counter(
            "monoloop_serving_model_load_errors",
            "Failures to resolve or load a role's alias (the previous version keeps answering)",
            ["deployment", "role"],
            registry=reg,
        )
        reg.register(_State(state))
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, cached."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
