"""Git as the source of truth: with `registry.git_tags: true`, every version is an annotated
tag `model/NAME/vN` on its run's commit, and every alias a tag `model/NAME@ALIAS` that moves
with it. `sync_tags` repairs the tags from the registry (after a clone, a failed push, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monoloop import gitutil
from monoloop.registry.model import ModelVersion
from monoloop.registry.versions import get_version, list_models, list_versions
from monoloop.workspace import Workspace


@dataclass
class TagSync:
    created: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "moved": self.moved,
            "deleted": self.deleted,
            "skipped": self.skipped,
        }


def version_tag(ws: Workspace, mv: ModelVersion) -> str:
    return f"{ws.config.registry.tag_prefix}/{mv.model}/v{mv.version}"


def alias_tag(ws: Workspace, name: str, alias: str) -> str:
    return f"{ws.config.registry.tag_prefix}/{name}@{alias}"


def after_register(ws: Workspace, mv: ModelVersion) -> None:
    if ws.config.registry.git_tags:
        _ensure(ws, version_tag(ws, mv), mv, f"{mv.ref} ({mv.format}, {mv.object_id})")


def after_alias(ws: Workspace, name: str, alias: str, version: int | None) -> None:
    if not ws.config.registry.git_tags:
        return
    tag = alias_tag(ws, name, alias)
    if version is None:
        _delete(ws, tag)
        return
    mv = get_version(ws, f"{name}:{version}")
    _ensure(ws, tag, mv, f"{name}@{alias} -> v{version}")


def sync_tags(ws: Workspace) -> TagSync:
    result = TagSync()
    prefix = ws.config.registry.tag_prefix
    for summary in list_models(ws):
        wanted: dict[str, tuple[ModelVersion, str]] = {}
        versions = {mv.version: mv for mv in list_versions(ws, summary.name)}
        for mv in versions.values():
            wanted[version_tag(ws, mv)] = (mv, f"{mv.ref} ({mv.format}, {mv.object_id})")
        for alias, version in summary.aliases.items():
            mv = versions[version]
            wanted[alias_tag(ws, summary.name, alias)] = (
                mv,
                f"{summary.name}@{alias} -> v{version}",
            )
        for tag, (mv, message) in sorted(wanted.items()):
            outcome = _ensure(ws, tag, mv, message)
            getattr(result, outcome).append(tag) if outcome else None
        for tag in _existing(ws, f"{prefix}/{summary.name}@*"):
            if tag not in wanted:
                _delete(ws, tag)
                result.deleted.append(tag)
    return result


def _commit_exists(ws: Workspace, commit: str) -> bool:
    proc = gitutil.git(["cat-file", "-e", f"{commit}^{{commit}}"], ws.root, check=False)
    return proc.returncode == 0


def _target(ws: Workspace, tag: str) -> str | None:
    proc = gitutil.git(
        ["rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}"], ws.root, check=False
    )
    return proc.stdout.decode().strip() or None


def _ensure(ws: Workspace, tag: str, mv: ModelVersion, message: str) -> str | None:
    """Create or move `tag` to the version's commit: "created", "moved", "skipped" or None
    (already right)."""
    if mv.git_commit is None or not _commit_exists(ws, mv.git_commit):
        return "skipped"
    current = _target(ws, tag)
    if current == mv.git_commit:
        return None
    gitutil.git(["tag", "--annotate", "--force", "--message", message, tag, mv.git_commit], ws.root)
    return "created" if current is None else "moved"


def _delete(ws: Workspace, tag: str) -> None:
    gitutil.git(["tag", "--delete", tag], ws.root, check=False)


def _existing(ws: Workspace, pattern: str) -> list[str]:
    proc = gitutil.git(["tag", "--list", pattern], ws.root, check=False)
    return [t for t in proc.stdout.decode().split() if t]
