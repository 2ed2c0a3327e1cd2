"""monoloop: one loop for code, data and models.

    import monoloop

    with monoloop.start_run(name="baseline") as run:      # tracked experiment
        run.log_params({"lr": 0.1})
        run.log_metric("acc", 0.93)
    monoloop.data.add("data/raw.csv")                       # version data beside the code

Importing `monoloop` is cheap: the SDK and capabilities load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from monoloop import data, errors, validation
    from monoloop.registry.sdk import load_model, register_model
    from monoloop.tracking.sdk import (
        RunHandle,
        active_run,
        flush,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        set_tags,
        start_run,
    )

__all__ = [
    "RunHandle",
    "__version__",
    "active_run",
    "data",
    "errors",
    "flush",
    "load_model",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "register_model",
    "set_tags",
    "start_run",
    "validation",
]

_MODULES = frozenset({"data", "errors", "validation"})
_REGISTRY = frozenset({"load_model", "register_model"})
_SDK = frozenset(__all__) - _MODULES - _REGISTRY - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _REGISTRY:
        from monoloop.registry import sdk as registry_sdk

        return getattr(registry_sdk, name)
    if name in _SDK:
        from monoloop.tracking import sdk

        return getattr(sdk, name)
    if name in _MODULES:
        return importlib.import_module(f"monoloop.{name}")
    raise AttributeError(f"module 'monoloop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
