"""Gate rules: `auc >= 0.8`, `auc >= champion.auc - 0.005`, `rmse <= 1.1 * champion.rmse`.

A rule is one comparison between two arithmetic expressions of numbers, the candidate's
metrics (`auc`) and the metrics of the current holder of an alias (`champion.auc`). It is
parsed with Python's own parser and then checked against a small whitelist of node types,
so nothing but arithmetic and comparison is ever evaluated.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from monoloop.errors import InvalidInput

_COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[float, float], bool]]] = {
    ast.GtE: (">=", operator.ge),
    ast.Gt: (">", operator.gt),
    ast.LtE: ("<=", operator.le),
    ast.Lt: ("<", operator.lt),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}
_ARITH: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RuleError(InvalidInput):
    """A gate rule cannot be parsed or refers to something that is not there."""


@dataclass(frozen=True)
class Rule:
    text: str
    op: str
    left: ast.expr
    right: ast.expr

    @property
    def metrics(self) -> set[str]:
        """The candidate's metrics the rule reads."""
        return {name for alias, name in _operands(self) if alias is None}

    @property
    def aliases(self) -> set[str]:
        """The aliases whose holders' metrics the rule reads (`champion` in champion.auc)."""
        return {alias for alias, _ in _operands(self) if alias is not None}

    def evaluate(
        self, metrics: Mapping[str, float], refs: Mapping[str, Mapping[str, float]] | None = None
    ) -> Outcome:
        """Evaluate against the candidate's metrics and each alias holder's metrics."""
        refs = refs or {}
        left = _value(self.left, metrics, refs, self.text)
        right = _value(self.right, metrics, refs, self.text)
        passed = _COMPARE_BY_TEXT[self.op](left, right)
        return Outcome(passed=passed, left=left, right=right)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    left: float
    right: float

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "left": self.left, "right": self.right}


_COMPARE_BY_TEXT = {text: fn for text, fn in _COMPARE.values()}


def parse_rule(text: str) -> Rule:
    """Parse `EXPR OP EXPR`; every problem is a RuleError that quotes the rule."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError("a gate rule is empty", hint="write e.g. 'auc >= 0.8'")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise RuleError(
            f"gate rule {text!r} is not a comparison I can read",
            hint="write e.g. 'auc >= 0.8' or 'auc >= champion.auc - 0.005'",
        ) from None
    body = tree.body
    if not isinstance(body, ast.Compare) or len(body.ops) != 1:
        raise RuleError(
            f"gate rule {text!r} must compare two sides with one of >=, >, <=, <, ==, !=",
            hint="write e.g. 'auc >= 0.8'",
        )
    op = _COMPARE.get(type(body.ops[0]))
    if op is None:
        raise RuleError(f"gate rule {text!r}: unsupported comparison", hint="use >=, >, <=, <")
    rule = Rule(text=text.strip(), op=op[0], left=body.left, right=body.comparators[0])
    for side in (rule.left, rule.right):
        _check(side, text)
    return rule


def _check(node: ast.expr, text: str) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise RuleError(f"gate rule {text!r}: {node.value!r} is not a number")
    elif isinstance(node, ast.Name):
        if not _METRIC.match(node.id):
            raise RuleError(f"gate rule {text!r}: bad metric name {node.id!r}")
    elif isinstance(node, ast.Attribute):
        if not isinstance(node.value, ast.Name):
            raise RuleError(
                f"gate rule {text!r}: only ALIAS.metric may contain a dot",
                hint="write e.g. champion.auc",
            )
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise RuleError(f"gate rule {text!r}: only + - * / are allowed")
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, text)
    else:
        raise RuleError(
            f"gate rule {text!r}: {ast.unparse(node)!r} is not a number, metric or ALIAS.metric",
            hint="use numbers, metric names, ALIAS.metric and + - * /",
        )


def _operands(rule: Rule) -> list[tuple[str | None, str]]:
    """(alias or None, metric) for every metric the rule names."""
    found: list[tuple[str | None, str]] = []

    def visit(node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            found.append((None, node.id))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.append((node.value.id, node.attr))
        elif isinstance(node, ast.BinOp):
            visit(node.left)
            visit(node.right)
        elif isinstance(node, ast.UnaryOp):
            visit(node.operand)

    visit(rule.left)
    visit(rule.right)
    return found


def _value(
    node: ast.expr,
    metrics: Mapping[str, float],
    refs: Mapping[str, Mapping[str, float]],
    text: str,
) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # _check admitted only numbers
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in metrics:
            known = ", ".join(sorted(metrics)) or "none"
            raise RuleError(
                f"gate rule {text!r} reads metric {node.id!r}, which the model version lacks",
                hint=f"log it in the training run, or change the rule (metrics: {known})",
            )
        return float(metrics[node.id])
    if isinstance(node, ast.Attribute):
        assert isinstance(node.value, ast.Name)
        alias, metric = node.value.id, node.attr
        if alias not in refs:
            raise RuleError(
                f"gate rule {text!r} compares with {alias!r}, which no version holds",
                hint=f"promote a first version to {alias!r} (monoloop models alias), "
                "or drop the comparison",
            )
        if metric not in refs[alias]:
            raise RuleError(
                f"gate rule {text!r} reads {alias}.{metric}, which the {alias} lacks",
                hint="compare on a metric both versions have",
            )
        return float(refs[alias][metric])
    if isinstance(node, ast.UnaryOp):
        inner = _value(node.operand, metrics, refs, text)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left = _value(node.left, metrics, refs, text)
        right = _value(node.right, metrics, refs, text)
        try:
            return _ARITH[type(node.op)](left, right)
        except ZeroDivisionError:
            raise RuleError(f"gate rule {text!r} divides by zero") from None
    raise RuleError(f"gate rule {text!r}: cannot evaluate {ast.unparse(node)!r}")
