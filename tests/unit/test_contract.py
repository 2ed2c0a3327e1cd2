"""Contracts: the YAML schema and its errors, durations, column types, readers, and every rule
kind passing and failing on small tables (no workspace, no files unless a reader needs one)."""

from __future__ import annotations

import datetime as dt
import gzip
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monoloop.errors import NotFound
from monoloop.validation.contract import (
    Contract,
    ContractError,
    contract_to_dict,
    format_duration,
    parse_duration,
)
from monoloop.validation.contract_files import parse_contract
from monoloop.validation.readers import DataReadError, read_bytes, read_path, to_bytes
from monoloop.validation.rules import check_columns_exist, evaluate
from monoloop.validation.types import as_type

FULL = """
version: 1
description: every rule kind
severity: error
columns:
  id: {type: integer, nullable: false, unique: true}
  age:
    type: integer
    min: 0
    max: {value: 120, severity: warn}
  status: {type: string, allowed: [active, closed]}
  zip: {type: string, pattern: '\\d{5}'}
  score: {type: float, min: 0.0, max: 1.0, severity: warn}
  joined: {type: date, min: 2020-01-01}
  seen: {type: datetime}
  vip: {type: boolean}
  email: {type: string, pii: pseudonymize}
table:
  rows: {min: 1, max: 1000}
  primary_key: [id]
  freshness: {column: seen, max_age: 1d12h, severity: warn}
pii: {scan: true, default: forbid, severity: warn}
"""

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def problem(text: str) -> str:
    with pytest.raises(ContractError) as info:
        parse_contract(text, source="contracts/x.yaml")
    assert info.value.hint
    assert info.value.exit_code == 2
    return info.value.message


# ------------------------------------------------------------------ the schema


def test_a_full_contract_parses_with_short_and_long_forms() -> None:
    contract = parse_contract(FULL)
    age = contract.columns["age"]
    assert age.max is not None and age.max.value == 120 and age.max.severity == "warn"
    assert contract.severity_of(age.min, age) == "error"
    assert contract.severity_of(age.max, age) == "warn"
    score = contract.columns["score"]
    assert contract.severity_of(score.min, score) == "warn"
    assert contract.columns["joined"].min is not None
    assert contract.columns["joined"].min.value == "2020-01-01"  # dates stay text
    assert contract.table.freshness is not None
    assert contract.table.freshness.age == dt.timedelta(hours=36)


def test_dumped_contract_reads_back_the_same() -> None:
    contract = parse_contract(FULL)
    again = parse_contract(yaml.safe_dump(contract_to_dict(contract)))
    assert again == contract
    assert contract_to_dict(contract)["columns"]["age"]["min"] == 0  # short form kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns:\n  age:\n    typ: integer\n", "unknown key 'columns.age.typ' (line 3)"),
        ("columns:\n  age:\n    typ: integer\n", "did you mean 'type'"),
        ("columns:\n  a:\n    max: {value: 3, sevrity: warn}\n", "did you mean 'severity'"),
        ("tabel: {}\n", "did you mean 'table'"),
        ("columns:\n  a:\n    type: int\n", "'columns.a.type' (line 3): found 'int'"),
        ("columns:\n  a:\n    type: integer\n    min: abc\n", "'columns.a.min' (line 4)"),
        ("columns:\n  a:\n    min: [1, 2]\n", "expected a number, a string or a date"),
        ("columns:\n  a:\n    pattern: '(['\n", "not a valid regular expression"),
        ("columns:\n  a:\n    min: 5\n    max: 1\n", "min 5 is greater than max 1"),
        ("columns:\n  a:\n    type: string\n    max: 3\n", "max does not apply to a string"),
        ("columns:\n  a:\n    type: date\n    min: 2020-13-45\n", "must be an ISO date"),
        ("columns:\n  a:\n    pii: hide\n", "'columns.a.pii' (line 3)"),
        ("table:\n  freshness: {column: t, max_age: soon}\n", "'soon' is not a duration"),
        ("table:\n  primary_key: [a, 3]\n", "'table.primary_key.1' (line 2)"),
        ("table:\n  primary_key: []\n", "at least one column"),
        ("table:\n  rows: {min: -1}\n", "'table.rows.min'"),
        ("table:\n  rows: {min: 9, max: 2}\n", "min 9 is greater than max 2"),
        ("version: 2\n", "'version'"),
        ("- a\n", "expected a mapping at the top level"),
        ("columns:\n  a: [\n", "not valid YAML"),
    ],
)
def test_contract_errors_name_the_file_the_key_and_the_line(text: str, expected: str) -> None:
    message = problem(text)
    assert message.startswith("contracts/x.yaml")
    assert expected in message


