"""`monoloop server` as an operator starts it: a real process, its one-time token, its API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from monoloop.workspace import Workspace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_server_process_serves_with_its_bootstrap_token(ws: Workspace) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monoloop.cli.main",
            "-C",
            str(ws.root),
            "server",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}")
            if line.strip().startswith("mlt_"):
                token = line.strip()
        assert token is not None
        url = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url + "/v1/whoami", headers=headers).json()["name"] == "bootstrap-admin"
        assert httpx.get(url + "/v1/runs").status_code == 401
        assert httpx.get(url + "/healthz").headers.get("server") is None
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
