"""Alerts: a log line for every one, and a JSON POST to a webhook when one is configured.

    delivery = notify(spec, {"kind": "monitor.fired", ...})
    delivery.status      # "sent", "failed" (every attempt failed) or "logged" (no webhook)

A webhook that fails (no connection, a timeout, HTTP 5xx, 408 or 429) is retried
`retries` times, waiting `backoff_seconds`, then twice that, and so on (or what a
Retry-After header asks, up to a minute). Any other 4xx is not retried: the request
itself is wrong. Webhook URLs often carry a secret token in their path, so logs and
results show only the scheme and host.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from monoloop.monitoring.spec import AlertSpec

log = logging.getLogger("monoloop.alerts")

SENT, FAILED, LOGGED = "sent", "failed", "logged"
MAX_WAIT = 60.0
_RETRY_STATUS = {408, 429}


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | failed | logged
    attempts: int = 0
    target: str | None = None  # the webhook, redacted
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def redact_url(url: str) -> str:
    """scheme://host[:port]/... : no user info, no path or query (they may hold a token)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "(webhook)"
    authority = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{authority}/..."


def webhook_url(spec: AlertSpec | None, env: Mapping[str, str] | None = None) -> str | None:
    if spec is None:
        return None
    if spec.webhook_env is not None:
        return (os.environ if env is None else env).get(spec.webhook_env) or None
    return spec.webhook


def notify(
    spec: AlertSpec | None,
    body: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    env: Mapping[str, str] | None = None,
    transport: Any = None,
) -> Delivery:
    """Deliver one alert; never raises for a failed delivery (the result records it).

    The body gets a `text` line unless it has one: chat webhooks (Slack, Mattermost)
    show that field and refuse a body without it."""
    body = {"text": f"[monoloop] {_headline(body)}", **body}
    url = webhook_url(spec, env)
    if spec is not None and spec.webhook_env is not None and url is None:
        delivery = Delivery(LOGGED, error=f"${spec.webhook_env} is not set: no webhook called")
    elif spec is None or url is None:
        delivery = Delivery(LOGGED)
    else:
        delivery = _post(spec, url, body, sleep, transport)
    _log_line(body, delivery)
    return delivery


def _post(
    spec: AlertSpec,
    url: str,
    body: dict[str, Any],
    sleep: Callable[[float], None],
    transport: Any,
) -> Delivery:
    import httpx

    target = redact_url(url)
    error = ""
    attempts = 0
    headers = {"User-Agent": "monoloop-alerts", "Content-Type": "application/json"}
    with httpx.Client(timeout=spec.timeout_seconds, transport=transport) as client:
        for attempt in range(spec.retries + 1):
            attempts = attempt + 1
            wait = spec.backoff_seconds * 2**attempt
            try:
                response = client.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {_first_line(exc)}"
            else:
                if response.is_success:
                    return Delivery(SENT, attempts, target)
                error = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in _RETRY_STATUS:
                    break
                wait = _retry_after(response.headers.get("Retry-After"), wait)
            if attempt < spec.retries:
                sleep(min(wait, MAX_WAIT))
    return Delivery(FAILED, attempts, target, error)


def _retry_after(header: str | None, default: float) -> float:
    if header is None:
        return default
    try:
        return max(0.0, float(header))
    except ValueError:
        return default  # an HTTP date: rare from webhooks; the backoff will do


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def _headline(body: dict[str, Any]) -> str:
    where = " ".join(
        str(body[k]) for k in ("deployment", "monitor", "policy", "state") if body.get(k)
    )
    result = f" (result {body['result_id']})" if body.get("result_id") is not None else ""
    return f"{where}{result}: {body.get('summary', '')}"


def _log_line(body: dict[str, Any], delivery: Delivery) -> None:
    outcome = {
        SENT: f"webhook {delivery.target} answered (attempt {delivery.attempts})",
        FAILED: f"webhook {delivery.target} FAILED after {delivery.attempts} attempt(s): "
        f"{delivery.error}",
        LOGGED: delivery.error or "no webhook configured",
    }[delivery.status]
    log.warning("ALERT %s [%s]", _headline(body), outcome)
