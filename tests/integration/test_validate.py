"""The validation service on a real workspace (SQLite and PostgreSQL): contracts found by name,
audit events without values, data at a Git revision, pseudonymisation, and bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from monoloop.audit.service import EventFilter, log
from monoloop.errors import Conflict, InvalidInput, NotFound
from monoloop.validation import (
    Contract,
    ContractError,
    PiiKey,
    PiiKeyMissing,
    ValidationFailed,
    check,
    fix,
    infer,
    load_contract,
    scan_pii,
)
from monoloop.workspace import Workspace

KEY = PiiKey("test-key-" + "x" * 24)

CSV = """\
id,email,age,status
1,alice@example.com,34,active
2,bob@example.org,29,closed
3,carol@example.net,41,active
"""

CONTRACT = """\
version: 1
columns:
  id: {type: integer, nullable: false, unique: true}
  email: {type: string, pii: pseudonymize}
  age: {type: integer, min: 0, max: 120}
  status: {type: string, allowed: [active, closed]}
table:
  primary_key: [id]
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def project(ws: Workspace) -> Workspace:
    (ws.root / "data").mkdir()
    (ws.root / "data" / "customers.csv").write_text(CSV)
    (ws.root / "contracts").mkdir()
    (ws.root / "contracts" / "customers.yaml").write_text(CONTRACT)
    return ws


def events(ws: Workspace, kind: str) -> list[dict[str, object]]:
    return [e.to_dict() for e in log(ws, EventFilter(kind=kind))]


def test_check_finds_the_contract_named_like_the_data_and_records_counts_only(
    project: Workspace,
) -> None:
    report = check(project, project.root / "data" / "customers.csv")
    assert report.contract == "customers"
    assert report.data == "data/customers.csv"
    assert not report.ok
    assert [r.rule for r in report.errors] == ["columns.email.pii"]
    assert report.errors[0].failing == 3
    with pytest.raises(ValidationFailed, match=r"columns\.email\.pii") as info:
        report.raise_for_errors()
    assert info.value.exit_code == 1
    [event] = events(project, "validation.check")
    assert event["subject"] == "data/customers.csv"
    payload = event["payload"]
    assert isinstance(payload, dict)
    assert payload["ok"] is False
    assert payload["failed"] == [{"rule": "columns.email.pii", "severity": "error", "failing": 3}]
    text = json.dumps(event)
    for raw in ("alice@example.com", "bob@example.org", "carol"):
        assert raw not in text


def test_fix_pseudonymizes_then_the_check_passes(project: Workspace) -> None:
    out = project.root / "data" / "customers.pz.csv"
    result = fix(project, project.root / "data" / "customers.csv", output=out, key=KEY)
    assert (result.columns, result.cells) == (["email"], 3)
    fixed = pd.read_csv(out)
    assert fixed["email"].str.fullmatch(r"pz_[0-9a-f]{32}").all()
    assert fixed["age"].tolist() == [34, 29, 41]  # the other columns are untouched
    report = check(project, out, "customers")
    assert report.ok, report.summary()
    [event] = events(project, "validation.fix")
    assert event["payload"] == {
        "data": "data/customers.csv",
        "output": "data/customers.pz.csv",
        "columns": ["email"],
        "cells": 3,
    }
    with pytest.raises(Conflict, match="already exists"):
        fix(project, project.root / "data" / "customers.csv", output=out, key=KEY)


