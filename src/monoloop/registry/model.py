"""Registry records as plain data, and the grammar of model references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from monoloop.errors import InvalidInput
from monoloop.registry.signature import Signature
from monoloop.tracking.model import from_iso, iso, number

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REF = re.compile(r"^(?P<name>[^@:]+)(?:@(?P<alias>[^@:]+)|:(?P<version>[^@:]+))?$")


def check_name(name: str, what: str = "model name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"invalid {what} {name!r}",
            hint=f"a {what} is 1-100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
    return name


@dataclass(frozen=True)
class ModelRef:
    """`NAME` (the latest version), `NAME:3`, `NAME:latest` or `NAME@champion`."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _REF.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(
                f"not a model reference: {text!r}",
                hint="write NAME, NAME:VERSION, NAME:latest or NAME@ALIAS, e.g. churn@champion",
            )
        name = check_name(match["name"])
        if match["alias"] is not None:
            return cls(name, alias=check_name(match["alias"], "alias"))
        raw = match["version"]
        if raw is None or raw == "latest":
            return cls(name)
        return cls(name, version=parse_version(raw))

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return f"{self.name}:{self.version}" if self.version else f"{self.name}:latest"


def parse_version(raw: str | int) -> int:
    text = str(raw).strip().lstrip("vV")
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(
            f"not a model version: {raw!r}", hint="versions are whole numbers from 1, e.g. 3"
        )
    return int(text)


@dataclass
class ModelVersion:
    model: str
    version: int
    created: float
    actor: str
    format: str
    flavor: str | None
    object_id: str
    size: int
    trusted_by: str | None
    run_id: str | None
    git_commit: str | None
    task: str | None
    target: str | None
    signature: Signature | None
    metrics: dict[str, float]
    inputs: dict[str, str]
    importance: list[dict[str, Any]] | None
    card_fields: dict[str, str]
    profile_id: str | None
    holdout_id: str | None
    card_id: str
    # The version's ONNX graph, verified against it at registration (registry/companion.py):
    # what `runtime: auto` serves. `companion` notes the check, or why there is none.
    companion_id: str | None = None
    companion: dict[str, Any] | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def trusted(self) -> bool:
        return self.trusted_by is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "created": iso(self.created),
            "actor": self.actor,
            "format": self.format,
            "flavor": self.flavor,
            "object_id": self.object_id,
            "size": self.size,
            "trusted": self.trusted,
            "trusted_by": self.trusted_by,
            "run_id": self.run_id,
            "git_commit": self.git_commit,
            "task": self.task,
            "target": self.target,
            "signature": self.signature.to_dict() if self.signature else None,
            "metrics": dict(self.metrics),
            "inputs": dict(self.inputs),
            "importance": self.importance,
            "card_fields": dict(self.card_fields),
            "profile_id": self.profile_id,
            "holdout_id": self.holdout_id,
            "card_id": self.card_id,
            "companion_id": self.companion_id,
            "companion": self.companion,
            "aliases": list(self.aliases),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelVersion:
        created = from_iso(d["created"])
        assert created is not None
        return cls(
            model=d["model"],
            version=d["version"],
            created=created,
            actor=d["actor"],
            format=d["format"],
            flavor=d["flavor"],
            object_id=d["object_id"],
            size=d["size"],
            trusted_by=d["trusted_by"],
            run_id=d["run_id"],
            git_commit=d["git_commit"],
            task=d["task"],
            target=d["target"],
            signature=Signature.from_dict(d["signature"]) if d["signature"] else None,
            metrics={k: number(v) for k, v in d["metrics"].items()},
            inputs=dict(d["inputs"]),
            importance=d["importance"],
            card_fields=dict(d["card_fields"]),
            profile_id=d["profile_id"],
            holdout_id=d["holdout_id"],
            card_id=d["card_id"],
            companion_id=d.get("companion_id"),
            companion=d.get("companion"),
            aliases=list(d["aliases"]),
        )


@dataclass(frozen=True)
class VersionDraft:
    """A version ready to be recorded: what needed the model object is computed, and its
    bytes (model, holdout rows, profile) are in the store. `record.insert_version` makes it
    the next version; a server does that step for a remote SDK."""

    format: str
    flavor: str | None
    object_id: str
    trusted: bool = False
    run_id: str | None = None
    git_commit: str | None = None
    task: str | None = None
    target: str | None = None
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    importance: list[dict[str, Any]] | None = None
    card_fields: dict[str, str] = field(default_factory=dict)
    profile_id: str | None = None
    holdout_id: str | None = None
    companion_id: str | None = None
    companion: dict[str, Any] | None = None


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    version: int | None
    previous: int | None
    time: float
    actor: str
    action: str
    reason: str | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "previous": self.previous,
            "time": iso(self.time),
            "actor": self.actor,
            "action": self.action,
            "reason": self.reason,
            "forced": self.forced,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AliasMove:
        moved = from_iso(d["time"])
        assert moved is not None
        return cls(
            d["model"],
            d["alias"],
            d["version"],
            d["previous"],
            moved,
            d["actor"],
            d["action"],
            d["reason"],
            d["forced"],
        )


@dataclass(frozen=True)
class ModelSummary:
    name: str
    description: str | None
    latest: int
    aliases: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "latest": self.latest,
            "aliases": dict(self.aliases),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSummary:
        return cls(d["name"], d["description"], d["latest"], dict(d["aliases"]))
