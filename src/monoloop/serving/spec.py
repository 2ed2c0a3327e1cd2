"""The `deployments:` part of monoloop.yaml: what each HTTP endpoint serves.

deployments:
  churn-api:
    model: churn@champion                             # what answers
    canary: {model: churn@challenger, traffic: 0.1}   # a sticky share of callers
    shadow: churn@shadow                              # mirrored, logged, never returned
    runtime: auto                                     # or onnx
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
    runtime: Literal["auto", "onnx"] = Field(
        default="auto", description="auto: the version's own format; onnx: its ONNX export"
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
