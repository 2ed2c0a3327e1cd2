"""Response shapes, for the OpenAPI schema: each is the `to_dict()` of a domain object
(the JSON `--json` prints). Routes return those dicts as they are; a test checks real
responses against these models, so the documentation cannot drift from the data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Number = float | str | None
"""A float; a non-finite one is text ("nan", "inf") or null."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Out):
    error: str
    message: str
    hint: str | None


class RunOut(_Out):
    id: str
    name: str | None
    pipeline: str | None
    stage: str | None
    status: str
    start: str
    end: str | None
    duration_s: float | None
    git_commit: str | None
    git_dirty: bool | None
    python: str | None
    packages_hash: str | None
    actor: str | None
    error: str | None
    log_id: str | None
    params: dict[str, Any]
    metrics: dict[str, Number]
    tags: dict[str, str]
    inputs: dict[str, str]
    outputs: dict[str, str]
    artifacts: dict[str, str]
    artifact_kinds: dict[str, str]


class RunCreated(_Out):
    id: str


class PointOut(_Out):
    step: int
    value: Number
    timestamp: float


class ObjectOut(_Out):
    id: str
    size: int


class MissingOut(_Out):
    missing: list[str]


class ModelOut(_Out):
    name: str
    description: str | None
    latest: int
    aliases: dict[str, int]


class VersionOut(_Out):
    model: str
    version: int
    created: str
    actor: str
    format: str
    flavor: str | None
    object_id: str
    size: int
    trusted: bool
    trusted_by: str | None
    run_id: str | None
    git_commit: str | None
    task: str | None
    target: str | None
    signature: dict[str, Any] | None
    metrics: dict[str, Number]
    inputs: dict[str, str]
    importance: list[dict[str, Any]] | None
    card_fields: dict[str, str]
    profile_id: str | None
    holdout_id: str | None
    card_id: str
    companion_id: str | None
    companion: dict[str, Any] | None
    aliases: list[str]


class MoveOut(_Out):
    model: str
    alias: str
    version: int | None
    previous: int | None
    time: str
    actor: str
    action: str
    reason: str | None
    forced: bool


class GateOut(_Out):
    gate: str
    kind: str
    status: str
    detail: str
    data: dict[str, Any]


class CheckOut(_Out):
    model: str
    version: int
    against: str | None
    reference_version: int | None
    passed: bool
    results: list[GateOut]
    metrics: dict[str, Number]
    reference_metrics: dict[str, Number] | None
    importance: list[dict[str, Any]]


class PromotionOut(_Out):
    move: MoveOut
    check: CheckOut


class CardOut(_Out):
    card: str


class EventOut(_Out):
    seq: int
    time: str
    actor: str
    kind: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class LineageOut(_Out):
    model: str
    version: int
    data: dict[str, str]
    runs: list[dict[str, Any]]
    commit: str | None
    aliases: list[str]
    deployments: list[str]
    events: list[EventOut]


class ChainOut(_Out):
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    anchors_checked: list[str]


class TokenOut(_Out):
    id: str
    name: str
    scope: str
    project: str | None
    status: str
    created: str
    created_by: str
    expires: str | None
    last_used: str | None
    revoked: str | None
    revoked_by: str | None


class TokenCreated(TokenOut):
    token: str


class WhoAmI(_Out):
    name: str
    scope: str
    project: str | None
    token_id: str | None


class Health(_Out):
    status: str
    version: str
