"""The registry's part of monoloop.yaml: `registry:` settings and `models:` with their gates.

registry:
  git_tags: true                # tag model/NAME/vN and model/NAME@ALIAS in Git
  promoters: [lead@example.com] # who may force a promotion or trust a pickle
models:
  churn:
    gates:
      - metric: "auc >= 0.8"
      - metric: "auc >= champion.auc - 0.005"
      - slice: region
        rule: "accuracy >= 0.7"
      - latency_p99_ms: 20
      - max_size_mb: 50
      - data_validated: true
      - card_fields: [intended_use, owner]
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monoloop.registry.rules import RuleError, parse_rule

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
GATE_KINDS = (
    "metric",
    "slice",
    "latency_p99_ms",
    "max_size_mb",
    "data_validated",
    "card_fields",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(_Strict):
    """One gate: exactly one of the rule kinds below (`rule` goes with `slice`)."""

    metric: str | None = Field(default=None, description="e.g. 'auc >= champion.auc - 0.005'")
    slice: str | None = Field(default=None, description="a column of the holdout set")
    rule: str | None = Field(default=None, description="with slice: e.g. 'accuracy >= 0.7'")
    latency_p99_ms: float | None = Field(default=None, gt=0)
    batch_rows: int = Field(default=1, ge=1, le=100_000, description="rows per latency call")
    max_size_mb: float | None = Field(default=None, gt=0)
    data_validated: bool | None = None
    card_fields: list[str] | None = None

    @field_validator("metric", "rule")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_rule(value)
            except RuleError as exc:
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Gate:
        kinds = [k for k in GATE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a gate has exactly one of " + ", ".join(GATE_KINDS) + f"; found {kinds or 'none'}"
            )
        if (self.slice is None) != (self.rule is None):
            raise ValueError("`slice: COLUMN` and `rule: ...` go together")
        if self.rule is not None and parse_rule(self.rule).aliases:
            raise ValueError("a slice rule compares the slice with numbers, not with an alias")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in GATE_KINDS if getattr(self, k) is not None)

    def describe(self) -> str:
        if self.metric is not None:
            return self.metric
        if self.slice is not None:
            return f"each {self.slice}: {self.rule}"
        if self.latency_p99_ms is not None:
            return f"p99 latency <= {self.latency_p99_ms:g} ms ({self.batch_rows} rows/call)"
        if self.max_size_mb is not None:
            return f"size <= {self.max_size_mb:g} MB"
        if self.data_validated is not None:
            return "training data passed validation"
        return "card has " + ", ".join(self.card_fields or [])

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=True) | {"kind": self.kind}


class ModelSpec(_Strict):
    description: str | None = None
    gates: list[Gate] = Field(default_factory=list, description="rules a version must pass")


class RegistryConfig(_Strict):
    git_tags: bool = Field(
        default=False, description="mirror versions and aliases as annotated Git tags"
    )
    tag_prefix: str = Field(default="model", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    promoters: list[str] = Field(
        default_factory=list,
        description="actors allowed to force promotions and trust pickles; empty: everyone",
    )
