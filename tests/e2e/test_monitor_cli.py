"""`monoloop monitor ...` as a user types it: labels, a pass of the monitors, history."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.integration.monitor_fixtures import DEPLOYMENT, clean_frame, drifted_frame, serve
from tests.integration.registry_fixtures import configure, train_model

from monoloop.cli import main
from monoloop.registry import aliases, service
from monoloop.workspace import Workspace

T0 = 1_780_000_000.0


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main.run(["-C", str(ws.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def served(ws: Workspace) -> Iterator[Workspace]:
    t = train_model(seed=0)
    service.register_model(
        ws, "churn", t.model, sample_input=t.x_train, holdout=t.test, target="churned"
    )
    aliases.set_alias(ws, "churn", "champion", 1)
    opened = configure(
        ws,
        {
            "deployments": {DEPLOYMENT: {"model": "churn@champion"}},
            "monitors": {
                DEPLOYMENT: {
                    "window": {"last": 200},
                    "min_rows": 50,
                    "decay": {"metric": "accuracy", "min": 0.7, "min_labels": 20},
                }
            },
        },
    )
    yield opened
    opened.close()


def test_labels_run_and_history(served: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    first = serve(served, clean_frame(200, seed=4), start=T0, prefix="a")
    first.truth.to_csv(served.root / "labels.csv", index=False)
    code, out, err = cli(capsys, served, "monitor", "labels", DEPLOYMENT, "labels.csv", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "deployment": DEPLOYMENT, "attached": 200, "replaced": 0, "skipped": 0
    }  # fmt: skip

    code, out, err = cli(capsys, served, "monitor", "run", "--once", "--json")
    assert code == 0, err
    verdicts = {r["monitor"]: r["verdict"] for r in json.loads(out)}
    assert verdicts == {"drift": "ok", "decay": "ok"}

    serve(served, drifted_frame(200, seed=5), start=T0 + 500, prefix="b")
    code, out, err = cli(capsys, served, "monitor", "run", "--once")
    assert code == 0 and "drift" in out and "FIRED" in out and "DRIFT: " in out
    assert "ALERT churn-api drift" in err  # the alert's log line

    code, out, _ = cli(capsys, served, "monitor", "history", DEPLOYMENT, "-m", "drift", "--json")
    assert [r["verdict"] for r in json.loads(out)] == ["ok", "fired"]
    code, out, _ = cli(capsys, served, "monitor", "history", DEPLOYMENT)
    assert code == 0 and out.count("\n") == 4  # two checks, two passes

    code, out, err = cli(capsys, served, "monitor", "history", DEPLOYMENT, "-m", "speed")
    assert code == 2 and "unknown monitor 'speed'" in err
    code, _, err = cli(capsys, served, "monitor", "labels", "nope", "labels.csv")
    assert code == 2 and "no deployment 'nope'" in err
    code, _, _ = cli(capsys, served, "monitor", "run", "--once", "--fail-on-fire", "--json")
    assert code == 1  # still drifted: a CI step fails
    code, _, err = cli(capsys, served, "monitor", "run", "--fail-on-fire")
    assert code == 2 and "needs --once" in err
