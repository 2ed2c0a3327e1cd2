"""Webhook alerts against a real HTTP receiver on loopback: retries with backoff, what is
not retried, the log line, and secrets kept out of it."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monoloop.monitoring.alerts import notify, redact_url
from monoloop.monitoring.spec import AlertSpec


class Receiver:
    """Answers `statuses` in turn (then 200), keeping every request body it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "7")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/SECRET-TOKEN"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


BODY = {"kind": "monitor.fired", "deployment": "churn-api", "monitor": "drift", "result_id": 7,
        "summary": "DRIFT: 2/3 columns drifted"}  # fmt: skip


def test_retries_with_exponential_backoff_until_the_receiver_answers(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [503, 502, 500]
    waits: list[float] = []
    spec = AlertSpec(webhook=receiver.url, retries=3, backoff_seconds=0.5)
    with caplog.at_level(logging.WARNING, logger="monoloop.alerts"):
        delivery = notify(spec, BODY, sleep=waits.append)
    assert delivery.status == "sent" and delivery.attempts == 4
    assert waits == [0.5, 1.0, 2.0]
    text = "[monoloop] churn-api drift (result 7): DRIFT: 2/3 columns drifted"
    assert receiver.bodies == [{"text": text, **BODY}] * 4
    assert receiver.headers[0]["Content-Type"] == "application/json"
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("ALERT churn-api drift (result 7): DRIFT: 2/3 columns drifted")
    assert "answered (attempt 4)" in line
    assert "SECRET-TOKEN" not in line and "SECRET-TOKEN" not in str(delivery.to_dict())


def test_gives_up_after_the_retries_and_says_so(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [503] * 10
    waits: list[float] = []
    with caplog.at_level(logging.WARNING, logger="monoloop.alerts"):
        delivery = notify(AlertSpec(webhook=receiver.url, retries=2), BODY, sleep=waits.append)
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 3, "HTTP 503")
    assert waits == [1.0, 2.0] and len(receiver.bodies) == 3
    assert "FAILED after 3 attempt(s): HTTP 503" in caplog.records[-1].getMessage()


def test_a_client_error_is_not_retried_and_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.statuses = [400]
    waits: list[float] = []
    delivery = notify(AlertSpec(webhook=receiver.url), BODY, sleep=waits.append)
    assert (delivery.status, delivery.attempts, waits) == ("failed", 1, [])
    receiver.statuses = [429]
    delivery = notify(AlertSpec(webhook=receiver.url), BODY, sleep=waits.append)
    assert delivery.status == "sent" and waits == [7.0]


def test_no_receiver_listening_is_retried_then_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again on leaving: nobody listens there
    waits: list[float] = []
    spec = AlertSpec(webhook=f"http://127.0.0.1:{port}/hook", retries=2, timeout_seconds=2)
    delivery = notify(spec, BODY, sleep=waits.append)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.error and "ConnectError" in delivery.error and len(waits) == 2


def test_without_a_webhook_the_log_line_is_the_alert(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="monoloop.alerts"):
        assert notify(None, BODY).status == "logged"
        unset = notify(AlertSpec(webhook_env="HOOK_URL"), BODY, env={})
        assert unset.status == "logged" and unset.error == "$HOOK_URL is not set: no webhook called"
        found = notify(AlertSpec(webhook_env="HOOK_URL"), BODY, env={"HOOK_URL": receiver.url})
    assert found.status == "sent" and len(receiver.bodies) == 1
    assert len(caplog.records) == 3 and "no webhook configured" in caplog.records[0].getMessage()


def test_redaction_keeps_scheme_and_host_only() -> None:
    assert redact_url("https://user:pw@hooks.example.com/T0/B0?token=x") == (
        "https://hooks.example.com/..."
    )
    assert redact_url("not a url") == "(webhook)"
