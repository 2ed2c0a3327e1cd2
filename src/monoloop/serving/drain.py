"""Stopping a serving process's background writer without losing what it holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def stop_and_drain(
    thread: threading.Thread | None,
    wake: threading.Event,
    flush: Callable[[], bool],
    *,
    attempts: int = 5,
) -> bool:
    """Wake and join the writer's thread (its owner has set its stop flag), then flush on
    the caller's thread, retrying with backoff: a graceful shutdown should outlast a short
    DB or store outage. True when everything was written."""
    wake.set()
    if thread is not None:
        thread.join()
    for attempt in range(attempts):
        if flush():
            return True
        time.sleep(min(0.2 * 2**attempt, 2.0))
    return False