def test_a_missing_contract_file_is_a_clear_error(tmp_path: Path) -> None:
    from monoloop.validation.contract_files import load_contract_file

    with pytest.raises(ContractError, match="does not exist") as info:
        load_contract_file(tmp_path / "nope.yaml", label="contracts/nope.yaml")
    assert "validate infer" in (info.value.hint or "")


def test_a_column_missing_from_the_data_names_contract_key_and_data() -> None:
    contract = parse_contract("columns:\n  idd: {type: integer}\ntable: {primary_key: [uid]}\n")
    frame = pd.DataFrame({"id": [1]})
    with pytest.raises(ContractError) as info:
        check_columns_exist(frame, contract, source="contracts/c.yaml", data="d.csv")
    message = info.value.message
    assert "'columns.idd' names column 'idd'" in message
    assert "'table.primary_key.0' names column 'uid'" in message
    assert "d.csv" in message and "its columns: id" in message


# ------------------------------------------------------------------ durations (property tests)


@given(st.integers(min_value=1, max_value=10**8))
def test_duration_text_round_trips(seconds: int) -> None:
    delta = dt.timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@given(st.text(max_size=20))
def test_duration_parser_accepts_or_says_why(text: str) -> None:
    try:
        delta = parse_duration(text)
    except ValueError as exc:
        assert "duration" in str(exc) or "longer than zero" in str(exc)
    else:
        assert delta > dt.timedelta(0)


def test_durations() -> None:
    assert parse_duration("1d12h") == dt.timedelta(hours=36)
    assert parse_duration("2w") == dt.timedelta(days=14)
    assert parse_duration(" 90 s ") == dt.timedelta(seconds=90)
    assert format_duration(dt.timedelta(days=17, hours=5, seconds=3), parts=2) == "2w3d"
    for bad in ("", "7", "7x", "d", "0s", "-1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


# ------------------------------------------------------------------ types


def test_integer_is_a_property_of_values_not_of_storage() -> None:
    _, bad = as_type(pd.Series([1.0, None, 3.0]), "integer")
    assert not bad.any()
    converted, bad = as_type(pd.Series(["1", "x", "2.5", None], dtype="str"), "integer")
    assert bad.tolist() == [False, True, True, False]
    assert converted[0] == 1 and pd.isna(converted[1])


@pytest.mark.parametrize(
    ("values", "kind", "bad"),
    [
        (["2024-01-01", "2024-01-01T10:00:00Z", "nope", None], "datetime", [0, 0, 1, 0]),
        (["2024-01-01", "2024-01-01T10:00:00Z"], "date", [0, 1]),
        (["true", "No", "maybe", None], "boolean", [0, 0, 1, 0]),
        ([1.5, 2.0], "float", [0, 0]),
        ([True, False], "integer", [1, 1]),
        ([1, 2], "string", [1, 1]),
        (["a", 3], "string", [0, 1]),
    ],
)
def test_value_types(values: list[object], kind: str, bad: list[int]) -> None:
    series = pd.Series(values)
    if all(isinstance(v, str) or v is None for v in values):
        series = series.astype("str")
    assert as_type(series, kind)[1].astype(int).tolist() == bad  # type: ignore[arg-type]


# ------------------------------------------------------------------ readers


frames = st.lists(
    st.tuples(
        st.integers(-(10**12), 10**12),
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=10)
        .map(str.strip)
        .filter(lambda s: s not in ("", "NA", "N/A", "NULL", "nan", "None", "null", "NaN")),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
    ),
    min_size=1,
    max_size=20,
).map(lambda rows: pd.DataFrame(rows, columns=["n", "text", "x"]))


@settings(max_examples=40, deadline=None)
@given(frames, st.sampled_from(["t.csv", "t.tsv", "t.parquet", "t.jsonl", "t.csv.gz"]))
def test_readers_round_trip(frame: pd.DataFrame, name: str) -> None:
    back = read_bytes(to_bytes(frame, name), name=name, string_columns=["text"])
    assert back["n"].tolist() == frame["n"].tolist()
    assert back["text"].tolist() == frame["text"].tolist()
    assert back["x"].tolist() == pytest.approx(frame["x"].tolist(), rel=1e-6)


