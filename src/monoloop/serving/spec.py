"""The `deployments:` part of monoloop.yaml: what each HTTP endpoint serves.

deployments:
  churn-api:
    model: churn@champion                             # what answers
    canary: {model: churn@challenger, traffic: 0.1}   # a sticky share of callers
    shadow: churn@shadow                              # mirrored, logged, never returned
    runtime: auto                                     # or native, or onnx

serving:                      # how `monoloop serve` runs them (every key optional)
  poll_interval_s: 2          # how often each process re-resolves the aliases
  max_batch_rows: 1024        # the largest micro-batch handed to one predict call
  max_body_bytes: 16777216
  prediction_log: {max_buffered_rows: 200000, flush_interval_s: 1, flush_rows: 20000}
  metrics: {flush_interval_s: 5, retention_days: 14}   # per-minute counters in the DB
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_ALIAS_REF = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}@[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanarySpec(_Strict):
    model: str = Field(pattern=_ALIAS_REF, description="NAME@ALIAS, e.g. churn@challenger")
    traffic: float = Field(gt=0, lt=1, description="share of callers it answers, e.g. 0.1")


class DeploymentSpec(_Strict):
    model: str = Field(pattern=_ALIAS_REF, description="NAME@ALIAS it serves, e.g. churn@champion")
    canary: CanarySpec | None = None
    shadow: str | None = Field(default=None, pattern=_ALIAS_REF)
    runtime: Literal["auto", "native", "onnx"] = Field(
        default="auto",
        description="auto: the version's verified ONNX companion when it has one, else its "
        "own format; native: always its own format (scikit-learn for skops); onnx: its ONNX "
        "graph (the version, its companion or its export)",
    )

    @model_validator(mode="after")
    def _roles_differ(self) -> DeploymentSpec:
        refs = [ref for _, ref in self.refs()]
        if len(set(refs)) != len(refs):
            raise ValueError("model, canary and shadow must name different aliases")
        return self

    def refs(self) -> list[tuple[str, str]]:
        """(role, NAME@ALIAS) for every model this deployment serves."""
        found = [("primary", self.model)]
        if self.canary is not None:
            found.append(("canary", self.canary.model))
        if self.shadow is not None:
            found.append(("shadow", self.shadow))
        return found


class PredictionLogSpec(_Strict):
    max_buffered_rows: int = Field(
        default=200_000,
        ge=1,
        description="predictions held in memory before they are written; beyond it new ones "
        "are dropped and counted (monoloop_predlog_dropped_rows_total)",
    )
    flush_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="write buffered predictions at least this often"
    )
    flush_rows: int = Field(
        default=20_000, ge=1, description="write as soon as this many predictions are buffered"
    )


class ServerMetricsSpec(_Strict):
    flush_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="how often a serving process writes its per-minute request counters to "
        "the DB (when it answered requests since the last write)",
    )
    retention_days: int = Field(
        default=14,
        ge=1,
        le=3660,
        description="per-minute counters older than this are deleted as new ones are written",
    )


class ServingConfig(_Strict):
    poll_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="how often a serving process re-resolves NAME@ALIAS to follow the registry",
    )
    max_batch_rows: int = Field(
        default=1024, ge=1, description="the most rows one micro-batched predict call gets"
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="larger request bodies get HTTP 413"
    )
    prediction_log: PredictionLogSpec = Field(default_factory=PredictionLogSpec)
    metrics: ServerMetricsSpec = Field(default_factory=ServerMetricsSpec)
