"""Data contracts and PII checks.

    from monoloop.validation import check, infer, scan_pii, fix, load_contract

    report = check(ws, "data/customers.csv", "customers")
    print(report.summary()); report.raise_for_errors()

The names are loaded on first use: the workspace config imports `contract` (pydantic
only) and must not pay for pandas and pandera.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monoloop.validation.contract import Contract, ContractError
    from monoloop.validation.pseudonymize import PiiKey, PiiKeyMissing
    from monoloop.validation.readers import DataReadError
    from monoloop.validation.results import (
        PiiFinding,
        PiiScan,
        RuleResult,
        ValidationFailed,
        ValidationReport,
    )
    from monoloop.validation.service import (
        ContractRef,
        FixResult,
        InferResult,
        check,
        fix,
        infer,
        load_contract,
        load_data,
        scan_pii,
    )

_WHERE = {
    "Contract": "contract",
    "ContractError": "contract",
    "PiiKey": "pseudonymize",
    "PiiKeyMissing": "pseudonymize",
    "DataReadError": "readers",
    "PiiFinding": "results",
    "PiiScan": "results",
    "RuleResult": "results",
    "ValidationFailed": "results",
    "ValidationReport": "results",
    "ContractRef": "service",
    "FixResult": "service",
    "InferResult": "service",
    "check": "service",
    "fix": "service",
    "infer": "service",
    "load_contract": "service",
    "load_data": "service",
    "scan_pii": "service",
}

__all__ = [
    "Contract",
    "ContractError",
    "ContractRef",
    "DataReadError",
    "FixResult",
    "InferResult",
    "PiiFinding",
    "PiiKey",
    "PiiKeyMissing",
    "PiiScan",
    "RuleResult",
    "ValidationFailed",
    "ValidationReport",
    "check",
    "fix",
    "infer",
    "load_contract",
    "load_data",
    "scan_pii",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
