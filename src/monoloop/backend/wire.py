"""The JSON the HTTP backend sends and the server reads.

The pydantic models are the server's request bodies (and so the OpenAPI schema); their
`to_*` methods turn a body into domain objects through the service layer's own checks.
The functions below them turn domain objects into those bodies, for the HTTP backend.
Non-finite floats travel as text ("nan", "inf"), which pydantic reads back as floats.
Responses are the domain objects' `to_dict()`, read back with their `from_dict()`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from monoloop.hashing import parse_id
from monoloop.registry.model import VersionDraft
from monoloop.tracking.environment import Environment
from monoloop.tracking.model import Artifact, check_key, check_metric, check_step, check_text
from monoloop.tracking.writes import Batch, NewRun


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvIn(_Body):
    """What the run's code ran on, as the client saw it."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    python: str
    packages_hash: str


class RunCreate(_Body):
    """A run to start. The server fills `start` and records no environment when absent."""

    id: str | None = Field(default=None, description="32 hex digits; default: a new uuid4")
    name: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict, description="path -> content id")
    start: float | None = Field(default=None, description="Unix time; default: now")
    env: EnvIn | None = None

    def to_new_run(self, actor: str) -> NewRun:
        from monoloop.tracking.service import new_run

        env = self.env
        return new_run(
            actor,
            run_id=self.id,
            name=self.name,
            pipeline=self.pipeline,
            stage=self.stage,
            tags=self.tags,
            params=self.params,
            inputs=self.inputs,
            env=Environment(env.git_commit, env.git_dirty, env.python, env.packages_hash)
            if env is not None
            else None,
            start=self.start,
        )


class MetricPoint(_Body):
    key: str
    value: float
    step: int | None = Field(default=None, description="default: the key's next step")
    timestamp: float | None = Field(default=None, description="Unix time; default: now")


class ArtifactIn(_Body):
    """An object already uploaded (PUT /v1/objects/{id}), attached to the run by name."""

    name: str
    id: str
    kind: Literal["file", "dir"] = "file"


class FinishIn(_Body):
    status: Literal["finished", "failed", "killed"] = "finished"
    end: float | None = Field(default=None, description="Unix time; default: now")
    outputs: dict[str, str] = Field(default_factory=dict, description="path -> content id")
    log_id: str | None = None
    error: str | None = None


class RunWrites(_Body):
    """Writes to one run, applied in one transaction: params, tags, metric points,
    artifacts, then the finish."""

    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: list[MetricPoint] = Field(default_factory=list)
    artifacts: list[ArtifactIn] = Field(default_factory=list)
    finish: FinishIn | None = None

    def add_to(self, batch: Batch, run_id: str) -> None:
        from monoloop.tracking.model import check_run_id
        from monoloop.tracking.service import check_params, check_tags, make_finish

        check_run_id(run_id)
        if self.params:
            batch.add_params(run_id, check_params(self.params))
        if self.tags:
            batch.add_tags(run_id, check_tags(self.tags))
        now = time.time()
        for p in self.metrics:
            batch.points.append(
                (
                    run_id,
                    check_key(p.key, "metric key"),
                    check_step(p.step),
                    check_metric(p.key, p.value),
                    now if p.timestamp is None else p.timestamp,
                )
            )
        for a in self.artifacts:
            name = check_text(a.name, "artifact name")
            batch.add_artifact(run_id, Artifact(name, parse_id(a.id), a.kind))
        if self.finish is not None:
            f = self.finish
            batch.add_finish(run_id, make_finish(f.status, f.outputs, f.log_id, f.error, f.end))


class BatchIn(_Body):
    """New runs and writes to any runs, in one transaction: what the SDK sends per flush."""

    runs: list[RunCreate] = Field(default_factory=list)
    writes: dict[str, RunWrites] = Field(default_factory=dict, description="by run id")

    def to_batch(self, actor: str) -> Batch:
        batch = Batch()
        for run in self.runs:
            batch.add_run(run.to_new_run(actor))
        for run_id, writes in self.writes.items():
            writes.add_to(batch, run_id)
        return batch


