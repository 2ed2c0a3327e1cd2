"""monoloop: one loop for code, data and models.

    import monoloop

    monoloop.data.add("data/raw.csv")                      # version data beside the code
    report = monoloop.validation.check(None, "data/raw.csv", "contracts/raw.yaml")

Importing `monoloop` is cheap: capabilities load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Subpackages reachable as attributes, loaded on first access.
_LAZY_MODULES = {"data", "validation", "errors"}

__all__ = ["__version__", "data", "errors", "validation"]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        module = importlib.import_module(f"monoloop.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'monoloop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
