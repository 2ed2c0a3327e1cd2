"""Readiness: a deployment is ready once its primary answers and every other role has had
its first load attempt, so the canary split holds from the first request."""

from __future__ import annotations

from typing import Any, cast

from monoloop.serving.models import Loaded, Slot
from monoloop.serving.router import CANARY, PRIMARY, SHADOW
from monoloop.serving.state import Deployment


def slots() -> list[Slot]:
    return [
        Slot("api", PRIMARY, "m@champion", "auto", 0.7),
        Slot("api", CANARY, "m@challenger", "auto", 0.3),
        Slot("api", SHADOW, "m@shadow", "auto", 0.0),
    ]


def loaded() -> Loaded:
    return cast(Loaded, object())  # readiness only asks whether a slot holds something


def test_not_ready_while_a_canary_is_still_loading() -> None:
    primary, canary, shadow = slots()
    deployment = Deployment("api", [primary, canary, shadow], cast(dict[str, Any], {}))
    assert not deployment.ready
    primary.current, primary.attempted = loaded(), True
    shadow.attempted, shadow.error = True, "alias 'shadow' of m is not set"
    assert not deployment.ready  # the canary has not been tried: its callers would move
    canary.current, canary.attempted = loaded(), True
    assert deployment.ready


def test_a_failed_canary_does_not_hold_readiness_back() -> None:
    primary, canary, _ = slots()
    deployment = Deployment("api", [primary, canary], cast(dict[str, Any], {}))
    primary.current, primary.attempted = loaded(), True
    canary.attempted, canary.error = True, "cannot load m@challenger: broken"
    assert deployment.ready
    assert deployment.route("any-key") == PRIMARY  # no canary loaded: the primary answers


def test_a_primary_that_failed_is_not_ready() -> None:
    primary, canary, _ = slots()
    deployment = Deployment("api", [primary, canary], cast(dict[str, Any], {}))
    primary.attempted, primary.error = True, "alias 'champion' of m is not set"
    canary.current, canary.attempted = loaded(), True
    assert not deployment.ready
