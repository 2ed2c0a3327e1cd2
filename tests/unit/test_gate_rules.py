"""Gate rules: the parser accepts arithmetic comparisons and nothing else, and evaluates
them exactly as Python would (property tests over generated rules)."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monoloop.errors import ConfigError
from monoloop.registry.rules import RuleError, parse_rule

METRICS = ["auc", "acc", "rmse", "f1"]
ALIASES = ["champion", "baseline"]

numbers = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(lambda x: round(x, 3))
operand = st.one_of(
    numbers.map(repr),
    st.sampled_from(METRICS),
    st.builds(lambda a, m: f"{a}.{m}", st.sampled_from(ALIASES), st.sampled_from(METRICS)),
)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(operand)
    op = draw(st.sampled_from(["+", "-", "*"]))
    return f"({draw(expressions(depth - 1))} {op} {draw(expressions(depth - 1))})"


values = st.dictionaries(st.sampled_from(METRICS), numbers, min_size=len(METRICS))


@given(
    left=expressions(),
    op=st.sampled_from([">=", ">", "<=", "<", "==", "!="]),
    right=expressions(),
    mine=values,
    champion=values,
    baseline=values,
)
def test_rules_evaluate_like_python(
    left: str, op: str, right: str, mine: dict, champion: dict, baseline: dict
) -> None:
    text = f"{left} {op} {right}"
    rule = parse_rule(text)
    outcome = rule.evaluate(mine, {"champion": champion, "baseline": baseline})

    class Ref:
        def __init__(self, values: dict) -> None:
            self.__dict__.update(values)

    scope = {**mine, "champion": Ref(champion), "baseline": Ref(baseline)}
    lhs = eval(left, {"__builtins__": {}}, scope)
    rhs = eval(right, {"__builtins__": {}}, scope)
    compare = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
               "==": operator.eq, "!=": operator.ne}[op]  # fmt: skip
    assert outcome.left == pytest.approx(lhs) and outcome.right == pytest.approx(rhs)
    assert outcome.passed == compare(outcome.left, outcome.right)
    named = {m for m in METRICS if m in text.replace("champion.", "").replace("baseline.", "")}
    assert rule.metrics <= set(METRICS) and rule.metrics <= named
    assert rule.aliases == {a for a in ALIASES if f"{a}." in text}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "auc",
        "auc >= 0.8 >= 0.1",
        "__import__('os').system('true') > 0",
        "auc >= 'x'",
        "auc >= True",
        "f(auc) > 1",
        "a.b.c > 1",
        "auc ** 2 > 1",
        "[auc] > 1",
        "auc >= 0.8 and auc <= 1",
        "lambda: 1 > 0",
        "auc is None",
    ],
)
def test_anything_but_arithmetic_comparison_is_refused(text: str) -> None:
    with pytest.raises(RuleError):
        parse_rule(text)


def test_missing_metric_and_alias_are_named() -> None:
    rule = parse_rule("auc >= champion.auc - 0.005")
    with pytest.raises(RuleError, match="reads metric 'auc'"):
        rule.evaluate({"acc": 1.0}, {"champion": {"auc": 0.9}})
    with pytest.raises(RuleError, match="'champion', which no version holds"):
        rule.evaluate({"auc": 0.9}, {})
    with pytest.raises(RuleError, match=r"champion\.auc, which the champion lacks"):
        rule.evaluate({"auc": 0.9}, {"champion": {"acc": 0.9}})
    with pytest.raises(RuleError, match="divides by zero"):
        parse_rule("auc / 0 > 1").evaluate({"auc": 1.0})


def test_gate_config_errors_name_the_gate() -> None:
    from monoloop.config import parse_config

    base = "version: 1\nproject: p\nmodels:\n  churn:\n    gates:\n"
    parse_config(base + "      - metric: auc >= 0.8\n      - max_size_mb: 5\n")
    for bad, message in [
        ("      - metric: auc >=\n", "not a comparison"),
        ("      - metric: auc >= 1\n        max_size_mb: 3\n", "exactly one of"),
        ("      - slice: region\n", "go together"),
        ("      - slice: region\n        rule: acc >= champion.acc\n", "not with an alias"),
        ("      - latency_p99_ms: -1\n", "greater than 0"),
        ("      - metrik: auc > 1\n", "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_config(base + bad)
