"""Contract files: YAML in, a validated `Contract` out, or an error naming file, key and line.

Dates stay text (a `min: 2024-13-01` is our error, not a YAML crash), and the key
paths in errors are the ones in the file, not pydantic's internal ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from monoloop.validation.contract import (
    ColumnSpec,
    Contract,
    ContractError,
    kind_of,
    rule_conflicts,
)
from monoloop.yamlkeys import key_lines


def load_contract_file(path: Path, *, label: str | None = None) -> Contract:
    """Read and validate a contract file; every problem names the file, key path and line."""
    return read_contract(path, label=label)[0]


def read_contract(path: Path, *, label: str | None = None) -> tuple[Contract, str]:
    """The contract in a file and the file's text (to point later errors at lines)."""
    source = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(
            f"contract {source} does not exist",
            hint="create it, e.g. with `monoloop validate infer DATA -o contracts/NAME.yaml`",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read contract {source}: {exc}") from None
    return parse_contract(text, source=source), text


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as text: `min: 2024-13-01` must be our error, not a crash."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_contract(text: str, *, source: str = "contract") -> Contract:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError(
            f"{source}{where}: not valid YAML: {problem}",
            hint="fix the YAML syntax (indentation, colons, quotes) at that position",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ContractError(
            f"{source}: expected a mapping at the top level, found {kind_of(data)}",
            hint="start the file with `version: 1` and a `columns:` mapping",
        )
    return contract_from_mapping(data, source=source, text=text)


def contract_from_mapping(
    data: Mapping[str, Any], *, source: str = "contract", text: str | None = None
) -> Contract:
    lines = key_lines(text) if text else {}
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(
            describe_errors(exc, source, lines), hint="see docs/validation.md for every key"
        ) from None
    problems = [
        f"'{path}'{_at(lines, path)}: {message}" for path, message in rule_conflicts(contract)
    ]
    if problems:
        count = f"{len(problems)} problems" if len(problems) > 1 else "invalid contract"
        raise ContractError(
            f"{source}: {count}: " + "; ".join(problems),
            hint="make each column's rules fit its type (see docs/validation.md)",
        )
    return contract


def _at(lines: Mapping[tuple[str, ...], int], path: str) -> str:
    line = lines.get(tuple(path.split(".")))
    return f" (line {line})" if line else ""


def describe_errors(exc: ValidationError, source: str, lines: Mapping[tuple[str, ...], int]) -> str:
    """One readable sentence per problem: key path, line, what was found, what is expected."""
    problems: dict[str, str] = {}
    for err in exc.errors():
        loc = _visible_loc(tuple(str(p) for p in err["loc"]), lines)
        path = ".".join(loc) or "(top level)"
        line = lines.get(loc)
        at = f" (line {line})" if line else ""
        if path in problems:
            continue
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            expected = f": expected one of {', '.join(allowed)}" if allowed else ""
            problems[path] = f"unknown key '{path}'{at}{expected}{guess}"
        elif err["type"] == "missing":
            problems[path] = f"'{path}'{at} is required but missing"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            found = err.get("input")
            problems[path] = f"'{path}'{at}: found {_show(found)} ({kind_of(found)}): {message}"
    count = f"{len(problems)} problems" if len(problems) > 1 else "invalid contract"
    return f"{source}: {count}: " + "; ".join(problems.values())


def _visible_loc(loc: tuple[str, ...], lines: Mapping[tuple[str, ...], int]) -> tuple[str, ...]:
    # pydantic adds parts the user never wrote: the `value` of a short-form rule and the
    # names of union members. Drop them so the path is the one in the file.
    out: tuple[str, ...] = ()
    for part in loc:
        if part.startswith(("function-", "list[", "literal[")):
            continue
        if part == "value" and (*out, part) not in lines:
            continue
        out = (*out, part)
    return out


def _allowed_keys(loc: tuple[str, ...]) -> list[str]:
    model: type[BaseModel] = Contract
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if model is Contract and part == "columns":
            if not parts:
                return []
            parts.pop(0)  # the column's name
            model = ColumnSpec
            continue
        field = model.model_fields.get(part)
        annotation = _model_in(field.annotation if field else None)
        if annotation is None:
            return []
        model = annotation
    return list(model.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    metadata = getattr(annotation, "__origin__", None)
    return _model_in(metadata) if metadata is not None and metadata is not annotation else None


def key_line(text: str, path: str) -> int | None:
    """The line of a dotted key path in a contract's YAML text, for errors found later."""
    return key_lines(text).get(tuple(path.split(".")))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
