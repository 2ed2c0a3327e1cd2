"""The `pipelines:` section of monoloop.yaml, as pydantic models.

    pipelines:
      train:
        schedule: "0 3 * * 1"        # or null; read by the controller
        stages:
          prepare:
            cmd: python src/prepare.py
            deps: [data/raw.csv, src/prepare.py]
            params: [prepare.split]
            outs: [data/prepared.parquet]
          fit:
            call: churn.train:fit
            deps: [data/prepared.parquet]
            outs: [models/model.skops]
            metrics: [metrics.json]
            resources: {cpus: 2, memory_mb: 4096}   # reserved by the Ray executor

What can be checked from the file alone is checked here, so `load_config` reports it
with the key path: paths, names, cmd vs call, cron syntax, clashing outputs, cycles.
What needs the working tree (deps that exist, params in params.yaml) is checked when a
pipeline runs. Imports only pydantic and the standard library: the config embeds it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monoloop.pipelines import dag

CALL = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"
METRICS_SUFFIXES = (".json", ".yaml", ".yml")
# Files a stage must not write: they belong to Git, to monoloop, or are its inputs.
NOT_OUTPUTS = (*dag.RESERVED, "params.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


def clean_path(value: str) -> str:
    """A workspace-relative POSIX path, normalised ('./a//b' -> 'a/b'); ValueError if it
    is absolute or climbs out of the workspace."""
    text = value.strip()
    if not text:
        raise ValueError("a path must not be empty")
    if "\\" in text or "\0" in text:
        raise ValueError(f"{value!r}: write paths with '/' (no backslashes or NUL bytes)")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
        raise ValueError(f"{value!r} is absolute: paths are relative to the workspace root")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"{value!r} climbs out with '..': paths must stay inside the workspace")
    if not parts:
        raise ValueError(f"{value!r} is the workspace root itself: name a file or directory")
    if parts[0] in (".git", ".monoloop"):
        raise ValueError(f"{value!r} is inside {parts[0]}/, which belongs to Git or monoloop")
    return "/".join(parts)


def _paths(values: list[str]) -> list[str]:
    cleaned = [clean_path(v) for v in values]
    seen: set[str] = set()
    for path in cleaned:
        if path in seen:
            raise ValueError(f"{path} is listed twice")
        seen.add(path)
    return cleaned


class StageContracts(_Strict):
    """`validate: {input: ..., output: ...}`: a contract name for every tabular dep (or
    out), or a mapping `{path: contract}` for chosen ones."""

    input: str | dict[str, str] | None = Field(
        default=None, description="Contract for the tabular deps, or {path: contract}"
    )
    output: str | dict[str, str] | None = Field(
        default=None, description="Contract for the tabular outs, or {path: contract}"
    )


class StageResources(_Strict):
    """What one execution of the stage needs; the Ray executor reserves it for the stage's
    task (the local executor runs up to --jobs stages at once, whatever they declare)."""

    cpus: float = Field(default=1, gt=0, le=1024, description="CPUs (may be fractional)")
    memory_mb: int | None = Field(
        default=None, gt=0, description="Memory in MiB; null: no reservation"
    )
    gpus: float = Field(default=0, ge=0, le=64, description="GPUs (may be fractional)")


class Stage(_Strict):
    """One step: a shell command or a Python function, with what it reads and writes."""

    cmd: str | None = Field(
        default=None,
        min_length=1,
        description="Shell command, run with /bin/sh in the workspace root",
    )
    call: str | None = Field(
        default=None,
        pattern=CALL,
        description="package.module:function, called in a fresh Python process with the "
        "workspace root on sys.path",
    )
    deps: list[str] = Field(
        default_factory=list, description="Files, directories or tracked data the stage reads"
    )
    params: list[str] = Field(
        default_factory=list, description="Dotted keys of params.yaml the stage uses"
    )
    outs: list[str] = Field(
        default_factory=list, description="Files or directories the stage writes; stored"
    )
    metrics: list[str] = Field(
        default_factory=list,
        description="JSON or YAML files of numbers the stage writes; stored and tracked",
    )
    persist: bool = Field(
        default=False,
        description="Keep outputs in place while the stage runs (it updates them), "
        "instead of removing them first",
    )
    resources: StageResources | None = Field(
        default=None,
        description="CPUs, memory and GPUs one execution needs: {cpus, memory_mb, gpus}; "
        "reserved on Ray, not part of the cache key",
    )
    validate_: StageContracts | None = Field(
        default=None,
        alias="validate",
        description="Data contracts the stage's inputs must meet before it runs, and its "
        "outputs before they are accepted (docs/pipelines.md)",
    )

    @field_validator("deps", "outs", "metrics")
    @classmethod
    def _clean_paths(cls, values: list[str]) -> list[str]:
        return _paths(values)

    @field_validator("params")
    @classmethod
    def _dotted_keys(cls, values: list[str]) -> list[str]:
        for key in values:
            if not key or any(not part.strip() for part in key.split(".")):
                raise ValueError(f"{key!r} is not a dotted key of params.yaml, e.g. train.lr")
        if len(set(values)) != len(values):
            raise ValueError("a param is listed twice")
        return values

    @model_validator(mode="after")
    def _contracts_name_known_paths(self) -> Stage:
        checks = self.validate_
        for side, paths in (("input", self.deps), ("output", self.outs)):
            spec = None if checks is None else getattr(checks, side)
            if isinstance(spec, dict):
                for path in spec:
                    if clean_path(path) not in paths:
                        kind = "deps" if side == "input" else "outs"
                        raise ValueError(f"validate.{side} names {path!r}, which is not in {kind}")
        return self

    @model_validator(mode="after")
    def _sound(self) -> Stage:
        if (self.cmd is None) == (self.call is None):
            raise ValueError(
                "a stage needs exactly one of 'cmd' (a shell command) or "
                "'call' (package.module:function)"
            )
        for path in (*self.outs, *self.metrics):
            if any(dag.overlaps(path, name) for name in NOT_OUTPUTS):
                raise ValueError(f"{path} cannot be an output: it belongs to Git or monoloop")
            if path.endswith(".loop"):
                raise ValueError(f"{path} is a data pointer file and cannot be an output")
        for path in self.metrics:
            if not path.endswith(METRICS_SUFFIXES):
                raise ValueError(f"metrics file {path} must end in .json, .yaml or .yml")
        return self


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {m: i + 1 for i, m in enumerate(_MONTHS)},
    {d: i for i, d in enumerate(_DAYS)},
)
_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def check_cron(text: str) -> None:
    """ValueError unless `text` is a 5-field cron expression (numbers, names, * , - /)."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"schedule {text!r} must have 5 fields (minute hour day-of-month month "
            "day-of-week), e.g. '0 3 * * 1'; or be null"
        )
    for field, (low, high), names, label in zip(
        fields, _CRON_RANGES, _CRON_NAMES, _CRON_FIELDS, strict=True
    ):
        for item in field.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                raise ValueError(f"schedule {text!r}: step {step!r} in the {label} field")
            if base == "*":
                continue
            for bound in base.split("-", 1):
                value = names.get(bound.lower()) if not bound.isdigit() else int(bound)
                if value is None or not low <= value <= high:
                    raise ValueError(
                        f"schedule {text!r}: {bound!r} is not a valid {label} "
                        f"({low}-{high}{', or a name' if names else ''})"
                    )


class Pipeline(_Strict):
    """A DAG of stages; `monoloop run NAME` runs it."""

    schedule: str | None = Field(
        default=None, description="Cron (5 fields) for the controller to run it; or null"
    )
    stages: dict[str, Stage] = Field(min_length=1, description="Stages by name")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            check_cron(value)
        return value

    @field_validator("stages")
    @classmethod
    def _graph(cls, stages: dict[str, Stage]) -> dict[str, Stage]:
        for name in stages:
            if not dag.NAME.match(name):
                raise ValueError(f"stage name {name!r} must be letters, digits, '.', '_' or '-'")
        try:
            dag.build([dag.Stage.from_raw("", n, s.model_dump()) for n, s in stages.items()])
        except dag.PipelineError as exc:
            raise ValueError(exc.message) from None
        return stages
