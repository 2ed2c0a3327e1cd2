"""The run filter language, the param encoding and the text chart: pure functions, no DB."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monoloop.errors import InvalidInput
from monoloop.tracking.model import Param, check_prefix, check_run_id
from monoloop.tracking.plot import line_chart
from monoloop.tracking.where import (
    And,
    Compare,
    Expr,
    Field,
    Not,
    Or,
    Order,
    evaluate,
    glob_regex,
    parse,
    parse_order,
    unparse,
)

M = Field("metrics", "acc")
LR = Field("params", "lr")


def test_the_documented_examples_parse() -> None:
    assert parse("metrics.acc > 0.9 and params.lr = 0.1") == And(
        Compare(M, ">", 0.9), Compare(LR, "=", 0.1)
    )
    assert parse("params.model = \"rf\" or tags.team != 'x'") == Or(
        Compare(Field("params", "model"), "=", "rf"), Compare(Field("tags", "team"), "!=", "x")
    )
    assert parse("status = failed") == Compare(Field("run", "status"), "=", "failed")
    assert parse('name ~ "sweep*"') == Compare(Field("run", "name"), "~", "sweep*")


def test_precedence_parentheses_and_not() -> None:
    a, b, c = (Compare(Field("metrics", k), ">", 1.0) for k in "abc")
    assert parse("metrics.a > 1 or metrics.b > 1 and metrics.c > 1") == Or(a, And(b, c))
    assert parse("(metrics.a > 1 or metrics.b > 1) and metrics.c > 1") == And(Or(a, b), c)
    assert parse("not metrics.a > 1 and metrics.b > 1") == And(Not(a), b)
    assert parse("NOT (metrics.a > 1)") == Not(a)


def test_values_keys_and_spellings() -> None:
    assert parse("params.lr = 1e-3") == Compare(LR, "=", 0.001)
    assert parse("params.lr == -.5") == Compare(LR, "=", -0.5)
    assert parse('params.lr = "0.1"') == Compare(LR, "=", "0.1")
    assert parse("tags.version = 2") == Compare(Field("tags", "version"), "=", "2")
    assert parse('metrics."val loss" < 3') == Compare(Field("metrics", "val loss"), "<", 3.0)
    assert parse("metrics.val/loss <= 3") == Compare(Field("metrics", "val/loss"), "<=", 3.0)
    assert parse("metrics.a.b >= 3") == Compare(Field("metrics", "a.b"), ">=", 3.0)
    assert parse("start > '2024-05-01'") == Compare(Field("run", "start"), ">", 1714521600.0)
    assert parse("end < 1714521600") == Compare(Field("run", "end"), "<", 1714521600.0)
    assert parse("name !~ 'x?'") == Compare(Field("run", "name"), "!~", "x?")
    assert parse(r"name = 'it\'s'") == Compare(Field("run", "name"), "=", "it's")


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("metrics.acc >", 14, "a number or a quoted string"),
        ("metrics.acc > 0.9 and", 22, "a field"),
        ("(status = x", 12, "')'"),
        ("metrics.acc 0.9", 13, "an operator"),
        ("bogus = 1", 1, "a field"),
        ("metrics. = 1", 10, "a key after metrics."),
        ("status = x y", 12, "and, or"),
        ("status = 'open", 10, "a field, a value"),
        ("", 1, "a filter expression"),
        ("metrics.acc = 'high'", 13, "a number to compare metrics.acc"),
        ("metrics.acc ~ 'a*'", 13, "works on text fields only"),
        ("params.x ~ 3", 10, "a quoted glob"),
        ("start > 'yesterday'", 7, "ISO date"),
    ],
)
def test_bad_expressions_name_the_position_and_the_expected_token(
    text: str, position: int, expected: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    assert f"position {position}:" in caught.value.message
    assert expected in caught.value.message
    assert caught.value.hint and "^" in caught.value.hint


def test_order_spellings() -> None:
    assert parse_order("metrics.acc") == Order(M, False)
    assert parse_order("-metrics.acc") == Order(M, True)
    assert parse_order("metrics.acc desc") == Order(M, True)
    assert parse_order("start ASC") == Order(Field("run", "start"), False)
    with pytest.raises(InvalidInput, match="position"):
        parse_order("metrics.acc sideways")
    with pytest.raises(InvalidInput, match="a field to order by"):
        parse_order("-")


def test_globs_treat_only_star_and_question_mark_as_special() -> None:
    assert glob_regex("sweep*").fullmatch("sweep-12")
    assert glob_regex("a?c").fullmatch("abc") and not glob_regex("a?c").fullmatch("ac")
    assert glob_regex("[x].%_").fullmatch("[x].%_")
    assert not glob_regex("[x]").fullmatch("x")


# Property tests -------------------------------------------------------------------------

keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1)
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def comparisons(draw: st.DrawFn) -> Compare:
    ns = draw(st.sampled_from(["metrics", "params", "tags", "run"]))
    if ns == "run":
        key = draw(st.sampled_from(["status", "name", "pipeline", "start", "end"]))
    else:
        key = draw(keys)
    numeric = ns == "metrics" or key in ("start", "end") or (ns == "params" and draw(st.booleans()))
    ops = ["=", "!=", "<", "<=", ">", ">="] + ([] if numeric else ["~", "!~"])
    value = draw(numbers) if numeric else draw(texts)
    return Compare(Field(ns, key), draw(st.sampled_from(ops)), value)


expressions = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.builds(And, inner, inner), st.builds(Or, inner, inner), st.builds(Not, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=200)
@given(expressions)
def test_printing_and_parsing_round_trip(expr: Expr) -> None:
    assert parse(unparse(expr)) == expr


@st.composite
def fake_runs(draw: st.DrawFn) -> Any:
    return SimpleNamespace(
        status=draw(st.sampled_from(["running", "finished", "failed"])),
        name=draw(st.none() | texts),
        pipeline=None,
        start=draw(numbers),
        end=draw(st.none() | numbers),
        metrics=draw(st.dictionaries(keys, st.floats(allow_infinity=False), max_size=3)),
        params=draw(st.dictionaries(keys, numbers | texts, max_size=3)),
        tags=draw(st.dictionaries(keys, texts, max_size=3)),
    )


@given(expressions, fake_runs())
def test_not_is_the_complement_and_missing_keys_match_nothing(expr: Expr, run: Any) -> None:
    assert evaluate(Not(expr), run) is not evaluate(expr, run)
    if isinstance(expr, Compare) and expr.field.ns != "run":
        table = getattr(run, expr.field.ns)
        if expr.field.key not in table:
            assert not evaluate(expr, run)


param_values = (
    texts
    | numbers
    | st.integers(-(2**53), 2**53)
    | st.booleans()
    | st.none()
    | st.lists(numbers, max_size=5)
)


@given(keys.filter(lambda k: len(k) <= 250), param_values)
def test_params_round_trip_with_their_types(key: str, value: Any) -> None:
    stored = Param.of(key, value)
    back = stored.value()
    assert back == value and type(back) is type(value)
    assert (stored.num is not None) == (isinstance(value, int | float) and type(value) is not bool)


def test_non_finite_params_are_numbers_without_an_index_value() -> None:
    stored = Param.of("x", float("inf"))
    assert (stored.kind, stored.text, stored.num) == ("n", "inf", None)
    assert math.isnan(Param.of("x", float("nan")).value())
    with pytest.raises(InvalidInput, match="more than 500"):
        Param.of("x", "y" * 501)
    with pytest.raises(InvalidInput, match="no JSON form"):
        Param.of("x", object())


def test_run_ids_and_prefixes() -> None:
    assert check_run_id("a" * 32) == "a" * 32
    assert check_prefix(" ABCDEF ") == "abcdef"
    for bad in ("abc", "g" * 6, "a" * 33):
        with pytest.raises(InvalidInput):
            check_prefix(bad)
    with pytest.raises(InvalidInput, match="not a run id") as caught:
        check_run_id("A" * 32)
    assert "32 lowercase hex" in (caught.value.hint or "")


def test_line_chart_draws_within_its_frame() -> None:
    lines = line_chart([(s, math.sin(s / 5)) for s in range(100)], width=40, height=10)
    assert len(lines) == 12
    body = lines[:10]
    assert all(len(line) <= len(lines[10]) for line in body)
    assert sum(line.count("*") for line in body) >= 40
    assert lines[-1].split() == ["0", "99"]
    assert line_chart([(0, math.nan)]) == ["(no finite values to plot)"]