def test_csv_keeps_leading_zeros_of_string_columns() -> None:
    frame = read_bytes(b"zip,n\n02134,1\n", name="a.csv", string_columns=["zip"])
    assert frame["zip"][0] == "02134"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("d.csv", b"PAR1\x00\x00PAR1", "this is a Parquet file, not CSV"),
        ("d.parquet", b"a,b\n1,2\n", "not a Parquet file (it looks like text, perhaps CSV)"),
        ("d.parquet", b'{"a": 1}\n', "it looks like JSON Lines"),
        ("d.jsonl", b'[{"a": 1}]', "not JSON Lines (a JSON array)"),
        ("d.jsonl", b"a,b\n1,2\n", "not JSON Lines"),
        ("d.csv", b'{"a": 1}\n', "looks like JSON, not CSV"),
        ("d.csv", b"a,b\x00\x01", "binary data"),
        ("d.csv", "é,b\n".encode("latin-1"), "not UTF-8 text"),
        ("d.csv", b"", "empty file"),
        ("d.csv", b'a,b\n"1,2\n', "cannot parse as CSV"),
        ("d.jsonl", b'{"a": 1}\n{"a": \n', "cannot parse as JSONL"),
        ("d.csv.gz", b"not gzip", "not valid gzip"),
        ("d.xlsx", b"", "unknown data format"),
    ],
)
def test_a_file_in_the_wrong_format_is_refused_by_name(
    name: str, data: bytes, expected: str
) -> None:
    with pytest.raises(DataReadError) as info:
        read_bytes(data, name=name)
    assert name in info.value.message
    assert expected in info.value.message
    assert info.value.exit_code == 2


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        read_path(tmp_path / "missing.csv")
    with pytest.raises(DataReadError, match="is a directory"):
        (tmp_path / "dir.csv").mkdir()
        read_path(tmp_path / "dir.csv")
    locked = tmp_path / "locked.csv"
    locked.write_text("a\n1\n")
    locked.chmod(0)
    try:
        if not locked.stat().st_mode & 0o444 and __import__("os").geteuid() != 0:
            with pytest.raises(DataReadError, match="cannot read"):
                read_path(locked)
    finally:
        locked.chmod(0o644)
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n'))
    assert read_path(gz)["a"].tolist() == [1]


# ------------------------------------------------------------------ every rule kind


def run(contract_text: str, frame: pd.DataFrame) -> dict[str, tuple[str, int, tuple[int, ...]]]:
    results = evaluate(frame, parse_contract(contract_text), now=NOW)
    return {r.rule: (r.status, r.failing, r.rows) for r in results}


def test_every_rule_kind_passes_on_good_data() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "age": [10, 20, 130],
            "status": pd.array(["active", "closed", None], dtype="str"),
            "zip": pd.array(["02134", "10001", "94105"], dtype="str"),
            "score": [0.1, 0.5, None],
            "joined": pd.array(["2021-01-01", "2022-02-02", None], dtype="str"),
            "seen": pd.to_datetime(["2024-06-01T00:00:00Z"] * 3),
            "vip": [True, False, True],
            "email": pd.array(["pz_" + "a" * 32, None, "pz_" + "b" * 32], dtype="str"),
        }
    )
    results = run(FULL, frame)
    failed = {rule: r for rule, r in results.items() if r[0] != "pass"}
    assert failed == {"columns.age.max": ("fail", 1, (3,))}
    assert len(results) == 21  # the pii rules come from the policy module, not here


@pytest.mark.parametrize(
    ("rule", "column_spec", "values", "failing_rows"),
    [
        ("type", "{type: integer}", ["1", "2.5", "x", None], (2, 3)),
        ("type", "{type: float}", ["1", "2.5", "x", None], (3,)),
        ("type", "{type: boolean}", ["true", "false", "perhaps", None], (3,)),
        ("type", "{type: datetime}", ["2024-01-01", "yesterday", None, "2024-01-01T10:00"], (2,)),
        ("type", "{type: date}", ["2024-01-01", "2024-01-01T10:00:00", None, "x"], (2, 4)),
        ("nullable", "{nullable: false}", ["a", None, "b", None], (2, 4)),
        ("unique", "{unique: true}", ["a", "b", "a", None], (1, 3)),
        ("min", "{type: integer, min: 10}", [5, 10, 20, None], (1,)),
        ("max", "{type: float, max: 1.5}", [1.0, 1.5, 2.0, None], (3,)),
        ("min", "{type: datetime, min: 2024-01-01}", ["2023-12-31", "2024-02-01"], (1,)),
        ("max", "{type: date, max: 2024-01-31}", ["2024-01-31", "2024-02-01"], (2,)),
        ("allowed", "{allowed: [red, green]}", ["red", "blue", None, "green"], (2,)),
        ("allowed", "{type: integer, allowed: [1, 2]}", [1, 2, 3, None], (3,)),
        ("pattern", "{pattern: '[A-Z]{2}\\d{3}'}", ["AB123", "ab123", "AB1234", None], (2, 3)),
        ("pattern", "{pattern: '(?!x)\\w+'}", ["abc", "xyz"], (2,)),
    ],
)
def test_each_column_rule_fails_on_the_rows_that_break_it(
    rule: str, column_spec: str, values: list[object], failing_rows: tuple[int, ...]
) -> None:
    series = pd.Series(values)
    if all(isinstance(v, str) or v is None for v in values):
        series = series.astype("str")
    results = run(f"columns:\n  c: {column_spec}\n", pd.DataFrame({"c": series}))
    status, failing, rows = results[f"columns.c.{rule}"]
    assert (status, failing, rows) == ("fail", len(failing_rows), failing_rows)


