"""The canary split: which role answers a request, decided by a stable hash of its key.

A caller that sends the same key (the `X-Request-Key` header: a user or session id) is
always answered by the same role while the traffic share stays the same, on every serving
process and after restarts: the split is a pure function of (deployment, key). Without a
key the request id is hashed, so each request is split independently.

The deployment's name is part of the hash so that two deployments with canaries do not
send the same callers to both canaries.
"""

from __future__ import annotations

from blake3 import blake3

PRIMARY = "primary"
CANARY = "canary"
SHADOW = "shadow"
KEY_HEADER = "x-request-key"

_SCALE = float(2**64)


def bucket(deployment: str, key: str) -> float:
    """A uniform point in [0, 1) for this caller of this deployment."""
    digest = blake3(f"{deployment}\0{key}".encode()).digest(length=8)
    return int.from_bytes(digest, "big") / _SCALE


def choose(deployment: str, key: str, canary_traffic: float | None) -> str:
    """CANARY for the share `canary_traffic` of keys, PRIMARY for the rest (and always
    PRIMARY without a canary)."""
    if not canary_traffic:
        return PRIMARY
    return CANARY if bucket(deployment, key) < canary_traffic else PRIMARY
