"""Monitoring: reference profiles (pure computation, no DB, no files).

    from monoloop.monitoring import build_profile, ReferenceProfile

    profile = build_profile(train_df)                  # stored with the model version
    profile = ReferenceProfile.from_dict(stored)

The names are loaded on first use, so importing the package does not import pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monoloop.monitoring.profile import (
        CategoricalProfile,
        ColumnProfile,
        NumericProfile,
        ProfileError,
        ReferenceProfile,
        build_profile,
    )

_WHERE = {
    "CategoricalProfile": "profile",
    "ColumnProfile": "profile",
    "NumericProfile": "profile",
    "ProfileError": "profile",
    "ReferenceProfile": "profile",
    "build_profile": "profile",
}

__all__ = [
    "CategoricalProfile",
    "ColumnProfile",
    "NumericProfile",
    "ProfileError",
    "ReferenceProfile",
    "build_profile",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
