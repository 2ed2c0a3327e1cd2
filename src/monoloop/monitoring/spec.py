"""The `monitors:` part of monoloop.yaml: what to check on each deployment's logged predictions.

monitors:
  churn-api:                          # a deployment
    window: {last: 1000}              # the last N predictions; or {hours: 24}; or both
    min_rows: 200                     # fewer rows in the window: the checks are skipped
    drift: {psi: 0.2, ks: 0.1, share: 0.3}       # thresholds; null turns drift off
    decay: {metric: accuracy, min: 0.7}          # needs labels (`monoloop monitor labels`)
    importance: {top: 3}                         # needs labels: live vs training top-k
    alerts: {webhook: "https://hooks.example.com/T0/B0", retries: 3}

Imports only pydantic and the standard library: the config embeds it. The drift
thresholds become a `DriftConfig` (monitoring/report.py) when a monitor runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from monoloop.monitoring.report import DriftConfig

CHECKS = ("drift", "decay", "importance")
Check = Literal["drift", "decay", "importance"]
# Metrics a window of labelled predictions is scored with (registry/evaluation.py).
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "auc", "r2")
LOWER_IS_BETTER = ("mae", "rmse")
Metric = Literal["accuracy", "precision", "recall", "f1", "auc", "r2", "mae", "rmse"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSpec(_Strict):
    """Which logged predictions a check reads: the last `last`, those of the last `hours`,
    or the last `last` of the last `hours`."""

    last: int | None = Field(default=None, ge=1, le=10_000_000, description="the last N rows")
    hours: float | None = Field(default=None, gt=0, le=24 * 366, description="a time span")

    @model_validator(mode="after")
    def _one_bound(self) -> WindowSpec:
        if self.last is None and self.hours is None:
            raise ValueError("a window needs `last: N` (predictions) or `hours: H`, or both")
        return self

    def describe(self) -> str:
        parts = []
        if self.last is not None:
            parts.append(f"last {self.last}")
        if self.hours is not None:
            parts.append(f"{self.hours:g} h")
        return " of the ".join(parts)


class DriftSpec(_Strict):
    """Drift thresholds (see docs/monitoring.md); null turns one statistic off. The check
    fires when the share of drifted feature columns reaches `share`, or, with
    `prediction: true`, when the predictions themselves drift."""

    psi: float | None = Field(default=0.2, ge=0)
    ks: float | None = Field(default=0.1, ge=0)
    wasserstein: float | None = Field(default=0.1, ge=0)
    jensen_shannon: float | None = Field(default=0.1, ge=0)
    missing_rate: float | None = Field(default=0.05, ge=0)
    alpha: float = Field(default=0.05, gt=0, le=1, description="significance of the tests")
    share: float = Field(default=0.5, gt=0, le=1, description="data set drift share")
    prediction: bool = Field(default=True, description="prediction drift alone fires too")
    columns: list[str] | None = Field(
        default=None, min_length=1, description="features to check; null: all profiled ones"
    )

    @field_validator("psi", "ks", "wasserstein", "jensen_shannon", "missing_rate")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number, or null to turn it off")
        return value

    def to_config(self) -> DriftConfig:
        from monoloop.monitoring.report import DriftConfig

        return DriftConfig(
            psi=self.psi,
            ks=self.ks,
            wasserstein=self.wasserstein,
            jensen_shannon=self.jensen_shannon,
            missing_rate=self.missing_rate,
            alpha=self.alpha,
            drift_share=self.share,
        )


class DecaySpec(_Strict):
    """Performance on labelled predictions. Fires when the metric is below `min` (or above
    `max`, for errors such as mae), or worse than the version's registered value by more
    than `max_drop`."""

    metric: Metric = Field(description="accuracy, precision, recall, f1, auc, r2, mae or rmse")
    min: float | None = Field(default=None, description="fire below this (accuracy, auc, ...)")
    max: float | None = Field(default=None, description="fire above this (mae, rmse)")
    max_drop: float | None = Field(
        default=None, ge=0, description="fire when this much worse than at registration"
    )
    min_labels: int = Field(default=50, ge=1, description="fewer labelled rows: skipped")

    @model_validator(mode="after")
    def _sound(self) -> DecaySpec:
        if self.min is None and self.max is None and self.max_drop is None:
            raise ValueError(f"decay of {self.metric} needs a threshold: min, max or max_drop")
        if self.metric in LOWER_IS_BETTER and self.min is not None:
            raise ValueError(f"{self.metric} is an error (lower is better): use `max`, not `min`")
        if self.metric in HIGHER_IS_BETTER and self.max is not None:
            raise ValueError(f"{self.metric} is a score (higher is better): use `min`, not `max`")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.metric in HIGHER_IS_BETTER


class ImportanceSpec(_Strict):
    """Permutation importance on a live labelled window against the version's importance at
    registration: fires when the top `top` features are no longer the same set."""

    top: int = Field(default=3, ge=1, le=50)
    min_labels: int = Field(default=200, ge=10, description="fewer labelled rows: skipped")
    repeats: int = Field(default=3, ge=1, le=20, description="shuffles per feature")


class AlertSpec(_Strict):
    """Where a fired check is announced: always a log line; a webhook POST when set."""

    webhook: str | None = Field(default=None, description="URL that receives a JSON POST per alert")
    webhook_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the URL (keeps a secret URL out of Git)",
    )
    retries: int = Field(default=3, ge=0, le=10, description="after the first attempt")
    backoff_seconds: float = Field(
        default=1.0, gt=0, le=300, description="wait before the first retry; doubles each time"
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    repeat_minutes: float = Field(
        default=60, ge=0, description="while a check keeps firing, alert again after this long"
    )

    @field_validator("webhook")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"webhook {value!r} must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> AlertSpec:
        if self.webhook is not None and self.webhook_env is not None:
            raise ValueError("give the webhook as `webhook: URL` or `webhook_env: NAME`, not both")
        return self


class MonitorSpec(_Strict):
    """The checks of one deployment, run by `monoloop monitor run` and the controller."""

    window: WindowSpec = Field(default_factory=lambda: WindowSpec(last=1000))
    min_rows: int = Field(default=100, ge=1, description="fewer rows: the checks are skipped")
    drift: DriftSpec | None = Field(
        default_factory=DriftSpec, description="thresholds; null turns drift off"
    )
    decay: DecaySpec | None = None
    importance: ImportanceSpec | None = None
    alerts: AlertSpec | None = None

    @model_validator(mode="after")
    def _something(self) -> MonitorSpec:
        if self.drift is None and self.decay is None and self.importance is None:
            raise ValueError("a monitor needs at least one of drift, decay, importance")
        return self

    def checks(self) -> list[str]:
        return [c for c in CHECKS if getattr(self, c) is not None]


def check_monitors(monitors: dict[str, MonitorSpec], deployments: set[str]) -> None:
    """ValueError naming a monitor whose deployment is not in `deployments:`."""
    for name in monitors:
        if name not in deployments:
            known = ", ".join(sorted(deployments)) or "none are configured"
            raise ValueError(
                f"monitors.{name}: no deployment {name!r} (deployments: {known}); a monitor "
                "is keyed by the deployment whose predictions it checks"
            )
