"""`monoloop validate` as a user meets it: exit codes, every output format, and no raw PII in
any of them. The group is mounted on a copy of the root command, as cli/main.py will."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import typer

from monoloop.cli import main, validate
from monoloop.workspace import init_workspace

KEY = "cli-test-key-" + "q" * 20

# Planted raw values: none may appear in any output, in any format.
RAW = {
    "email": "alice.liddell@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "536-90-4399",
    "ip": "203.0.113.77",
    "name": "Zebulon Quimby",
}

CSV = f"""\
id,email,note,owner,age,status
1,{RAW["email"]},call {RAW["phone"]},{RAW["name"]},34,active
2,bob@example.org,card {RAW["card"]},Ann Lee,150,closed
3,carol@example.net,iban {RAW["iban"]} ssn {RAW["ssn"]},Bo Chen,41,bogus
4,dan@example.com,from {RAW["ip"]},Cy Dee,,active
"""

CONTRACT = """\
version: 1
columns:
  id: {type: integer, nullable: false, unique: true}
  email: {type: string, pii: pseudonymize}
  note: {type: string, pii: forbid}
  owner: {type: string, pattern: '[a-z ]+', allowed: [nobody]}
  age: {type: integer, min: 0, max: {value: 120, severity: warn}}
  status: {type: string, allowed: [active, closed]}
table:
  primary_key: [id]
  rows: {min: 1}