def test_table_rules() -> None:
    frame = pd.DataFrame(
        {
            "a": [1, 1, 2, None],
            "b": ["x", "x", "y", "z"],
            "t": pd.array(["2024-05-01", "2024-05-30T10:00:00Z", None, None], dtype="str"),
        }
    )
    text = """
table:
  primary_key: [a, b]
  rows: {min: 5}
  freshness: {column: t, max_age: 1d}
"""
    results = evaluate(frame, parse_contract(text), now=NOW)
    by_rule = {r.rule: r for r in results}
    key = by_rule["table.primary_key"]
    assert (key.status, key.failing, key.rows) == ("fail", 3, (1, 2, 4))
    assert by_rule["table.rows"].status == "fail"
    assert by_rule["table.rows"].detail == "4 rows"
    fresh = by_rule["table.freshness"]
    assert fresh.status == "fail" and fresh.detail == "newest is 2d2h old"
    ok = evaluate(frame, parse_contract(text.replace("1d", "3d").replace("5}", "4}")), now=NOW)
    assert {r.rule: r.status for r in ok}["table.freshness"] == "pass"
    assert {r.rule: r.status for r in ok}["table.rows"] == "pass"


def test_freshness_of_an_empty_column_fails_with_no_values() -> None:
    frame = pd.DataFrame({"t": pd.Series([None, None], dtype="str")})
    [result] = evaluate(frame, parse_contract("table: {freshness: {column: t, max_age: 1d}}"))
    assert (result.status, result.detail) == ("fail", "no values")


def test_samples_are_masked_and_numbers_shown_only_when_harmless() -> None:
    frame = pd.DataFrame(
        {
            "email": pd.array(["alice@example.com", "bob"], dtype="str"),
            "age": [200, 30],
            "account": [123456789012, 5],
        }
    )
    text = """
columns:
  email: {pattern: '[^@]+@[^@]+\\.\\w+', allowed: [x]}
  age: {max: 120}
  account: {max: 100}
"""
    results = {r.rule: r for r in evaluate(frame, parse_contract(text))}
    assert results["columns.email.allowed"].samples == ("a***@e***.com", "b***")
    assert results["columns.age.max"].samples == ("200",)
    assert results["columns.account.max"].samples == ("****9012",)
    hidden = {r.rule: r for r in evaluate(frame, parse_contract(text), sensitive={"age"})}
    assert hidden["columns.age.max"].samples == ("****",)


def test_a_check_that_cannot_run_is_an_error_result_without_values() -> None:
    frame = pd.DataFrame({"c": pd.array(["secret@example.com"], dtype="str")})
    contract = Contract.model_validate({"columns": {"c": {"min": 3}}})
    [result] = evaluate(frame, contract)
    assert result.status == "error"
    assert result.detail.startswith("check raised")
    assert "secret" not in result.detail


# ------------------------------------------------------------------ the package surface


def test_the_contract_model_loads_without_pandas() -> None:
    # monoloop.yaml embeds Contract: loading the config must not pay for pandas and pandera.
    code = (
        "import sys, monoloop.validation.contract, monoloop.validation; "
        "assert 'pandas' not in sys.modules and 'pandera' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_exported_name_resolves() -> None:
    import monoloop.validation as api

    for name in api.__all__:
        assert getattr(api, name) is not None, name
    with pytest.raises(AttributeError):
        api.nothing_here  # noqa: B018
