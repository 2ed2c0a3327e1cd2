"""The run filter language: parsed to a small AST, checked, and evaluated or compiled to SQL.

    metrics.acc > 0.9 and params.lr = 0.1
    params.model = "rf" or tags.team != 'x'
    status = failed and not (name ~ "sweep*" or stage = train)

Fields are `metrics.K`, `params.K`, `tags.K` (K may be quoted: `tags."my key"`) and the run
columns in `COLUMNS`. Operators: = != < <= > >=, and ~ / !~ for globs (* and ?). Values are
numbers, quoted strings, or bare words (`status = failed`). A comparison on a key a run does
not have is false, and so is one on a NaN metric; `not` negates that. Metrics compare as
numbers; a param compares as a number against a number and as text against a string.
`start` and `end` take epoch seconds or an ISO date ("2024-05-01" or "2024-05-01T12:00").

This module is pure: `query.py` compiles the AST to SQLAlchemy for the metadata DB.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from monoloop.errors import InvalidInput

NAMESPACES = ("metrics", "params", "tags")
TEXT_COLUMNS = ("id", "status", "name", "pipeline", "stage", "git_commit", "actor")
TIME_COLUMNS = ("start", "end")
COLUMNS = TEXT_COLUMNS + TIME_COLUMNS
OPS = ("=", "!=", "<", "<=", ">", ">=", "~", "!~")
KEYWORDS = ("and", "or", "not")
FIELD_HELP = "metrics.KEY, params.KEY, tags.KEY, " + ", ".join(COLUMNS)


@dataclass(frozen=True)
class Field:
    ns: str  # "metrics" | "params" | "tags" | "run"
    key: str


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str
    value: float | str


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Compare | And | Or | Not


@dataclass(frozen=True)
class Order:
    field: Field
    descending: bool


# Lexing ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>!=|<=|>=|==|!~|[=<>~])
  | (?P<paren>[()])
  | (?P<word>[A-Za-z_][\w.\-/:]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | str | op | paren | word | end
    text: str
    pos: int  # 0-based offset into the expression


def _lex(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            _fail(source, pos, "a field, a value, an operator or a parenthesis")
        assert m.lastgroup is not None
        if m.lastgroup != "ws":
            tokens.append(_Tok(m.lastgroup, m.group(), pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(source)))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _fail(source: str, pos: int, expected: str) -> NoReturn:
    found = source[pos : pos + 12] or "the end"
    raise InvalidInput(
        f"bad filter at position {pos + 1}: expected {expected}, found {found!r}",
        hint=f"fields: {FIELD_HELP}; ops: {' '.join(OPS)}; join with and/or/not\n"
        f"    {source}\n    {' ' * pos}^",
    )


# Parsing --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _lex(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        if self.tok.kind == "word" and self.tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def expr(self) -> Expr:
        left = self.conj()
        while self.keyword("or"):
            left = Or(left, self.conj())
        return left

    def conj(self) -> Expr:
        left = self.neg()
        while self.keyword("and"):
            left = And(left, self.neg())
        return left

    def neg(self) -> Expr:
        if self.keyword("not"):
            return Not(self.neg())
        if self.tok.kind == "paren" and self.tok.text == "(":
            self.i += 1
            inner = self.expr()
            if not (self.tok.kind == "paren" and self.tok.text == ")"):
                _fail(self.source, self.tok.pos, "')' or and/or")
            self.i += 1
            return inner
        return self.compare()

    def field(self) -> Field:
        tok = self.tok
        if tok.kind != "word" or tok.text.lower() in KEYWORDS:
            _fail(self.source, tok.pos, f"a field ({FIELD_HELP}) or '('")
        self.i += 1
        ns, dot, key = tok.text.partition(".")
        if ns in NAMESPACES and dot:
            if not key and self.tok.kind == "str":  # metrics."a key with spaces"
                key = _unquote(self.tok.text)
                self.i += 1
            if key:
                return Field(ns, key)
            _fail(self.source, self.tok.pos, f"a key after {ns}.")
        if not dot and tok.text in COLUMNS:
            return Field("run", tok.text)
        return _fail(self.source, tok.pos, f"a field ({FIELD_HELP})")

    def compare(self) -> Compare:
        field = self.field()
        op_tok = self.tok
        if op_tok.kind != "op":
            _fail(self.source, op_tok.pos, "an operator (" + " ".join(OPS) + ")")
        self.i += 1
        op = "=" if op_tok.text == "==" else op_tok.text
        val = self.tok
        value: float | str
        if val.kind == "num" and (field.ns in ("tags", "run") and field.key not in TIME_COLUMNS):
            value = val.text  # a number typed against a text field means its spelling
        elif val.kind == "num":
            value = float(val.text)
        elif val.kind == "str":
            value = _unquote(val.text)
        elif val.kind == "word" and val.text.lower() not in KEYWORDS:
            value = val.text
        else:
            return _fail(self.source, val.pos, "a number or a quoted string")
        self.i += 1
        return _check(Compare(field, op, value), self.source, op_tok.pos)


def _check(c: Compare, source: str, pos: int) -> Compare:
    """Type rules: what each field can be compared with, told at parse time."""
    f = c.field
    if c.op in ("~", "!~"):
        if f.ns == "metrics" or f.key in TIME_COLUMNS:
            _fail(source, pos, f"a comparison: {c.op} (glob) works on text fields only")
        if isinstance(c.value, float):
            _fail(source, pos, f"a quoted glob pattern after {c.op}")
    if f.ns == "metrics" and not isinstance(c.value, float):
        _fail(source, pos, f"a number to compare metrics.{f.key} with (metrics are numbers)")
    if f.ns == "run" and f.key in TIME_COLUMNS and isinstance(c.value, str):
        return Compare(f, c.op, _parse_time(c.value, source, pos))
    return c


def _parse_time(text: str, source: str, pos: int) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(source, pos, "epoch seconds or an ISO date like 2024-05-01T12:00 (UTC)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse(source: str) -> Expr:
    """The AST of a filter expression; InvalidInput naming the position and what was expected."""
    parser = _Parser(source)
    if parser.tok.kind == "end":
        _fail(source, 0, "a filter expression")
    tree = parser.expr()
    if parser.tok.kind != "end":
        _fail(source, parser.tok.pos, "and, or, or the end of the filter")
    return tree


def parse_order(text: str) -> Order:
    """`metrics.acc` (ascending), `-metrics.acc` or `metrics.acc desc` (descending)."""
    spec = text.strip()
    descending = False
    if spec.startswith("-"):
        descending, spec = True, spec[1:].strip()
    words = spec.rsplit(None, 1)
    if len(words) == 2 and words[1].lower() in ("asc", "desc"):
        descending, spec = words[1].lower() == "desc", words[0]
    parser = _Parser(spec)
    if parser.tok.kind == "end":
        _fail(spec, 0, f"a field to order by ({FIELD_HELP})")
    field = parser.field()
    if parser.tok.kind != "end":
        _fail(spec, parser.tok.pos, "the end of the order (add ' desc' or a leading '-')")
    return Order(field, descending)


# Printing and evaluating ------------------------------------------------------------------


def _name(f: Field) -> str:
    if f.ns == "run":
        return f.key
    if re.fullmatch(r"[\w.\-/:]+", f.key):
        return f"{f.ns}.{f.key}"
    return f"{f.ns}.{_quote(f.key)}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unparse(expr: Expr) -> str:
    """The canonical text of an AST; `parse(unparse(e)) == e`."""
    if isinstance(expr, Compare):
        v = expr.value
        value = repr(v) if isinstance(v, float) else _quote(v)
        return f"{_name(expr.field)} {expr.op} {value}"
    if isinstance(expr, Not):
        return f"not ({unparse(expr.item)})"
    word = "and" if isinstance(expr, And) else "or"
    return f"({unparse(expr.left)}) {word} ({unparse(expr.right)})"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` is any run of characters, `?` is one; everything else stands for itself."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def evaluate(expr: Expr, run: Any) -> bool:
    """The filter applied to one run in Python (a `Run`); the SQL compilation must agree."""
    if isinstance(expr, And):
        return evaluate(expr.left, run) and evaluate(expr.right, run)
    if isinstance(expr, Or):
        return evaluate(expr.left, run) or evaluate(expr.right, run)
    if isinstance(expr, Not):
        return not evaluate(expr.item, run)
    return _compare(expr, run)


def _compare(c: Compare, run: Any) -> bool:
    f, want = c.field, c.value
    have: Any
    if f.ns == "metrics":
        have = run.metrics.get(f.key)
        if have is None or math.isnan(have):
            return False
    elif f.ns == "params":
        if f.key not in run.params:
            return False
        from monoloop.tracking.model import Param

        stored = Param.of(f.key, run.params[f.key])
        have = stored.text if isinstance(want, str) else stored.num
        if have is None:
            return False
    elif f.ns == "tags":
        have = run.tags.get(f.key)
    else:
        have = getattr(run, f.key)
    if have is None:
        return False
    if c.op in ("~", "!~"):
        return bool(glob_regex(str(want)).fullmatch(have)) == (c.op == "~")
    ops: dict[str, Any] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return bool(ops[c.op](have, want))
