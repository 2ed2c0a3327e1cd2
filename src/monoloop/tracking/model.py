"""Runs as plain data, and the rules every logged key and value must follow.

Validation happens here, at the edge, so that a buffered SDK write can never fail later
in a background thread for a reason the caller could have been told about at once.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monoloop.errors import InvalidInput
from monoloop.tracking.tables import ID_LEN, KEY_LEN, VALUE_LEN

STATUSES = ("running", "finished", "failed", "killed")
FINAL_STATUSES = ("finished", "failed", "killed")
MIN_PREFIX = 6

_HEX = re.compile(r"[0-9a-f]+")
_BAD_KEY = re.compile(r"[\x00-\x1f\x7f]")


# Microseconds in the 8 leading hex digits: they wrap every 2**32 us (71.6 minutes).
_CLOCK_MASK = 0xFFFF_FFFF
_last_micros = 0


def new_run_id() -> str:
    """A fresh run id: the microsecond clock in its first 8 hex digits, 96 random bits after.

    Runs made one after another get neighbouring ids, so a batch of new runs lands on a few
    pages of every index keyed by run id instead of one page each (random ids touch them
    all). The leading digits are the clock's fast-moving low bits, so a short prefix (`runs
    list` shows 8 digits) still tells runs apart: successive ids of one thread differ there.
    The random bits keep ids unique across threads, processes and hosts.
    """
    global _last_micros
    micros = time.time_ns() // 1000
    # Strictly increasing within the process, even when the clock is stepped back.
    if micros <= _last_micros:
        micros = _last_micros + 1
    _last_micros = micros
    return run_id_at(micros, _entropy.take(12))


class _Entropy:
    """os.urandom, read 3 KiB at a time. Each read is a system call that gives up the GIL,
    and the SDK's writer thread, when busy, then keeps it for a whole switch interval: a
    read per run id slowed a loop of tiny runs by a fifth. A forked child starts afresh, so
    it never hands out the bytes its parent will."""

    SIZE = 3072

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.pool = b""
        self.at = 0

    def take(self, count: int) -> bytes:
        with self.lock:
            if self.at + count > len(self.pool):
                self.pool, self.at = os.urandom(max(self.SIZE, count)), 0
            start = self.at
            self.at += count
            return self.pool[start : self.at]


_entropy = _Entropy()
os.register_at_fork(after_in_child=_entropy.reset)


def run_id_at(micros: int, tail: bytes) -> str:
    """The run id made at `micros` (microseconds since the epoch) with 12 random bytes."""
    return f"{micros & _CLOCK_MASK:08x}{tail.hex()}"


def check_run_id(run_id: str) -> str:
    """A full run id: 32 lowercase hex digits."""
    if not isinstance(run_id, str) or len(run_id) != ID_LEN or not _HEX.fullmatch(run_id):
        raise InvalidInput(
            f"not a run id: {run_id!r}",
            hint=f"a run id is {ID_LEN} lowercase hex digits (see `monoloop runs list`)",
        )
    return run_id


def check_prefix(prefix: str) -> str:
    """A run id or a prefix of one that a person typed."""
    text = prefix.strip().lower()
    if len(text) < MIN_PREFIX or len(text) > ID_LEN or not _HEX.fullmatch(text):
        raise InvalidInput(
            f"not a run id or id prefix: {prefix!r}",
            hint=f"give at least {MIN_PREFIX} hex digits of the run id (see `monoloop runs list`)",
        )
    return text


def check_key(key: object, what: str = "key") -> str:
    if not isinstance(key, str) or not key or len(key) > KEY_LEN or _BAD_KEY.search(key):
        raise InvalidInput(
            f"invalid {what} {key!r}",
            hint=f"a {what} is 1-{KEY_LEN} characters with no control characters",
        )
    return key


def check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > VALUE_LEN:
        raise InvalidInput(
            f"{what} is {len(value)} characters, more than {VALUE_LEN}",
            hint="log long values as an artifact (run.log_artifact) instead",
        )
    return value


def check_metric(key: object, value: object) -> float:
    check_key(key, "metric key")
    if isinstance(value, bool | str | bytes):
        raise InvalidInput(f"metric {key!r} must be a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(f"metric {key!r} must be a number, got {value!r}") from None


def check_step(step: object) -> int | None:
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**63:
        raise InvalidInput(f"step must be a non-negative integer, got {step!r}")
    return step


@dataclass(frozen=True, slots=True)
class Param:
    """A param as stored: its kind (s, n, j), its text, and its number when it is one."""

    kind: str
    text: str
    num: float | None

    @classmethod
    def of(cls, key: str, value: Any) -> Param:
        check_key(key, "param key")
        if isinstance(value, str):
            return cls("s", check_text(value, f"param {key!r}"), None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = repr(value) if isinstance(value, float) else str(value)
            num = float(value) if math.isfinite(value) else None
            return cls("n", check_text(text, f"param {key!r}"), num)
        if hasattr(value, "item") and callable(value.item):  # numpy scalars
            return cls.of(key, value.item())
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise InvalidInput(
                f"param {key!r} is a {type(value).__name__}, which has no JSON form",
                hint="log strings, numbers, booleans, None, or lists and dicts of them",
            ) from None
        return cls("j", check_text(text, f"param {key!r}"), None)

    def value(self) -> Any:
        if self.kind == "s":
            return self.text
        if self.kind == "n":
            # An int was stored as str(), a float as repr(): "3", "-3" vs "0.5", "1e-05", "inf".
            text = self.text
            return int(text) if text.lstrip("-").isdigit() else float(text)
        return json.loads(self.text)


def jsonable(value: Any) -> Any:
    """A value as it can appear in canonical JSON (an audit payload): non-finite floats as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str | None) -> float | None:
    """The timestamp `iso` wrote (to the microsecond)."""
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def number(value: Any) -> float:
    """A float read back from JSON: non-finite ones travel as text ("nan") or null."""
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Artifact:
    name: str
    id: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "kind": self.kind}


@dataclass
class Run:
    id: str
    name: str | None
    pipeline: str | None
    stage: str | None
    status: str
    start: float
    end: float | None
    git_commit: str | None
    git_dirty: bool | None
    python: str | None
    packages_hash: str | None
    actor: str | None = None
    error: str | None = None
    log_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "pipeline": self.pipeline,
            "stage": self.stage,
            "status": self.status,
            "start": iso(self.start),
            "end": iso(self.end),
            "duration_s": self.duration,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "python": self.python,
            "packages_hash": self.packages_hash,
            "actor": self.actor,
            "error": self.error,
            "log_id": self.log_id,
            "params": {k: jsonable(v) for k, v in self.params.items()},
            "metrics": {k: jsonable(v) for k, v in self.metrics.items()},
            "tags": dict(self.tags),
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "artifacts": {k: a.id for k, a in self.artifacts.items()},
            "artifact_kinds": {k: a.kind for k, a in self.artifacts.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        """The run `to_dict` described (a non-finite float param comes back as its text)."""
        kinds = d.get("artifact_kinds", {})
        start = from_iso(d["start"])
        assert start is not None
        return cls(
            id=d["id"],
            name=d["name"],
            pipeline=d["pipeline"],
            stage=d["stage"],
            status=d["status"],
            start=start,
            end=from_iso(d["end"]),
            git_commit=d["git_commit"],
            git_dirty=d["git_dirty"],
            python=d["python"],
            packages_hash=d["packages_hash"],
            actor=d["actor"],
            error=d["error"],
            log_id=d["log_id"],
            params=dict(d["params"]),
            metrics={k: number(v) for k, v in d["metrics"].items()},
            tags=dict(d["tags"]),
            inputs=dict(d["inputs"]),
            outputs=dict(d["outputs"]),
            artifacts={k: Artifact(k, v, kinds.get(k, "file")) for k, v in d["artifacts"].items()},
        )
