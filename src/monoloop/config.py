"""The `monoloop.yaml` schema and its loading, with errors that name the key path.

The file is the declared state of a workspace; environment variables override
the few settings that differ between machines (where the DB and the store are,
who is acting). Unknown keys are errors: a typo must never be silently ignored.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monoloop.ct.spec import PolicySpec, check_policies
from monoloop.errors import ConfigError
from monoloop.monitoring.spec import MonitorSpec, check_monitors
from monoloop.pipelines.spec import Pipeline
from monoloop.registry.spec import ModelSpec, RegistryConfig
from monoloop.root import CONFIG_FILE, STATE_DIR
from monoloop.serving.spec import DeploymentSpec, ServingConfig
from monoloop.validation.contract import Contract
from monoloop.yamlkeys import key_lines

ENV_DB_URL = "MONOLOOP_DB_URL"
ENV_STORE_URL = "MONOLOOP_STORE_URL"
ENV_ACTOR = "MONOLOOP_ACTOR"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DbConfig(_Strict):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata DB; default: SQLite in .monoloop/",
    )


class StoreConfig(_Strict):
    url: str | None = Field(
        default=None,
        description="Object store URL (a path, file://, s3://, ...); default: .monoloop/objects",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Options passed to the fsspec filesystem"
    )


class AuditConfig(_Strict):
    anchor_prefix: str = Field(
        default="monoloop/audit",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$",
        description="Prefix of the Git tags that anchor the audit chain",
    )


class RemoteConfig(_Strict):
    url: str = Field(min_length=1, description="Where the remote's objects live (any store URL)")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Options passed to the fsspec filesystem"
    )


class RayConfig(_Strict):
    address: str | None = Field(
        default=None,
        description="Ray cluster to use (ray://host:10001, host:6379 or auto); RAY_ADDRESS "
        "overrides it; null with no RAY_ADDRESS: monoloop starts a local Ray",
    )
    num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of the local Ray that monoloop starts; null: all"
    )


class ExecutionConfig(_Strict):
    executor: Literal["local", "ray"] = Field(
        default="local",
        description="Where stages run: local processes, or Ray tasks (pip install "
        "'monoloop[ray]'); `--executor` overrides it",
    )
    ray: RayConfig = Field(default_factory=RayConfig)


REMOTE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class Config(_Strict):
    """The whole of monoloop.yaml."""

    version: Literal[1] = 1
    project: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    db: DbConfig = Field(default_factory=DbConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    remotes: dict[str, str | RemoteConfig] = Field(
        default_factory=dict, description="Named data remotes: a URL, or {url, options}"
    )
    default_remote: str | None = Field(
        default=None, description="The remote push and pull use when none is named"
    )
    contracts: dict[str, Contract] = Field(
        default_factory=dict, description="Inline data contracts by name (docs/validation.md)"
    )
    pipelines: dict[str, Pipeline] = Field(
        default_factory=dict, description="Pipelines of stages by name (docs/pipelines.md)"
    )
    execution: ExecutionConfig = Field(
        default_factory=ExecutionConfig,
        description="Which executor runs pipeline stages and sweep trials",
    )
    registry: RegistryConfig = Field(
        default_factory=RegistryConfig, description="Model registry settings (docs/registry.md)"
    )
    models: dict[str, ModelSpec] = Field(
        default_factory=dict, description="Registered models' gates by name (docs/registry.md)"
    )
    deployments: dict[str, DeploymentSpec] = Field(
        default_factory=dict, description="HTTP endpoints serving NAME@ALIAS (docs/serving.md)"
    )
    monitors: dict[str, MonitorSpec] = Field(
        default_factory=dict, description="Checks on each deployment's predictions (monitoring.md)"
    )
    policies: dict[str, PolicySpec] = Field(
        default_factory=dict, description="What the controller does when a monitor fires (ct.md)"
    )
    serving: ServingConfig = Field(
        default_factory=ServingConfig, description="How `monoloop serve` runs (docs/serving.md)"
    )

    @model_validator(mode="after")
    def _remotes_are_sound(self) -> Config:
        for name in self.remotes:
            if not re.match(REMOTE_NAME, name):
                raise ValueError(f"remote name {name!r} must be letters, digits, '.', '_' or '-'")
        if self.default_remote is not None and self.default_remote not in self.remotes:
            known = ", ".join(self.remotes) or "none are configured"
            raise ValueError(
                f"default_remote {self.default_remote!r} is not one of the remotes ({known})"
            )
        return self

    @model_validator(mode="after")
    def _monitors_and_policies_are_sound(self) -> Config:
        check_monitors(self.monitors, set(self.deployments))
        check_policies(
            self.policies,
            monitors=self.monitors,
            deployments=dict(self.deployments),
            pipelines=set(self.pipelines),
        )
        return self

    def remote(self, name: str) -> RemoteConfig:
        spec = self.remotes[name]
        return RemoteConfig(url=spec) if isinstance(spec, str) else spec


def default_config_text(project: str) -> str:
    """The commented file `monoloop init` writes."""
    return f"""\
# monoloop workspace configuration. Reference: docs/configuration.md
# Commit this file. Local state (metadata DB, object cache) lives in .monoloop/,
# which is gitignored.
version: 1

# A name for this project: letters, digits, '.', '_' and '-'.
project: {project}

