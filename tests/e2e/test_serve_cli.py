"""`monoloop serve` and `monoloop predict` as a user types them:
clear refusals before anything starts, and results on stdout."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest
from tests.integration.registry_fixtures import churn_frame
from tests.integration.serving_fixtures import alias, deploy, register_churn

from monoloop.cli import main
from monoloop.workspace import Workspace

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main.run(["-C", str(ws.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_serve_refuses_what_cannot_start(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, ws, "serve")
    assert code == 2 and "declares no deployments" in err and "deployments:" in err

    register_churn(ws)
    ws = deploy(ws, {"churn-api": {"model": "churn@champion"}})
    code, _, err = cli(capsys, ws, "serve", "nope")
    assert code == 2 and "no deployment named 'nope'" in err and "churn-api" in err

    code, _, err = cli(capsys, ws, "serve", "churn-api")
    assert code == 2
    assert "deployment 'churn-api' cannot start" in err
    assert "holds the alias 'champion'" in err
    assert "monoloop models promote churn VERSION --to champion" in err

    alias(ws, "churn@champion", 1)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        code, _, err = cli(capsys, ws, "serve", "--port", port)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_predict_command(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    register_churn(ws)
    alias(ws, "churn@champion", 1)
    churn_frame(120, seed=2).drop(columns=["churned"]).to_parquet(ws.root / "in.parquet")
    code, out, err = cli(
        capsys, ws, "predict", "churn@champion", "in.parquet", "-o", "out.csv", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert (result["rows"], result["model"], result["version"]) == (120, "churn", 1)
    assert len(pd.read_csv(ws.root / "out.csv")) == 120

    code, out, err = cli(capsys, ws, "predict", "churn", "in.parquet", "-o", "out.txt")
    assert code == 2 and ".csv and .parquet" in err


def test_commands_have_help(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["serve"], ["predict"]):
        code, out, _ = cli(capsys, ws, *args, "--help")
        assert code == 0 and "Usage" in out