def test_fix_refuses_without_a_key_before_any_work(
    project: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONOLOOP_PII_KEY", raising=False)
    monkeypatch.delenv("MONOLOOP_PII_KEY_FILE", raising=False)
    out = project.root / "out.csv"
    with pytest.raises(PiiKeyMissing):
        fix(project, project.root / "data" / "customers.csv", output=out)
    assert not out.exists()
    assert events(project, "validation.fix") == []


@pytest.mark.parametrize("ext", ["parquet", "jsonl"])
def test_fix_keeps_each_format_and_its_types(project: Workspace, ext: str) -> None:
    frame = pd.read_csv(project.root / "data" / "customers.csv")
    source = project.root / "data" / f"c.{ext}"
    if ext == "parquet":
        frame.to_parquet(source, index=False)
    else:
        frame.to_json(source, orient="records", lines=True)
    out = project.root / "data" / f"c.pz.{ext}"
    fix(project, source, "customers", output=out, key=KEY)
    back = pd.read_parquet(out) if ext == "parquet" else pd.read_json(out, lines=True)
    assert back["age"].tolist() == [34, 29, 41]
    assert back["email"][0] == KEY.pseudonym("alice@example.com")


def test_check_reads_data_at_a_git_revision(project: Workspace) -> None:
    git(project.root, "add", "data/customers.csv")
    git(project.root, "commit", "-q", "-m", "good data")
    (project.root / "data" / "customers.csv").write_text(CSV + "4,dan@example.com,250,gone\n")
    now = check(project, "data/customers.csv", cwd=project.root, pii=False)
    then = check(project, "data/customers.csv", rev="HEAD", cwd=project.root, pii=False)
    assert {r.rule for r in now.errors} == {"columns.age.max", "columns.status.allowed"}
    assert then.ok and then.rows == 3
    assert then.data == "data/customers.csv@HEAD"
    with pytest.raises(NotFound, match=r"'nope' is not a commit"):
        check(project, "data/customers.csv", rev="nope", cwd=project.root)
    with pytest.raises(InvalidInput, match="not a revision"):
        check(project, "data/customers.csv", rev="--output=x", cwd=project.root)
    (project.root / "data" / "new.csv").write_text(CSV)
    with pytest.raises(NotFound, match=r"data/new\.csv is not tracked data at HEAD"):
        check(project, "data/new.csv", "customers", rev="HEAD", cwd=project.root)


def test_contract_lookup_and_its_errors(project: Workspace) -> None:
    assert load_contract(project, "customers").source == "contracts/customers.yaml"
    with pytest.raises(NotFound, match="no contract named 'orders'") as info:
        load_contract(project, "orders")
    assert "known contracts: customers" in (info.value.hint or "")
    with pytest.raises(InvalidInput, match="not a contract name"):
        load_contract(project, "bad name!")
    with pytest.raises(ContractError, match="no contracts/ directory"):
        load_contract(None, "customers")


def test_a_contract_naming_a_missing_column_is_bad_input_with_file_and_line(
    project: Workspace,
) -> None:
    (project.root / "contracts" / "customers.yaml").write_text(
        CONTRACT.replace("  age:", "  agee:")
    )
    with pytest.raises(ContractError) as info:
        check(project, project.root / "data" / "customers.csv")
    message = info.value.message
    assert message.startswith("contracts/customers.yaml (line 5)")
    assert "'columns.agee' names column 'agee'" in message
    assert "data/customers.csv" in message
    assert events(project, "validation.check") == []


def test_infer_writes_a_contract_that_holds_on_its_data_except_pii(project: Workspace) -> None:
    target = project.root / "contracts" / "inferred.yaml"
    result = infer(project, project.root / "data" / "customers.csv", output=target)
    assert result.path == target
    text = target.read_text()
    assert "pii: forbid" in text and "alice" not in text and "example.com" not in text
    report = check(project, project.root / "data" / "customers.csv", "inferred")
    assert {r.rule for r in report.errors} == {"columns.email.pii"}
    with pytest.raises(Conflict):
        infer(project, project.root / "data" / "customers.csv", output=target)


def test_scan_outside_a_workspace(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"note": "call +44 20 7946 0958"}\n{"note": "fine"}\n')
    scan = scan_pii(None, data)
    assert [(f.column, f.kind, f.cells) for f in scan.findings] == [("note", "phone", 1)]
    with pytest.raises(InvalidInput, match="no column 'x'"):
        scan_pii(None, data, columns=["x"])


def test_python_api_on_a_dataframe_with_every_policy() -> None:
    frame = pd.DataFrame(
        {
            "card": [4111111111111111, 5, None],  # a card number stored as a number
            "note": ["call +1 415 555 2671", "fine", None],
            "email": ["pz_" + "0" * 32, "bob@example.org", None],
            "free": ["a@example.com", "x", "y"],
        }
    )
    contract = Contract.model_validate(
        {
            "columns": {
                "card": {"pii": "forbid"},
                "note": {"pii": "allow"},
                "email": {"pii": "pseudonymize"},
            },
            "pii": {"default": "forbid", "severity": "warn"},
        }
    )
    report = check(None, frame, contract)
    rules = {r.rule: r for r in report.rules}
    assert (rules["columns.card.pii"].status, rules["columns.card.pii"].rows) == ("fail", (1,))
    assert rules["columns.card.pii"].samples == ("****1111",)
    assert rules["columns.note.pii"].status == "pass"
    assert rules["columns.note.pii"].detail == "phone in 1 cell"
    assert (rules["columns.email.pii"].failing, rules["columns.email.pii"].rows) == (1, (2,))
    assert rules["columns.email.pii"].samples == ("b***@e***.org",)
    default = rules["pii.default"]
    assert (default.status, default.severity, default.detail) == (
        "fail",
        "warn",
        "email in 1 cell of free",
    )
    assert [r.rule for r in report.errors] == ["columns.card.pii", "columns.email.pii"]
    assert [r.rule for r in report.warnings] == ["pii.default"]
    assert "bob@example.org" not in json.dumps(report.to_dict())


def test_inferred_contract_widens_ranges_and_keeps_codes_as_text(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    rows = [
        f"{i},0{i % 9 + 1}234,{['new', 'paid', 'sent'][i % 3]},{18 + i % 60}" for i in range(60)
    ]
    data.write_text("order_id,zip,state,age\n" + "\n".join(rows) + "\n")
    result = infer(None, data)
    columns = contract_columns(result.contract)
    assert columns["order_id"] == {"type": "integer", "nullable": False}
    assert result.contract.table.primary_key is not None
    assert result.contract.table.primary_key.value == ["order_id"]
    assert columns["zip"]["type"] == "string"  # leading zeros: a code, not a number
    assert columns["state"]["allowed"] == ["new", "paid", "sent"]
    assert (columns["age"]["min"], columns["age"]["max"]) == (12, 83)  # 18..77, widened
    report = check(None, data, result.contract)
    assert report.ok and not report.warnings, report.summary()


def contract_columns(contract: Contract) -> dict[str, dict[str, object]]:
    from monoloop.validation.contract import contract_to_dict

    return contract_to_dict(contract)["columns"]  # type: ignore[no-any-return]


def test_check_reads_tracked_data_at_a_revision_from_the_store(project: Workspace) -> None:
    import monoloop.data as data

    csv = project.root / "data" / "customers.csv"
    data.add(csv, workspace=project.root)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "tracked, good")
    csv.write_text(CSV + "4,dan@example.com,250,gone\n")
    data.add(csv, workspace=project.root)
    git(project.root, "commit", "-q", "-am", "tracked, bad")
    csv.unlink()  # the bytes come from the object store, not the working tree
    then = check(project, "data/customers.csv", rev="HEAD~1", cwd=project.root, pii=False)
    now = check(project, "data/customers.csv", rev="HEAD", cwd=project.root, pii=False)
    assert then.ok and then.rows == 3
    assert not now.ok and now.rows == 4


def test_inline_contract_in_monoloop_yaml(project: Workspace) -> None:
    from monoloop.workspace import open_workspace

    config = project.root / "monoloop.yaml"
    inline = "\n".join("    " + line for line in CONTRACT.splitlines())
    config.write_text(config.read_text() + f"contracts:\n  inline_customers:\n{inline}\n")
    with open_workspace(project.root) as ws:
        report = check(ws, "data/customers.csv", "inline_customers", cwd=ws.root, pii=False)
    assert report.ok and report.rows == 3