"""


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> object:
        return json.loads(self.out)


Run = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    app = typer.Typer(
        name="monoloop",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main.root)
    app.add_typer(validate.app, name="validate")
    monkeypatch.setattr(main, "app", app)
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str, cwd: Path) -> Result:
        code = main.run(["-C", str(cwd), *args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield invoke


@pytest.fixture
def project(repo: Path, tmp_path: Path) -> Path:
    env = {"MONOLOOP_DB_URL": f"sqlite:///{tmp_path / 'meta.db'}"}
    init_workspace(repo, env=env)
    (repo / "data").mkdir()
    (repo / "data" / "people.csv").write_text(CSV)
    (repo / "contracts").mkdir()
    (repo / "contracts" / "people.yaml").write_text(CONTRACT)
    return repo


@pytest.fixture(autouse=True)
def _db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONOLOOP_DB_URL", f"sqlite:///{tmp_path / 'meta.db'}")


def test_help_lists_the_subcommands_and_the_short_form(cli: Run, tmp_path: Path) -> None:
    result = cli("validate", "--help", cwd=tmp_path)
    assert result.code == 0
    for name in ("check", "infer", "scan", "fix"):
        assert name in result.out
    assert "short for" in result.out
    group = typer.main.get_command(validate.app)
    assert isinstance(group, typer.core.TyperGroup)
    for name, command in group.commands.items():
        assert (command.help or "").strip(), name
        assert "--json" in {o for p in command.params for o in getattr(p, "opts", [])}, name
        assert cli("validate", name, "--help", cwd=tmp_path).code == 0


def test_validate_data_is_validate_check_data(cli: Run, project: Path) -> None:
    short = cli("validate", "data/people.csv", "--json", cwd=project)
    long = cli("validate", "check", "data/people.csv", "--json", cwd=project)
    options_first = cli("validate", "--json", "data/people.csv", cwd=project)
    assert short.code == long.code == options_first.code == 1
    assert short.json()["rules"] == long.json()["rules"] == options_first.json()["rules"]  # type: ignore[index]


def test_exit_codes_follow_severity(cli: Run, project: Path) -> None:
    contract = project / "contracts" / "lenient.yaml"
    contract.write_text(
        "columns:\n  age: {max: {value: 120, severity: warn}}\npii: {scan: false}\n"
    )
    warned = cli("validate", "data/people.csv", "-c", "lenient", cwd=project)
    assert warned.code == 0, warned.err
    assert "warn" in warned.out and "passed" in warned.out
    failed = cli("validate", "data/people.csv", cwd=project)
    assert failed.code == 1
    assert "FAILED" in failed.out


def test_reports_in_every_format_show_no_raw_pii(cli: Run, project: Path) -> None:
    outputs: list[str] = []
    runs = [
        cli("validate", "data/people.csv", "--junit", "out/junit.xml", "--report-md", "out/r.md",
            cwd=project),
        cli("validate", "data/people.csv", "--json", cwd=project),
        cli("validate", "scan", "data/people.csv", cwd=project),
        cli("validate", "scan", "data/people.csv", "--json", cwd=project),
        cli("validate", "infer", "data/people.csv", cwd=project),
        cli("validate", "infer", "data/people.csv", "--json", cwd=project),
    ]  # fmt: skip
    assert runs[0].code == 1
    for result in runs:
        outputs += [result.out, result.err]
    junit = (project / "out" / "junit.xml").read_text()
    markdown = (project / "out" / "r.md").read_text()
    outputs += [junit, markdown]
    every = "\n".join(outputs)
    for kind, raw in RAW.items():
        assert raw not in every, f"raw {kind} leaked"
        assert raw.replace(" ", "") not in every.replace(" ", ""), f"raw {kind} leaked"
    # ... while the masked forms are there, so the check is not vacuous.
    assert "a***@e***.com" in every and "****1111" in every and "DE****3000" in every
    assert "Z***" in every  # the owner column's failing pattern shows a masked name


def test_junit_has_a_case_per_rule_and_fails_only_error_rules(cli: Run, project: Path) -> None:
    (project / "out").mkdir()
    result = cli("validate", "data/people.csv", "--junit", "out/j.xml", "--json", cwd=project)
    report = result.json()
    assert isinstance(report, dict)
    suite = ElementTree.parse(project / "out" / "j.xml").getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {r["rule"] for r in report["rules"]}
    assert cases["columns.status.allowed"].find("failure") is not None
    skipped = cases["columns.age.max"].find("skipped")
    assert skipped is not None and (skipped.get("message") or "").startswith("warning:")
    assert cases["columns.id.unique"].find("failure") is None
    assert suite.get("failures") == str(report["errors"])


def test_markdown_report_leads_with_the_verdict(cli: Run, project: Path) -> None:
    cli("validate", "data/people.csv", "--report-md", "r.md", cwd=project)
    text = (project / "r.md").read_text()
    assert text.startswith("### :x: Data contract `people` on `data/people.csv`")
    first_row = next(line for line in text.splitlines() if line.startswith("| :"))
    assert ":x:" in first_row


def test_bad_input_exits_2_naming_the_file_and_key(cli: Run, project: Path) -> None:
    (project / "data" / "wrong.parquet").write_text("a,b\n1,2\n")
    (project / "contracts" / "broken.yaml").write_text("columns:\n  id: {typ: integer}\n")
    (project / "contracts" / "lost.yaml").write_text("columns:\n  idd: {type: integer}\n")
    cases = [
        (("validate", "data/missing.csv", "-c", "people"), "data/missing.csv does not exist"),
        (("validate", "data/wrong.parquet", "-c", "people"), "data/wrong.parquet: not a Parquet"),
        (("validate", "data/people.csv", "-c", "broken"), "contracts/broken.yaml"),
        (("validate", "data/people.csv", "-c", "lost"), "'columns.idd' names column 'idd'"),
        (("validate", "data/people.csv", "-c", "nope"), "no contract named 'nope'"),
        (("validate", "data/other.csv"), "no contract named 'other'"),
    ]
    for args, message in cases:
        result = cli(*args, cwd=project)
        assert result.code == 2, (args, result.err)
        assert message in result.err.replace("\n", " "), (args, result.err)
        assert "hint:" in result.err
    broken = cli("validate", "data/people.csv", "-c", "broken", "--json", cwd=project)
    assert broken.code == 2
    assert "unknown key 'columns.id.typ' (line 2)" in broken.json()["message"]  # type: ignore[index]


def test_infer_then_check(cli: Run, project: Path) -> None:
    wrote = cli("validate", "infer", "data/people.csv", "-o", "contracts/auto.yaml", cwd=project)
    assert wrote.code == 0 and "review it" in wrote.err
    again = cli("validate", "infer", "data/people.csv", "-o", "contracts/auto.yaml", cwd=project)
    assert again.code == 2 and "--force" in again.err
    result = cli("validate", "data/people.csv", "-c", "auto", "--json", cwd=project)
    report = result.json()
    assert isinstance(report, dict)
    assert {r["rule"] for r in report["rules"] if r["status"] != "pass"} == {
        "columns.email.pii",
        "columns.note.pii",
    }


def test_fix_needs_the_key_and_never_prints_it(
    cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONOLOOP_PII_KEY", raising=False)
    missing = cli("validate", "fix", "data/people.csv", "-o", "data/pz.csv", cwd=project)
    assert missing.code == 2 and "MONOLOOP_PII_KEY" in missing.err
    monkeypatch.setenv("MONOLOOP_PII_KEY", KEY)
    done = cli("validate", "fix", "data/people.csv", "-o", "data/pz.csv", "--json", cwd=project)
    assert done.code == 0
    assert done.json() == {
        "data": "data/people.csv",
        "output": "data/pz.csv",
        "columns": ["email"],
        "cells": 4,
    }
    audit = subprocess.run(
        ["git", "log"], cwd=project, capture_output=True, text=True, check=False
    ).stdout
    for text in (done.out, done.err, audit, (project / "data" / "pz.csv").read_text()):
        assert KEY not in text and RAW["email"] not in text
    checked = cli("validate", "data/pz.csv", "-c", "people", "--json", cwd=project)
    rules = {r["rule"]: r["status"] for r in checked.json()["rules"]}  # type: ignore[index]
    assert rules["columns.email.pii"] == "pass"


def test_scan_can_gate_ci(cli: Run, project: Path) -> None:
    assert cli("validate", "scan", "data/people.csv", cwd=project).code == 0
    assert cli("validate", "scan", "data/people.csv", "--fail", cwd=project).code == 1
    only = cli("validate", "scan", "data/people.csv", "--column", "status", "--json", cwd=project)
    assert only.json()["findings"] == []  # type: ignore[index]


def test_check_at_a_revision_and_outside_a_workspace(
    cli: Run, project: Path, tmp_path: Path
) -> None:
    subprocess.run(["git", "add", "data"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-qm", "data"], cwd=project, check=True)
    (project / "data" / "people.csv").write_text("id\n1\n")
    at = cli("validate", "data/people.csv", "--rev", "HEAD", "--json", cwd=project)
    assert at.json()["rows"] == 4 and at.json()["data"] == "data/people.csv@HEAD"  # type: ignore[index]
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "d.csv").write_text("n\n1\n2\n")
    (outside / "c.yaml").write_text("columns:\n  n: {type: integer, max: 1}\n")
    result = cli("validate", "d.csv", "--contract", "c.yaml", "--json", cwd=outside)
    assert result.code == 1
    assert result.json()["data"] == "d.csv"  # type: ignore[index]


def test_names_and_values_from_data_are_never_markup(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("[/],[bold]b\n[red]x,2\n")
    (tmp_path / "m.yaml").write_text('columns:\n  "[/]": {allowed: [z]}\n')
    result = cli("validate", "m.csv", "-c", "m.yaml", cwd=tmp_path)
    assert result.code == 1, result.err
    assert "columns.[/].allowed" in result.out
    assert "[***" in result.out
