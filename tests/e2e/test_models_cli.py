"""`monoloop models ...`, `monoloop check` and `monoloop ci init` as a user types them."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
import typer
import yaml
from tests.integration.registry_fixtures import FEATURES, train_model

from monoloop.cli import main
from monoloop.workspace import Workspace


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main.run(["-C", str(ws.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def files(ws: Workspace) -> dict[str, Path]:
    t = train_model(seed=1)
    paths = {
        "model": ws.root / "model.skops",
        "sample": ws.root / "sample.csv",
        "holdout": ws.root / "holdout.csv",
    }
    sio.dump(t.model, paths["model"])
    t.x_train.head(200).to_csv(paths["sample"], index=False)
    t.test.to_csv(paths["holdout"], index=False)
    return paths


def register(capsys: pytest.CaptureFixture[str], ws: Workspace, *extra: str) -> dict:
    code, out, err = cli(
        capsys, ws, "models", "register", "churn", "--artifact", "model.skops",
        "--sample", "sample.csv", "--holdout", "holdout.csv", "--target", "churned",
        "--card-field", "owner=ml-team", "--json", *extra,
    )  # fmt: skip
    assert code == 0, out + err
    return json.loads(out)


def test_register_list_show_card_lineage(
    ws: Workspace, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    shown = register(capsys, ws, "--metric", "cost=3")
    assert shown["version"] == 1 and shown["metrics"]["cost"] == 3.0
    assert [c["name"] for c in shown["signature"]["inputs"]] == FEATURES
    code, out, _ = cli(capsys, ws, "models", "list", "--json")
    assert json.loads(out) == [{"name": "churn", "latest": 1, "aliases": {}, "description": None}]
    code, out, _ = cli(capsys, ws, "models", "list")
    assert code == 0 and "churn" in out and "v1" in out
    code, out, _ = cli(capsys, ws, "models", "show", "churn:1")
    assert code == 0 and "skops" in out and "tenure:number" in out
    code, out, _ = cli(capsys, ws, "models", "card", "churn", "-o", "card.md")
    card = (ws.root / "card.md").read_text()
    assert code == 0 and "owner" in card.lower() and "ml-team" in card and "## Metrics" in card
    code, out, _ = cli(capsys, ws, "models", "lineage", "churn", "--json")
    assert code == 0 and json.loads(out)["events"][0]["kind"] == "model.register"


def test_check_promote_rollback_history(
    ws: Workspace, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = ws.root / "monoloop.yaml"
    config = yaml.safe_load(path.read_text())
    config["models"] = {"churn": {"gates": [{"metric": "accuracy >= 0.6"},
                                            {"metric": "cost <= 5"}]}}  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    register(capsys, ws, "--metric", "cost=3")
    register(capsys, ws, "--metric", "cost=9")

    code, out, _ = cli(
        capsys, ws, "check", "churn", "1", "--junit", "reports/m.xml", "--report-md", "reports/m.md"
    )
    assert code == 0 and "passed" in out
    suite = ET.parse(ws.root / "reports/m.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    assert "✅" in (ws.root / "reports/m.md").read_text()

    code, out, _ = cli(capsys, ws, "check", "churn", "latest", "--json")
    assert code == 1 and json.loads(out)["passed"] is False

    assert cli(capsys, ws, "models", "promote", "churn", "1", "--to", "champion")[0] == 0
    code, _, err = cli(capsys, ws, "models", "promote", "churn", "latest", "--to", "champion")
    assert code == 1 and "cost <= 5" in err
    code, _, err = cli(capsys, ws, "models", "promote", "churn", "2", "--to", "champion", "--force")
    assert code == 2 and "reason" in err
    code, out, _ = cli(
        capsys, ws, "models", "promote", "churn", "2", "--to", "champion", "--force",
        "--reason", "cost metric is being redefined", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["move"]["forced"] is True
    code, out, _ = cli(capsys, ws, "models", "rollback", "churn@champion", "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = cli(capsys, ws, "models", "history", "churn@champion", "--json")
    assert [(m["action"], m["version"], m["forced"]) for m in json.loads(out)] == [
        ("promote", 1, False),
        ("promote", 2, True),
        ("rollback", 1, False),
    ]


def test_bad_input_exits_2_and_changes_nothing(
    ws: Workspace, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    (ws.root / "fake.onnx").write_bytes(b"\x00not an onnx graph")
    code, _, err = cli(capsys, ws, "models", "register", "churn", "--artifact", "fake.onnx")
    assert code == 2 and "not a model file" in err
    code, _, err = cli(capsys, ws, "models", "show", "churn")
    assert code == 2 and "no model named 'churn'" in err
    register(capsys, ws)
    code, _, err = cli(capsys, ws, "models", "alias", "churn", "1")
    assert code == 2 and "NAME@ALIAS" in err
    code, _, err = cli(capsys, ws, "models", "rollback", "churn@champion")
    assert code == 2 and "holds the alias" in err


def resolve(command: list[str]) -> Any:
    """The click command a `monoloop ...` command line names, or an assertion error."""
    group: Any = typer.main.get_command(main.app)
    words = [w for w in command[1:] if not w.startswith("-")]
    for word in words:
        if not hasattr(group, "get_command"):  # a command, not a group: the rest are arguments
            break
        sub = group.get_command(group.context_class(group), word)
        default = getattr(group, "default_command", None)
        if sub is None and default is not None:
            # `monoloop validate DATA` runs the group's default subcommand with DATA.
            sub = group.get_command(group.context_class(group), default)
            assert sub is not None
            return sub
        assert sub is not None, f"{' '.join(command)}: no command {word!r}"
        group = sub
    return group


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_ci_init_writes_valid_yaml_of_real_commands(
    ws: Workspace, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = ws.root / "monoloop.yaml"
    config = yaml.safe_load(path.read_text())
    config["models"] = {"churn": {"gates": []}}
    path.write_text(yaml.safe_dump(config))
    code, out, err = cli(
        capsys, ws, "ci", "init", f"--{kind}", "--validate", "data/customers.csv", "--json"
    )
    assert code == 0, err
    written = Path(json.loads(out)["path"])
    doc = yaml.safe_load(written.read_text())
    if kind == "gitlab":
        scripts = doc["monoloop-check"]["script"] + doc["monoloop-promote"]["script"]
        assert doc["monoloop-check"]["artifacts"]["reports"]["junit"] == "reports/*.xml"
    else:
        steps = doc["jobs"]["check"]["steps"] + doc["jobs"]["promote"]["steps"]
        scripts = [s["run"] for s in steps if "run" in s]
    commands = [shlex.split(s) for s in scripts if s.startswith("monoloop")]
    verbs = {" ".join(w for w in c[:3] if not w.startswith("-")) for c in commands}
    assert {"monoloop validate data/customers.csv", "monoloop check churn",
            "monoloop models promote"} <= verbs  # fmt: skip
    for command in commands:
        resolved = resolve(command)
        # Every option the template passes exists on the command it calls.
        known = {o for p in resolved.params for o in p.opts}
        for word in command:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"{word} is not an option of {command}"
    # Refuses to overwrite without --force; bad choices exit 2.
    assert cli(capsys, ws, "ci", "init", f"--{kind}")[0] == 2
    assert cli(capsys, ws, "ci", "init", "--gitlab", "--github")[0] == 2
