"""`monoloop data remote ...`: monoloop.yaml edited in place, comments kept, validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monoloop.cli.main import run
from monoloop.data.context import validated_config_values


def cli(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = run(["-C", str(repo), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def workspace(repo: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, repo, "init")[0] == 0
    return repo


def config(repo: Path) -> dict[str, object]:
    return dict(yaml.safe_load((repo / "monoloop.yaml").read_text()))


def comments(repo: Path) -> list[str]:
    return [line for line in (repo / "monoloop.yaml").read_text().splitlines() if "#" in line]


def test_add_list_default_remove(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = comments(workspace)
    nas = tmp_path / "nas"
    assert cli(capsys, workspace, "data", "remote", "add", "origin", "s3://bucket/churn")[0] == 0
    code, _, err = cli(capsys, workspace, "data", "remote", "add", "nas", str(nas), "--default")
    assert code == 0 and "the default" in err
    assert config(workspace)["remotes"] == {"origin": "s3://bucket/churn", "nas": nas.as_uri()}
    assert config(workspace)["default_remote"] == "nas"
    assert comments(workspace) == kept  # every comment of the file survives the edits
    code, out, _ = cli(capsys, workspace, "data", "remote", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "nas", "url": nas.as_uri(), "default": True, "options": []},
        {"name": "origin", "url": "s3://bucket/churn", "default": False, "options": []},
    ]
    # The edit is stamped valid: data commands use it without validating again.
    values = validated_config_values(workspace, {})
    assert values["default_remote"] == "nas"
    assert cli(capsys, workspace, "data", "remote", "default", "origin")[0] == 0
    assert config(workspace)["default_remote"] == "origin"
    code, _, err = cli(capsys, workspace, "data", "remote", "remove", "origin")
    assert code == 0 and "no default remote now" in err
    assert config(workspace)["remotes"] == {"nas": nas.as_uri()}
    assert config(workspace)["default_remote"] is None
    assert cli(capsys, workspace, "data", "remote", "remove", "nas")[0] == 0
    assert config(workspace)["remotes"] == {}
    assert comments(workspace) == kept


def test_push_and_pull_through_a_remote_added_by_the_cli(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "d").mkdir()
    (workspace / "d" / "a.txt").write_text("alpha\n")
    assert cli(capsys, workspace, "data", "add", "d")[0] == 0
    assert cli(capsys, workspace, "data", "remote", "add", "nas", str(tmp_path / "nas"))[0] == 0
    code, out, _ = cli(capsys, workspace, "--quiet", "data", "push", "--json")
    assert code == 0 and json.loads(out)["transferred"] == 2  # a file and its manifest


def test_replacing_keeps_the_options(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = workspace / "monoloop.yaml"
    text = path.read_text().replace(
        "remotes: {}\n",
        "remotes:\n  minio:\n    url: s3://old/x\n    options: {endpoint_url: 'http://127.0.0.1:9000'}\n",
    )
    path.write_text(text)
    code, _, err = cli(capsys, workspace, "data", "remote", "add", "minio", "s3://new/y")
    assert code == 2 and "already exists" in err and "--force" in err
    assert cli(capsys, workspace, "data", "remote", "add", "minio", "s3://new/y", "-f")[0] == 0
    assert config(workspace)["remotes"] == {
        "minio": {"url": "s3://new/y", "options": {"endpoint_url": "http://127.0.0.1:9000"}}
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "bad name", "/tmp/x"], "remote name 'bad name'"),
        (["add", "x", "nope://bucket/x"], "unknown object store URL scheme 'nope'"),
        (["add", "x", "s3://user:secret@bucket/x"], "contains a password"),
        (["add", "x", " "], "URL is empty"),
        (["remove", "ghost"], "no remote named 'ghost'"),
        (["default", "ghost"], "no remote named 'ghost'"),
        (["default"], "either a remote NAME or --unset"),
    ],
)
def test_bad_input_changes_nothing(
    workspace: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = (workspace / "monoloop.yaml").read_bytes()
    code, _, err = cli(capsys, workspace, "data", "remote", *args)
    assert code == 2 and message in err and "hint:" in err, err
    assert "secret" not in err
    assert (workspace / "monoloop.yaml").read_bytes() == before


def test_a_broken_config_is_reported_not_rewritten(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workspace / "monoloop.yaml"
    path.write_text(path.read_text() + "surprise: 1\n")
    before = path.read_bytes()
    code, _, err = cli(capsys, workspace, "data", "remote", "add", "x", "/tmp/x")
    assert code == 2 and "unknown key 'surprise'" in err
    assert path.read_bytes() == before
