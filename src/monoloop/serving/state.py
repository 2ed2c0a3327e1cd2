"""What a serving app holds: its deployments' slots and batchers, the registry follower,
the prediction-log writer and the metrics; and how a predict request is answered.

A predict request: the media type is checked before the body is read (not JSON: 415, the
body never parsed); the body is parsed with orjson; the role is chosen by the canary split
(router.py); the job joins its slot's micro-batch (batching.py) and is answered with the
version that computed it; the shadow gets a copy once the answer is ready. Predictions go
to the prediction log in batches, off the request path (predlog.py); every request, failed
ones too, is counted per minute and written to the DB by another thread (minutes.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson
from starlette.types import Receive

from monoloop.errors import MonoloopError, UnsupportedMediaType
from monoloop.serving.batching import Answer, Batcher, Job, elapsed_ms
from monoloop.serving.http import (
    JSON_HEADERS,
    Headers,
    RequestIds,
    is_json,
    jsonable,
    read_body,
)
from monoloop.serving.inputs import BODY_HINT, parse_body
from monoloop.serving.metrics import ServingMetrics
from monoloop.serving.minutes import MinuteCounts, MinuteWriter
from monoloop.serving.models import Follower, Loaded, Slot, slots_for
from monoloop.serving.predlog import Entry, PredictionLogWriter
from monoloop.serving.router import CANARY, PRIMARY, SHADOW, choose
from monoloop.serving.service import DeploymentView, RoleView
from monoloop.workspace import Settings, Workspace

log = logging.getLogger("monoloop.serving")


class Deployment:
    """One deployment's slots and their micro-batchers."""

    def __init__(self, name: str, slots: list[Slot], batchers: dict[str, Batcher]) -> None:
        self.name = name
        self.slots = {slot.role: slot for slot in slots}
        self.batchers = batchers
        self.runtime = slots[0].runtime
        canary = self.slots.get(CANARY)
        self.canary_traffic = canary.traffic if canary is not None else 0.0
        self.shadow = batchers.get(SHADOW)

    def route(self, key: str) -> str:
        role = choose(self.name, key, self.canary_traffic)
        if role == CANARY and self.slots[CANARY].current is None:
            return PRIMARY  # a canary that has not loaded yet: the primary answers
        return role

    @property
    def ready(self) -> bool:
        # A canary still loading would hand its callers to the primary and break their
        # stickiness, so ready waits for every role's first attempt (a canary that
        # failed, or whose alias nobody holds, does not hold readiness back).
        if self.slots[PRIMARY].current is None:
            return False
        return all(slot.attempted for slot in self.slots.values())

    def view(self) -> DeploymentView:
        view = DeploymentView(self.name, self.runtime, ready=self.ready)
        for slot in self.slots.values():
            loaded = slot.current
            view.roles.append(
                RoleView(
                    slot.role,
                    slot.ref,
                    slot.traffic,
                    slot.ref.partition("@")[0],
                    loaded.version.version if loaded else None,
                    error=slot.error,
                    loaded_at=loaded.loaded_at if loaded else None,
                    input=loaded.codec.mode if loaded else None,
                    runtime=loaded.runtime if loaded else None,
                    object_id=loaded.predictor.object_id if loaded else None,
                    native=loaded.native.state if loaded and loaded.native else None,
                )
            )
        return view


