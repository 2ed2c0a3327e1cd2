"""The `policies:` part of monoloop.yaml: what the controller does when a monitor fires.

policies:
  churn-retrain:
    deployment: churn-api             # whose monitor results trigger it
    on: [drift, decay]                # which of that monitor's checks
    retrain: {pipeline: train}        # re-run (forced); it must register a new version
    challenger_alias: challenger      # the deployment's canary serves MODEL@challenger
    canary: {requests: 200, minutes: 30, decay: {metric: accuracy, min: 0.7}}
    cooldown_minutes: 60              # after a cycle ends, no new one for this long
    max_retrains_per_day: 3           # in any 24 hours
    alerts: {webhook: "https://hooks.example.com/..."}   # default: the monitor's

Imports only pydantic and the standard library: the config embeds it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monoloop.monitoring.spec import AlertSpec, Check, DecaySpec, DriftSpec, MonitorSpec

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrainSpec(_Strict):
    pipeline: str = Field(description="the pipeline that trains and registers the model")
    force: Literal["all", "sources"] = Field(
        default="all",
        description="all: re-run every stage; sources: re-run the stages that read outside "
        "data (no upstream stage), and the rest only if their inputs changed",
    )


class CanarySpec(_Strict):
    """How long the challenger serves the deployment's canary share, and how it is judged.

    It is judged once `requests` canary predictions are logged or `minutes` have passed,
    whichever comes first, by the deployment's drift and decay checks on the canary rows;
    `drift` or `decay` here replace the monitor's for the canary (null: not checked)."""

    requests: int = Field(default=200, ge=1, description="judge after this many predictions")
    minutes: float = Field(default=30, gt=0, description="or after this long")
    min_rows: int = Field(
        default=50, ge=1, description="fewer canary predictions when judged: rolled back"
    )
    drift: DriftSpec | None = None
    decay: DecaySpec | None = None

    def checks(self, monitor: MonitorSpec) -> tuple[DriftSpec | None, DecaySpec | None]:
        """The drift and decay checks of the canary: its own where set, else the monitor's."""
        drift = self.drift if "drift" in self.model_fields_set else monitor.drift
        decay = self.decay if "decay" in self.model_fields_set else monitor.decay
        return drift, decay


class PolicySpec(_Strict):
    deployment: str = Field(pattern=_NAME)
    on: list[Check] = Field(min_length=1, description="the monitor checks that trigger it")
    retrain: RetrainSpec
    challenger_alias: str = Field(default="challenger", pattern=_NAME)
    canary: CanarySpec | None = Field(
        default=None, description="null: promote straight after the gates pass"
    )
    cooldown_minutes: float = Field(default=60, ge=0)
    max_retrains_per_day: int = Field(default=3, ge=1)
    retrain_timeout_minutes: float = Field(
        default=180, gt=0, description="a retrain running longer is taken as crashed"
    )
    alerts: AlertSpec | None = Field(default=None, description="default: the monitor's")

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 (PyYAML) reads a bare `on:` key as the boolean true.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = dict(data)
            data["on"] = data.pop(True)
        return data


def check_policies(
    policies: dict[str, PolicySpec],
    *,
    monitors: dict[str, MonitorSpec],
    deployments: dict[str, Any],
    pipelines: set[str],
) -> None:
    """ValueError naming the first policy that refers to something missing or unsound."""
    owner: dict[str, str] = {}
    for name, policy in policies.items():
        where = f"policies.{name}"
        if not _re_name(name):
            raise ValueError(f"policy name {name!r} must be letters, digits, '.', '_' or '-'")
        dep = deployments.get(policy.deployment)
        if dep is None:
            known = ", ".join(sorted(deployments)) or "none are configured"
            raise ValueError(f"{where}.deployment: no deployment {policy.deployment!r} ({known})")
        if policy.deployment in owner:
            raise ValueError(
                f"{where}: deployment {policy.deployment!r} already has policy "
                f"{owner[policy.deployment]!r}; one policy per deployment"
            )
        owner[policy.deployment] = name
        monitor = monitors.get(policy.deployment)
        if monitor is None:
            raise ValueError(
                f"{where}: deployment {policy.deployment!r} has no monitor to trigger it; "
                f"add monitors.{policy.deployment}"
            )
        for check in policy.on:
            if getattr(monitor, check) is None:
                raise ValueError(
                    f"{where}.on: {check!r}, but monitors.{policy.deployment} has no {check} check"
                )
        if policy.retrain.pipeline not in pipelines:
            known = ", ".join(sorted(pipelines)) or "none are configured"
            raise ValueError(
                f"{where}.retrain.pipeline: no pipeline {policy.retrain.pipeline!r} ({known})"
            )
        model, _, alias = dep.model.partition("@")
        if alias == policy.challenger_alias:
            raise ValueError(
                f"{where}.challenger_alias: {alias!r} is the alias the deployment serves; "
                "the challenger needs an alias of its own"
            )
        if policy.canary is not None:
            wanted = f"{model}@{policy.challenger_alias}"
            if dep.canary is None or dep.canary.model != wanted:
                raise ValueError(
                    f"{where}.canary: deployment {policy.deployment!r} must serve {wanted} as "
                    f"its canary (deployments.{policy.deployment}.canary: "
                    f"{{model: {wanted}, traffic: 0.1}})"
                )


def _re_name(name: str) -> bool:
    import re

    return re.match(_NAME, name) is not None