class VersionCreate(_Body):
    """A prepared version (see registry.model.VersionDraft) whose objects are uploaded."""

    format: Literal["skops", "onnx", "pickle"]
    flavor: str | None = None
    object_id: str
    trusted: bool = Field(default=False, description="a pickle: needs the promote scope")
    run_id: str | None = None
    git_commit: str | None = None
    task: str | None = None
    target: str | None = None
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)
    importance: list[dict[str, Any]] | None = None
    card_fields: dict[str, str] = Field(default_factory=dict)
    profile_id: str | None = None
    holdout_id: str | None = None
    companion_id: str | None = Field(
        default=None, description="the ONNX companion, uploaded (registry/companion.py)"
    )
    companion: dict[str, Any] | None = Field(
        default=None, description="the note of the companion check, or why there is none"
    )
    description: str | None = None

    def to_draft(self) -> VersionDraft:
        fields = self.model_dump(exclude={"description"})
        return VersionDraft(**fields)


class AliasSet(_Body):
    version: int = Field(ge=1)


class PromoteIn(_Body):
    version: int | None = Field(default=None, ge=1, description="default: the latest")
    to: str = Field(description="the alias to move, e.g. champion")
    force: bool = Field(default=False, description="past failed gates; needs a reason")
    reason: str | None = None


class RollbackIn(_Body):
    alias: str
    reason: str | None = None


class CheckIn(_Body):
    against: str | None = Field(default="champion", description="the alias to compare with")


class TrustIn(_Body):
    reason: str


class TokenCreate(_Body):
    name: str
    scope: Literal["read", "write", "promote", "admin"]
    project: str | None = None
    expires: str | None = Field(default=None, description="e.g. 30d, 12h, 2w; default: never")


class ObjectIds(_Body):
    ids: list[str] = Field(max_length=100_000)


# Domain objects into bodies, for the HTTP backend ------------------------------------------


def num(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def new_run_body(new: NewRun) -> dict[str, Any]:
    env = new.env
    return {
        "id": new.id,
        "name": new.name,
        "pipeline": new.pipeline,
        "stage": new.stage,
        "params": {k: _param(p.value()) for k, p in new.params.items()},
        "tags": new.tags,
        "inputs": new.inputs,
        "start": new.start,
        "env": None
        if env is None
        else {
            "git_commit": env.git_commit,
            "git_dirty": env.git_dirty,
            "python": env.python,
            "packages_hash": env.packages_hash,
        },
    }


def batch_body(batch: Batch) -> dict[str, Any]:
    writes: dict[str, dict[str, Any]] = {}

    def of(run_id: str) -> dict[str, Any]:
        return writes.setdefault(run_id, {})

    for run_id, params in batch.params.items():
        of(run_id)["params"] = {k: _param(p.value()) for k, p in params.items()}
    for run_id, tags in batch.tags.items():
        of(run_id)["tags"] = tags
    for run_id, key, step, value, ts in batch.points:
        point = {"key": key, "value": num(value), "step": step, "timestamp": ts}
        of(run_id).setdefault("metrics", []).append(point)
    for run_id, items in batch.artifacts.items():
        of(run_id)["artifacts"] = [a.to_dict() for a in items.values()]
    for run_id, f in batch.finishes.items():
        of(run_id)["finish"] = {
            "status": f.status,
            "end": f.end,
            "outputs": f.outputs,
            "log_id": f.log_id,
            "error": f.error,
        }
    return {"runs": [new_run_body(r) for r in batch.new_runs.values()], "writes": writes}


def draft_body(draft: VersionDraft, description: str | None) -> dict[str, Any]:
    body = dataclasses.asdict(draft)
    body["metrics"] = {k: num(v) for k, v in draft.metrics.items()}
    body["description"] = description
    return body


def _param(value: Any) -> Any:
    return num(value) if isinstance(value, float) else value
