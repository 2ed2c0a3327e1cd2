"""What a serving process answers with, and how it follows the registry.

A `Slot` is one role (primary, canary, shadow) of one deployment; `slot.current` is the
`Loaded` version answering now. A swap is one reference assignment: a micro-batch reads
`slot.current` once and answers entirely with that version, so no request ever sees half
of a swap, and the version a response names is the one that computed it.

The `Follower` thread re-resolves every NAME@ALIAS each `poll_interval_s` (one read
transaction). When an alias has moved (a promotion, a rollback, the CT loop) it loads the
new version through `load_version`, off the event loop, records a `deployment.load` ledger
event, then swaps. Until the load has succeeded the old version keeps answering; a version
that fails to load is reported (metrics, log, GET /v1/deployments/NAME) and retried at the
next poll.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monoloop.errors import MonoloopError
from monoloop.registry.loading import Predictor, load_version
from monoloop.registry.model import ModelVersion
from monoloop.serving.inputs import Codec, codec_for
from monoloop.serving.router import CANARY, PRIMARY, SHADOW
from monoloop.serving.spec import DeploymentSpec
from monoloop.workspace import Workspace

LOAD_EVENT = "deployment.load"
log = logging.getLogger("monoloop.serving")


@dataclass
class NativeModel:
    """The version's own model behind its ONNX companion (`runtime: auto`): it answers the
    requests the graph is not trusted with, those with a missing value (model and graph may
    treat one differently), and those the graph fails on (a refusal should be the model's
    own). Loaded the first time one arrives, on a thread, while they wait (batching.py)."""

    load: Callable[[], Loaded]
    loaded: Loaded | None = None
    error: str | None = None
    loading: bool = False
    # What to call (on the event loop) once a load ends: each batcher whose jobs wait.
    listeners: list[Callable[[NativeModel], None]] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.loaded is not None:
            return "loaded"
        return f"failed: {self.error}" if self.error else "not loaded"


@dataclass(frozen=True)
class Loaded:
    """A version ready to answer: the predictor, how it takes input, and its classes."""

    predictor: Predictor
    codec: Codec
    runtime: str  # what answers: native, or onnx (the version's graph)
    loaded_at: float
    classes: list[Any] | None  # the order of the probability columns; None: no probabilities
    native: NativeModel | None = None  # set when the graph is the version's companion

    @property
    def version(self) -> ModelVersion:
        return self.predictor.version

    @property
    def name(self) -> str:
        return self.predictor.version.ref

    def run(self, model_input: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions and, where the model gives them, class probabilities."""
        model = self.predictor.model
        outputs = getattr(model, "outputs", None)
        if outputs is not None:  # an ONNX graph: both in one run
            labels, proba = outputs(model_input)
            return labels, proba if self.predictor.has_proba else None
        predictions = np.asarray(model.predict(model_input))
        if not self.predictor.has_proba:
            return predictions, None
        return predictions, np.asarray(model.predict_proba(model_input))


def load(ws: Workspace, mv: ModelVersion, runtime: str) -> Loaded:
    """The version loaded for a deployment's `runtime` (auto, native or onnx)."""
    predictor = load_version(ws, mv, runtime=runtime)
    native = None
    if runtime == "auto" and predictor.runtime == "onnx" and mv.format != "onnx":
        native = NativeModel(lambda: load(ws, mv, "native"))
    return Loaded(
        predictor,
        codec_for(predictor),
        predictor.runtime,
        time.time(),
        classes_of(predictor),
        native,
    )


def classes_of(predictor: Predictor) -> list[Any] | None:
    """The classes in the order of the probability columns; None without probabilities."""
    if not predictor.has_proba:
        return None
    signature = predictor.version.signature
    if signature is not None and signature.classes:
        return list(signature.classes)
    known = getattr(predictor.model, "classes_", None)
    return None if known is None else np.asarray(known).tolist()


@dataclass
class Slot:
    """One role of one deployment."""

    deployment: str
    role: str
    ref: str  # NAME@ALIAS
    runtime: str
    traffic: float  # the share of requests it answers (shadow: 0, it answers none)
    current: Loaded | None = None
    error: str | None = None  # the last failure to resolve or load, until one succeeds
    attempted: bool = False  # one load of it has finished, loaded or failed


