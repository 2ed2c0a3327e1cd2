"""What a drift comparison decides with, and what it finds: plain data, ready for JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from monoloop.errors import InvalidInput
from monoloop.monitoring.profile import Kind

# Statistic names, as they appear in a ColumnDrift's `statistics` and `by`.
NUMERIC_STATISTICS = ("psi", "ks", "ks_pvalue", "wasserstein")
CATEGORICAL_STATISTICS = ("psi", "chi_square", "chi_square_pvalue", "jensen_shannon", "unseen")
MISSING_STATISTICS = ("missing_rate", "reference_missing_rate", "missing_pvalue")


@dataclass(frozen=True)
class DriftConfig:
    """When a column counts as drifted. A column drifts by a statistic when the change is
    both real and large:

    - real: the column's test rejects "same distribution" at `alpha` (Kolmogorov-Smirnov
      for numeric columns, chi-square for categorical ones, a two-proportion z-test for
      the missing rate). On small windows this keeps noise from firing.
    - large: the statistic reaches its threshold. On large windows a test rejects on
      differences nobody cares about (at 1M rows KS rejects a 0.01 sd shift); the
      thresholds keep those quiet.

    A threshold of None turns that statistic off. The data set drifts when the share of
    drifted columns reaches `drift_share`.
    """

    psi: float | None = 0.2  # population stability index, numeric bins or categories
    ks: float | None = 0.1  # Kolmogorov-Smirnov statistic: largest gap between the CDFs
    wasserstein: float | None = 0.1  # Wasserstein-1 distance in reference standard deviations
    jensen_shannon: float | None = 0.1  # Jensen-Shannon distance (base 2) of the frequencies
    missing_rate: float | None = 0.05  # absolute change in the share of missing values
    alpha: float = 0.05
    drift_share: float = 0.5

    def __post_init__(self) -> None:
        for name in ("psi", "ks", "wasserstein", "jensen_shannon", "missing_rate"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise InvalidInput(
                    f"drift threshold {name} must be a number >= 0, not {value!r}",
                    hint=f"set {name} to a threshold, or to None to turn it off",
                )
        for name in ("alpha", "drift_share"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1):
                raise InvalidInput(
                    f"{name} must be above 0 and at most 1, not {value!r}",
                    hint="alpha is a significance level (0.05); drift_share a share (0.5)",
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ColumnDrift:
    """One column of a window against its reference."""

    column: str
    kind: Kind
    rows: int  # rows in the window
    count: int  # values that are not missing
    statistics: dict[str, float | None]  # None: not computable (no values on one side)
    by: tuple[str, ...]  # the statistics that fired, in the order of `statistics`
    unseen_values: tuple[str, ...] = ()  # most frequent categories the reference never had

    @property
    def drifted(self) -> bool:
        return bool(self.by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "drifted": self.drifted,
            "by": list(self.by),
            "rows": self.rows,
            "count": self.count,
            "statistics": dict(self.statistics),
            "unseen_values": list(self.unseen_values),
        }


@dataclass(frozen=True)
class DriftReport:
    """A window against a reference profile: every column, and the data set's verdict."""

    rows: int
    reference_rows: int
    columns: tuple[ColumnDrift, ...]
    config: DriftConfig

    def __getitem__(self, column: str) -> ColumnDrift:
        for drift in self.columns:
            if drift.column == column:
                return drift
        raise KeyError(column)

    @property
    def drifted(self) -> list[str]:
        """The drifted columns, in the profile's order."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def drifted_share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.drifted_share >= self.config.drift_share

    def summary(self) -> str:
        verdict = "DRIFT" if self.dataset_drift else "no data set drift"
        names = ", ".join(self.drifted[:10]) + (" ..." if len(self.drifted) > 10 else "")
        return f"{verdict}: {len(self.drifted)}/{len(self.columns)} columns drifted" + (
            f" ({names})" if names else ""
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "dataset_drift": self.dataset_drift,
            "drifted_share": self.drifted_share,
            "drifted": self.drifted,
            "summary": self.summary(),
            "columns": {c.column: c.to_dict() for c in self.columns},
            "config": self.config.to_dict(),
        }
