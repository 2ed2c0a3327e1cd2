"""Canonical JSON: one byte string per value, so hashes of structured data are stable."""

from __future__ import annotations

import json
from typing import Any

# One encoder for every call: json.dumps with these options would build a new one each time.
_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity (they have no JSON spelling)."""
    return _encode(value).encode("utf-8")
