"""A sweep's grid: `--grid key=v1,v2` options as data, and the trials they make.

    grid = parse_grid(["train.lr=0.1,0.01", "train.depth=3,5"])
    expand(grid)   # [{'train.lr': 0.1, 'train.depth': 3}, {... 0.1, 5}, {0.01, 3}, {0.01, 5}]

Values are read like `-p` values (YAML: 0.1 is a number, true a boolean, [1, 2] a list);
commas inside brackets, braces or quotes do not split. Pure: no files, no workspace.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from monoloop.canonical import canonical_json
from monoloop.errors import InvalidInput
from monoloop.pipelines.params import parse_value

MAX_TRIALS = 1000
_EXAMPLE = "--grid train.lr=0.1,0.01"


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`key=v1,v2,...` strings as {key: [values]}, in the order given."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise InvalidInput(
                f"--grid {item!r} is not key=value[,value...]",
                hint=f"write --grid section.key=value,value, e.g. {_EXAMPLE}",
            )
        if key in grid:
            raise InvalidInput(
                f"--grid names {key} twice", hint=f"list all its values once: --grid {key}=a,b"
            )
        grid[key] = [parse_value(piece) for piece in _split(item, text)]
    return grid


def _split(item: str, text: str) -> list[str]:
    """`text` split at the commas outside brackets, braces and quotes."""
    pieces: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    if any(not p.strip() for p in pieces):
        raise InvalidInput(
            f"--grid {item!r} has an empty value",
            hint=f"separate values with single commas, e.g. {_EXAMPLE}",
        )
    return [p.strip() for p in pieces]


def expand(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last key varying fastest."""
    if not grid:
        raise InvalidInput(
            "a sweep needs a grid of params to try", hint=f"give one or more {_EXAMPLE}"
        )
    for key, values in grid.items():
        if not values:
            raise InvalidInput(f"--grid {key} has no values", hint=f"e.g. {_EXAMPLE}")
        seen: set[bytes] = set()
        for value in values:
            text = canonical_json(value)
            if text in seen:
                raise InvalidInput(
                    f"--grid {key} lists {text.decode()} twice",
                    hint="list each value once: a trial per combination",
                )
            seen.add(text)
    count = 1
    for values in grid.values():
        count *= len(values)
    if count > MAX_TRIALS:
        raise InvalidInput(
            f"the grid makes {count} trials, more than {MAX_TRIALS}",
            hint="sweep fewer values, or split the sweep in parts",
        )
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def uses(stage_params: Sequence[str], key: str) -> bool:
    """Whether a stage declaring `stage_params` reads param `key`: the same key, a section
    holding it (`train` holds `train.lr`), or a key inside it."""
    return any(p == key or key.startswith(p + ".") or p.startswith(key + ".") for p in stage_params)
