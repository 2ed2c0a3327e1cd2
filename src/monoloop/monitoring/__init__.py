"""Monitoring: reference profiles and drift statistics (pure computation, no DB, no files).

    from monoloop.monitoring import build_profile, compare, ReferenceProfile

    profile = build_profile(train_df)                  # stored with the model version
    report = compare(ReferenceProfile.from_dict(stored), window_df)
    report.drifted, report.dataset_drift, report.to_dict()

The names are loaded on first use, so importing the package does not import pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monoloop.monitoring.drift import (
        WindowError,
        compare,
        compare_predictions,
        profile_predictions,
    )
    from monoloop.monitoring.profile import (
        CategoricalProfile,
        ColumnProfile,
        NumericProfile,
        ProfileError,
        ReferenceProfile,
        build_profile,
    )
    from monoloop.monitoring.report import ColumnDrift, DriftConfig, DriftReport

_WHERE = {
    "WindowError": "drift",
    "compare": "drift",
    "compare_predictions": "drift",
    "profile_predictions": "drift",
    "CategoricalProfile": "profile",
    "ColumnProfile": "profile",
    "NumericProfile": "profile",
    "ProfileError": "profile",
    "ReferenceProfile": "profile",
    "build_profile": "profile",
    "ColumnDrift": "report",
    "DriftConfig": "report",
    "DriftReport": "report",
}

__all__ = [
    "CategoricalProfile",
    "ColumnDrift",
    "ColumnProfile",
    "DriftConfig",
    "DriftReport",
    "NumericProfile",
    "ProfileError",
    "ReferenceProfile",
    "WindowError",
    "build_profile",
    "compare",
    "compare_predictions",
    "profile_predictions",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