# Metadata DB (runs, models, audit ledger). Default: SQLite in .monoloop/monoloop.db.
# Use PostgreSQL when several people or machines share it, e.g.
#   url: postgresql://user@db.example.com/monoloop
# The environment variable {ENV_DB_URL} overrides this.
db:
  url: null

# Content-addressed object store for data and model bytes. Default: .monoloop/objects.
# Any fsspec URL works, e.g. s3://bucket/prefix (pip install 'monoloop[s3]').
# The environment variable {ENV_STORE_URL} overrides this.
store:
  url: null
  options: {{}}

# The audit ledger is anchored in Git by `monoloop audit anchor` (annotated tags).
audit:
  anchor_prefix: monoloop/audit

# Shared places for data bytes (`monoloop data push` / `pull`), e.g.
#   remotes:
#     origin: s3://team-bucket/churn
#     nas: file:///mnt/nas/monoloop
#   default_remote: origin
remotes: {{}}
default_remote: null

# Where pipeline stages and sweep trials run: local processes, or Ray tasks
# (pip install 'monoloop[ray]'). With `executor: ray` and no address (nor RAY_ADDRESS),
# monoloop starts a local Ray. `--executor ray` on `monoloop run` or `monoloop sweep`
# chooses it for one command.
execution:
  executor: local
  ray:
    address: null
    num_cpus: null
"""


def load_config(path: Path) -> Config:
    """Read and validate monoloop.yaml; every problem is a ConfigError naming the key path."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist", hint="run `monoloop init` to create a workspace"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = CONFIG_FILE) -> Config:
    try:
        # The C loader when PyYAML has it: several times faster on large files.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{source}{where}: not valid YAML: {problem}",
            hint="fix the YAML syntax (indentation, colons, quotes) at that position",
        ) from None
    except ValueError as exc:
        # PyYAML builds dates itself and lets an impossible one (2020-13-45) escape.
        raise ConfigError(
            f"{source}: not valid YAML: {exc}",
            hint="quote values that look like dates but are not, e.g. '2020-13-45'",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of keys at the top level, found {_kind(data)}",
            hint="start the file with keys such as `version: 1` and `project: NAME`",
        )
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(text)
        raise ConfigError(
            _describe(exc, source, lines),
            hint="see docs/configuration.md for every key and its type",
        ) from None


def _describe(exc: ValidationError, source: str, lines: Mapping[tuple[str, ...], int]) -> str:
    problems = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        path = ".".join(loc) or "(top level)"
        line = lines.get(loc)
        at = f" (line {line})" if line else ""
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(
                f"unknown key '{path}'{at}: expected one of {', '.join(allowed)}{guess}"
            )
        elif err["type"] == "value_error":
            reason = str(err["msg"]).removeprefix("Value error, ")
            problems.append(reason if not loc else f"'{path}'{at}: {reason}")
        elif err["type"] == "missing":
            problems.append(f"'{path}' is required but missing")
        else:
            found = err.get("input")
            problems.append(
                f"'{path}'{at}: found {_show(found)} ({_kind(found)}), expected: {err['msg']}"
            )
    count = f"{len(problems)} problems" if len(problems) > 1 else "invalid configuration"
    return f"{source}: {count}: " + "; ".join(problems)


def _allowed_keys(loc: tuple[str, ...]) -> list[str]:
    model: type[BaseModel] = Config
    parts = list(loc)
    while parts:
        field = model.model_fields.get(parts.pop(0))
        annotation = field.annotation if field else None
        annotation = _model_of(annotation)
        if typing.get_origin(annotation) is dict and parts:
            annotation = _model_of(typing.get_args(annotation)[1])
            parts.pop(0)  # the dict's key: a name chosen by the user
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_of(annotation: Any) -> Any:
    """The model inside an optional one (`CanarySpec | None`), else the annotation."""
    members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else annotation


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Overrides(BaseModel):
    """Settings taken from the environment, which win over monoloop.yaml."""

    model_config = ConfigDict(frozen=True)

    db_url: str | None = None
    store_url: str | None = None
    actor: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Overrides:
        env = os.environ if env is None else env
        values = {
            "db_url": env.get(ENV_DB_URL) or None,
            "store_url": env.get(ENV_STORE_URL) or None,
            "actor": env.get(ENV_ACTOR) or None,
        }
        for name, value in ((ENV_DB_URL, values["db_url"]), (ENV_STORE_URL, values["store_url"])):
            if value is not None and value != value.strip():
                raise ConfigError(
                    f"{name} has leading or trailing white space",
                    hint=f"set {name} to the URL alone",
                )
        return cls(**values)


CONFIG_STAMP = "config.valid.json"


def stamp_valid_config(root: Path, config: Config) -> None:
    """Remember a monoloop.yaml that passed full validation: its hash and its values.

    Fast read-only commands (`data status`) then use the values without importing
    pydantic or a YAML parser, as long as the file is byte-identical.
    """
    import json

    from monoloop.fsutil import atomic_write_text
    from monoloop.hashing import hash_bytes

    state = root / STATE_DIR
    if not state.is_dir():
        return
    record = json.dumps(
        {"hash": hash_bytes((root / CONFIG_FILE).read_bytes()), "config": config.model_dump()},
        sort_keys=True,
    )
    stamp = state / CONFIG_STAMP
    try:
        if stamp.read_text() == record:
            return
    except OSError:
        pass
    atomic_write_text(stamp, record)