class ServingState:
    """Everything the app holds, started and stopped by its lifespan."""

    def __init__(
        self,
        settings: Settings,
        names: Sequence[str] | None,
        *,
        workspace: Workspace | None = None,
        poll_interval_s: float | None = None,
        on_ready: Callable[[ServingState], None] | None = None,
    ) -> None:
        from monoloop.serving.service import deployment_specs

        config = settings.config.serving
        self.settings = settings
        self.ws = workspace
        self._owns_ws = workspace is None
        self.poll_interval_s = poll_interval_s or config.poll_interval_s
        self.max_body_bytes = config.max_body_bytes
        self.on_ready = on_ready
        self.metrics = ServingMetrics(self.snapshot)
        self.request_id = RequestIds()
        self.writer: PredictionLogWriter | None = None
        self.minutes = MinuteCounts()
        self.minute_writer: MinuteWriter | None = None
        self.follower: Follower | None = None
        self.boot_error: str | None = None
        self._announced = False
        self._boot_thread: threading.Thread | None = None
        self.deployments: dict[str, Deployment] = {}
        # The names are checked against monoloop.yaml here, before anything starts.
        specs = deployment_specs(settings.config.deployments, names)
        for name, spec in specs.items():
            slots = slots_for(name, spec)
            batchers = {
                slot.role: Batcher(
                    slot,
                    max_rows=config.max_batch_rows,
                    on_batch=self._on_batch,
                    on_error=self._on_error,
                )
                for slot in slots
            }
            self.deployments[name] = Deployment(name, slots, batchers)

    @property
    def slots(self) -> list[Slot]:
        return [s for d in self.deployments.values() for s in d.slots.values()]

    @property
    def ready(self) -> bool:
        return self.writer is not None and all(d.ready for d in self.deployments.values())

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open the workspace, start the log writer, load the models: on a thread, so that
        /healthz answers at once and /readyz once the models are in."""
        self._boot_thread = threading.Thread(target=self._boot, name="monoloop-boot", daemon=True)
        self._boot_thread.start()

    def _boot(self) -> None:
        try:
            if self.ws is None:
                from monoloop.workspace import open_settings

                self.ws = open_settings(self.settings)
            self.writer = PredictionLogWriter(self.ws, self.settings.config.serving.prediction_log)
            self.writer.start()
            self.follower = Follower(
                self.ws,
                self.slots,
                self.poll_interval_s,
                on_load=self._on_load,
                on_error=self._on_load_error,
            )
            self.follower.start()
            # After the follower: loading the models comes first; this registers the process.
            self.minute_writer = MinuteWriter(
                self.ws, self.minutes, self.settings.config.serving.metrics, list(self.deployments)
            )
            self.minute_writer.start()
        except Exception as exc:
            self.boot_error = f"{type(exc).__name__}: {exc}"
            log.exception("serving failed to start")

    def stop(self) -> None:
        """Stop following, write every buffered prediction, close what we opened."""
        if self._boot_thread is not None:
            self._boot_thread.join()
        if self.follower is not None:
            self.follower.stop()
        if self.writer is not None:
            self.writer.close()
        if self.minute_writer is not None:
            self.minute_writer.close()
        if self.ws is not None and self._owns_ws:
            self.ws.close()

    # -- hooks ----------------------------------------------------------------------------

    def _on_load(self, slot: Slot, loaded: Loaded) -> None:
        # The libraries and the model are long-lived: out of the cyclic collector's sight,
        # its full passes no longer walk a million objects (a 100 ms pause in a request).
        gc.freeze()
        mv = loaded.version
        self.metrics.loads.labels(slot.deployment, slot.role, mv.model, str(mv.version)).inc()
        log.info("%s (%s) answers with %s", slot.deployment, slot.role, mv.ref)
        self._announce_once_ready()

    def _on_load_error(self, slot: Slot, _message: str) -> None:
        self.metrics.load_errors.labels(slot.deployment, slot.role).inc()
        self._announce_once_ready()  # a canary that failed last may be what was awaited

    def _announce_once_ready(self) -> None:
        if not self._announced and self.ready:
            self._announced = True
            if self.on_ready is not None:
                self.on_ready(self)

    def _on_batch(
        self,
        slot: Slot,
        loaded: Loaded,
        jobs: list[Job],
        model_input: Any,
        predictions: np.ndarray,
        proba: np.ndarray | None,
    ) -> None:
        mv = loaded.version
        m = self.metrics
        rows = len(predictions)
        version = str(mv.version)
        m.child(m.predictions, slot.deployment, slot.role, mv.model, version).inc(rows)
        m.child(m.batch_rows, slot.deployment, slot.role).observe(rows)
        writer = self.writer
        if writer is None:
            return
        now = time.perf_counter()
        entry = Entry(
            deployment=slot.deployment,
            role=slot.role,
            model=mv.model,
            version=mv.version,
            request_ids=[j.request_id for j in jobs],
            counts=[j.payload.rows for j in jobs],
            latencies_ms=[elapsed_ms(j, now) for j in jobs],
            time=time.time(),
            inputs=loaded.codec.logged(model_input),
            prediction=predictions,
            proba=proba,
            classes=loaded.classes,
        )
        writer.put(entry)

    def _on_error(self, slot: Slot, _job: Job, error: MonoloopError) -> None:
        if slot.role == SHADOW:
            m = self.metrics
            m.child(m.shadow_errors, slot.deployment, type(error).__name__).inc()

    def snapshot(self) -> dict[str, Any]:
        """What /metrics reads at scrape time."""
        writer = self.writer
        minutes = self.minute_writer
        versions = [
            (s.deployment, s.role, s.current.version.model, s.current.version.version)
            for s in self.slots
            if s.current is not None
        ]
        return {
            "ready": self.ready,
            "versions": versions,
            "predlog": {
                "written": writer.written_rows if writer else 0,
                "dropped": writer.dropped_rows if writer else 0,
                "failures": writer.failed_writes if writer else 0,
                "pending": writer.pending_rows if writer else 0,
            },
            "minutes": {"failures": minutes.failed_writes if minutes else 0},
        }

    # -- requests -------------------------------------------------------------------------

    async def predict(
        self, name: str, raw_headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One predict request, as (status, headers, body): the ASGI messages to send."""
        start = time.perf_counter()
        deployment = self.deployments.get(name)
        if deployment is None:
            return _error(self._unknown(name))
        headers = Headers(raw_headers)
        chosen = ""  # the role, once the split has chosen one
        try:
            if not is_json(headers.content_type):
                raise UnsupportedMediaType(
                    f"the body must be JSON, got {headers.content_type or 'no type'}",
                    hint="send Content-Type: application/json; " + BODY_HINT,
                )
            payload = parse_body(await read_body(receive, headers, self.max_body_bytes))
            rid = self.request_id(headers.request_id)
            role = deployment.route(headers.request_key or rid)
            chosen = role
            future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            deployment.batchers[role].submit(Job(payload, rid, start, future))
            answer = await future
        except MonoloopError as exc:
            return self._failed(deployment, chosen, exc, start)
        if deployment.shadow is not None and deployment.slots[SHADOW].current is not None:
            # After the answer is ready: the shadow's batch runs in a later loop turn.
            deployment.shadow.submit(Job(payload, rid, start, None))
        return self._answered(deployment, role, rid, answer, start)

    def _answered(
        self, deployment: Deployment, role: str, request_id: str, answer: Answer, start: float
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        loaded = answer.loaded
        mv = loaded.version
        out: dict[str, Any] = {
            "request_id": request_id,
            "deployment": deployment.name,
            "model": mv.model,
            "version": mv.version,
            "role": role,
            "predictions": jsonable(answer.predictions),
        }
        if answer.proba is not None:
            out["probabilities"] = jsonable(answer.proba)
            out["classes"] = loaded.classes
        body = orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)
        m = self.metrics
        elapsed = time.perf_counter() - start
        m.child(m.requests, deployment.name, "200").inc()
        m.child(m.version_requests, deployment.name, role, mv.model, str(mv.version)).inc()
        m.child(m.latency, deployment.name).observe(elapsed)
        self.minutes.record(deployment.name, role, mv.model, mv.version, 200, elapsed)
        headers = [
            *JSON_HEADERS,
            (b"x-request-id", request_id.encode()),
            (b"x-model-version", mv.ref.encode()),
        ]
        return 200, headers, body

    def _failed(
        self, deployment: Deployment, role: str, error: MonoloopError, start: float
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        m = self.metrics
        elapsed = time.perf_counter() - start
        status = str(error.http_status)
        m.child(m.requests, deployment.name, status).inc()
        m.child(m.errors, deployment.name, type(error).__name__).inc()
        m.child(m.latency, deployment.name).observe(elapsed)
        self.record_failure(deployment.name, role, error.http_status, elapsed)
        return _error(error)

    def record_failure(self, name: str, role: str, status: int, elapsed: float) -> None:
        """Count a failed request in the per-minute counters, with the version its role
        had loaded (none before a role was chosen)."""
        slot = self.deployments[name].slots.get(role) if role else None
        loaded = slot.current if slot is not None else None
        if loaded is not None:
            model, version = loaded.version.model, loaded.version.version
        else:
            model, version = (slot.ref.partition("@")[0] if slot else ""), 0
        self.minutes.record(name, role, model, version, status, elapsed)

    def _unknown(self, name: str) -> MonoloopError:
        from monoloop.errors import NotFound

        return NotFound(
            f"this server serves no deployment named {name!r}",
            hint=f"it serves {', '.join(self.deployments)}",
        )

    def deployment(self, name: str) -> Deployment:
        found = self.deployments.get(name)
        if found is None:
            raise self._unknown(name)
        return found


def _error(error: MonoloopError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return error.http_status, list(JSON_HEADERS), orjson.dumps(error.to_dict())
