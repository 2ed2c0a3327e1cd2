"""params.yaml: the values stages declare by dotted key, and `-p key=value` overrides.

A stage lists keys (`params: [prepare.split, train]`); a key may name a leaf or a whole
section. The values it gets (after overrides) go into its cache key, the lock file and its
tracked run, and reach the stage as JSON in the environment variable MONOLOOP_PARAMS
(and as the `params` argument of a `call` function that declares one), so an override
changes what the stage sees without editing params.yaml.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoloop.errors import ConfigError, InvalidInput
from monoloop.pipelines import yamlcache

PARAMS_FILE = "params.yaml"
ENV_PARAMS = "MONOLOOP_PARAMS"


@dataclass
class Params:
    doc: dict[str, Any] = field(default_factory=dict)
    exists: bool = False
    overridden: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """The value at a dotted key; KeyError when there is none."""
        value: Any = self.doc
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(key)
            value = value[part]
        return value

    def has(self, key: str) -> bool:
        try:
            self.get(key)
        except KeyError:
            return False
        return True

    def keys(self) -> list[str]:
        """Every dotted key, sections and leaves, for suggestions."""
        found: list[str] = []

        def walk(node: Mapping[str, Any], prefix: str) -> None:
            for key, value in node.items():
                found.append(prefix + key)
                if isinstance(value, dict):
                    walk(value, prefix + key + ".")

        walk(self.doc, "")
        return found

    def values(self, keys: Iterable[str]) -> dict[str, Any]:
        return {key: self.get(key) for key in keys}


def load(root: Path, state_dir: Path) -> Params:
    """params.yaml at the workspace root (an empty Params when there is none)."""
    try:
        doc, digest = yamlcache.load(root / PARAMS_FILE, state_dir, "params")
    except Exception as exc:  # yaml.YAMLError; yaml is imported only on this slow path
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{PARAMS_FILE} is not valid YAML: {first}",
            hint=f"fix the YAML syntax in {PARAMS_FILE}",
        ) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{PARAMS_FILE} must be a mapping of keys to values",
            hint="write it as `section: {key: value}` pairs, e.g. `train: {lr: 0.01}`",
        )
    return Params(doc, digest is not None)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`key=value` strings; each value is read as YAML (0.3 is a number, [1, 2] a list)."""
    found: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise InvalidInput(
                f"-p {item!r} is not key=value",
                hint="write -p section.key=value, e.g. -p train.lr=0.01",
            )
        found[key] = parse_value(text)
    return found


def parse_value(text: str) -> Any:
    """A value given on the command line, read as YAML (0.3 is a number, [1, 2] a list,
    anything that does not parse a string)."""
    if not text.strip():
        return ""
    import yaml

    try:
        return yamlcache.normalise(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def apply_overrides(params: Params, overrides: Mapping[str, Any]) -> Params:
    """A copy of `params` with each override set; every key must exist in params.yaml."""
    if not overrides:
        return params
    doc = copy.deepcopy(params.doc)
    for key, value in overrides.items():
        if not params.has(key):
            import difflib

            close = difflib.get_close_matches(key, params.keys(), n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            raise InvalidInput(
                f"-p {key}: there is no '{key}' in {PARAMS_FILE}{guess}",
                hint=f"overrides change values of {PARAMS_FILE}; add the key there first",
            )
        *parents, last = key.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value
    return Params(doc, params.exists, dict(overrides))


def stage_env(values: Mapping[str, Any]) -> str:
    """What the stage process finds in MONOLOOP_PARAMS."""
    return json.dumps(dict(values), sort_keys=True)


def current() -> dict[str, Any]:
    """Inside a running stage: the params it declared, with the run's overrides applied."""
    raw = os.environ.get(ENV_PARAMS)
    if not raw:
        return {}
    value = json.loads(raw)
    return dict(value) if isinstance(value, dict) else {}