def slots_for(name: str, spec: DeploymentSpec) -> list[Slot]:
    canary = spec.canary.traffic if spec.canary is not None else 0.0
    share = {PRIMARY: 1.0 - canary, CANARY: canary, SHADOW: 0.0}
    return [Slot(name, role, ref, spec.runtime, share[role]) for role, ref in spec.refs()]


@dataclass
class Follower:
    """Keeps every slot on the version its alias names (see the module's docstring)."""

    ws: Workspace
    slots: list[Slot]
    interval_s: float
    on_load: Callable[[Slot, Loaded], None] = lambda _slot, _loaded: None
    on_error: Callable[[Slot, str], None] = lambda _slot, _message: None
    first_pass: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monoloop-follower", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # never let the thread die: the next poll tries again
                log.exception("following the registry failed")
            self.first_pass.set()
            if self._stop.wait(self.interval_s):
                return

    def refresh(self) -> int:
        """One pass: resolve every alias, load and swap where it moved; returns the swaps."""
        from monoloop.registry.versions import resolve

        refs = {slot.ref for slot in self.slots}
        found: dict[str, ModelVersion | str] = {}
        with self.ws.db.read() as conn:
            for ref in sorted(refs):
                try:
                    found[ref] = resolve(conn, ref)
                except MonoloopError as exc:
                    found[ref] = exc.message
        loads: dict[tuple[str, int, str], Loaded | str] = {}
        swaps = 0
        for slot in self.slots:
            try:
                mv = found[slot.ref]
                if isinstance(mv, str):
                    if slot.role != PRIMARY and slot.current is not None:
                        # The canary or shadow alias was removed (a withdrawn canary): stop
                        # routing to it. A primary keeps answering with what it has.
                        log.info("deployment %s (%s): %s; not served any more",
                                 slot.deployment, slot.role, slot.ref)  # fmt: skip
                        slot.current = None
                    self._failed(slot, mv)
                    continue
                current = slot.current
                if current is not None and _same(current.version, mv):
                    slot.error = None
                    continue
                key = (mv.model, mv.version, slot.runtime)
                if key not in loads:
                    loads[key] = self._load(mv, slot.runtime, reuse=self.slots)
                loaded = loads[key]
                if isinstance(loaded, str):
                    self._failed(slot, loaded)
                    continue
                self._record(slot, loaded, current)
                slot.current = loaded  # the swap
                slot.error = None
                swaps += 1
                slot.attempted = True  # before the hook: it may ask whether all are ready
                self.on_load(slot, loaded)
            finally:
                slot.attempted = True  # loaded or failed: readiness waits for this
        return swaps

    def _load(self, mv: ModelVersion, runtime: str, reuse: Iterable[Slot]) -> Loaded | str:
        for other in reuse:
            current = other.current
            if current is not None and other.runtime == runtime and _same(current.version, mv):
                return current
        try:
            return load(self.ws, mv, runtime)
        except MonoloopError as exc:
            return f"cannot load {mv.ref}: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        except Exception as exc:  # a model library failing on its own bytes
            return f"cannot load {mv.ref}: {type(exc).__name__}: {exc}"

    def _failed(self, slot: Slot, message: str) -> None:
        if slot.error != message:
            keeps = f"; {slot.current.name} keeps answering" if slot.current else ""
            log.warning("deployment %s (%s): %s%s", slot.deployment, slot.role, message, keeps)
        slot.error = message
        slot.attempted = True
        self.on_error(slot, message)

    def _record(self, slot: Slot, loaded: Loaded, previous: Loaded | None) -> None:
        """The ledger's `deployment.load`: this process now answers with this version."""
        payload = {
            "role": slot.role,
            "ref": slot.ref,
            "model": loaded.version.model,
            "version": loaded.version.version,
            "previous": previous.version.version if previous is not None else None,
            "runtime": slot.runtime,
            "served": loaded.runtime,  # what answers: native, or onnx (and which bytes)
            "object_id": loaded.predictor.object_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        try:
            with self.ws.db.write() as conn:
                self.ws.record(conn, LOAD_EVENT, slot.deployment, payload)
        except Exception as exc:  # an unwritable DB must not stop the new version answering
            log.warning("could not record %s for %s: %s", LOAD_EVENT, slot.deployment, exc)


def _same(a: ModelVersion, b: ModelVersion) -> bool:
    return a.model == b.model and a.version == b.version
