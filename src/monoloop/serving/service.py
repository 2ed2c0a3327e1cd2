"""Deployments as the service layer sees them: which exist, what each would serve now.

    select_deployments(ws, ["churn-api"])   # names checked, every alias resolvable
    describe_deployments(ws)                # per deployment: roles, versions, traffic

`monoloop serve` checks its deployments with `select_deployments` before it starts; the
serving app answers GET /v1/deployments/NAME with the same `DeploymentView`, filled in
with what the process has loaded; the API server can answer GET /v1/deployments with
`describe_deployments`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monoloop.errors import ConfigError, MonoloopError, NotFound
from monoloop.serving.spec import DeploymentSpec
from monoloop.workspace import Workspace


@dataclass
class RoleView:
    role: str  # primary, canary or shadow
    ref: str  # NAME@ALIAS
    traffic: float  # the share of requests it answers; a shadow answers none, sees all
    model: str
    version: int | None  # None: no version holds the alias (see error)
    error: str | None = None
    loaded_at: float | None = None  # set by a serving process, for what it has loaded
    input: str | None = None  # how the loaded version takes input: matrix, columns, frame
    runtime: str | None = None  # what answers: native, or onnx (the version's graph)
    object_id: str | None = None  # the bytes it was loaded from
    # With a companion: its own model, for requests the graph does not answer (missing
    # values): "not loaded", "loaded" or "failed: ..."
    native: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": self.role,
            "ref": self.ref,
            "model": self.model,
            "version": self.version,
            "traffic": self.traffic,
            "mirrored": self.role == "shadow",
            "error": self.error,
        }
        if self.loaded_at is not None:
            from monoloop.tracking.model import iso

            out["loaded_at"] = iso(self.loaded_at)
            out["input"] = self.input
            out["runtime"] = self.runtime
            out["object_id"] = self.object_id
            if self.native is not None:
                out["native"] = self.native
        return out


@dataclass
class DeploymentView:
    name: str
    runtime: str
    roles: list[RoleView] = field(default_factory=list)
    ready: bool | None = None  # set by a serving process

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "runtime": self.runtime,
            "roles": [r.to_dict() for r in self.roles],
        }
        if self.ready is not None:
            out["ready"] = self.ready
        return out


def deployment_specs(
    declared: dict[str, DeploymentSpec], names: Sequence[str] | None
) -> dict[str, DeploymentSpec]:
    """The named deployments (all of them when none are named), or an error that says how
    to declare one."""
    if not declared:
        raise ConfigError(
            "monoloop.yaml declares no deployments",
            hint="add one, e.g.  deployments: {churn-api: {model: churn@champion}}  "
            "(see docs/serving.md)",
        )
    chosen = list(dict.fromkeys(names)) if names else list(declared)
    unknown = [n for n in chosen if n not in declared]
    if unknown:
        raise NotFound(
            f"no deployment named {', '.join(repr(n) for n in unknown)} in monoloop.yaml",
            hint=f"deployments: {', '.join(declared)}",
        )
    return {n: declared[n] for n in chosen}


def describe_deployments(ws: Workspace, names: Sequence[str] | None = None) -> list[DeploymentView]:
    """What each deployment would serve now: every role's alias resolved in the registry."""
    from monoloop.registry.model import ModelRef
    from monoloop.registry.versions import resolve

    specs = deployment_specs(ws.config.deployments, names)
    views = []
    with ws.db.read() as conn:
        for name, spec in specs.items():
            view = DeploymentView(name, spec.runtime)
            canary = spec.canary.traffic if spec.canary is not None else 0.0
            share = {"primary": 1.0 - canary, "canary": canary, "shadow": 0.0}
            for role, ref in spec.refs():
                role_view = RoleView(role, ref, share[role], ModelRef.parse(ref).name, None)
                try:
                    role_view.version = resolve(conn, ref).version
                except MonoloopError as exc:
                    role_view.error = exc.message
                view.roles.append(role_view)
            views.append(view)
    return views


def select_deployments(ws: Workspace, names: Sequence[str] | None = None) -> list[DeploymentView]:
    """The deployments a serving process will start with, each primary alias resolvable (and,
    with `runtime: onnx`, each version with a graph: ONNX itself, a companion or an export);
    else the error that says how to fix it.

    A canary or shadow alias that no version holds yet does not stop a deployment: the CT
    controller sets it when a cycle starts, and the serving process picks it up then;
    until it does, the primary answers every caller."""
    from monoloop.registry.export import find_export
    from monoloop.registry.versions import get_version

    views = describe_deployments(ws, names)
    for view in views:
        for role in view.roles:
            if role.error is not None and role.role != "primary":
                continue
            if role.error is not None:
                alias = role.ref.partition("@")[2]
                raise NotFound(
                    f"deployment {view.name!r} cannot start: {role.error} (its {role.role} "
                    f"is {role.ref})",
                    hint=f"point the alias at a version: monoloop models promote {role.model} "
                    f"VERSION --to {alias} (or `monoloop models alias {role.ref} VERSION`)",
                )
            if view.runtime == "onnx":
                mv = get_version(ws, f"{role.model}:{role.version}")
                graph = mv.format == "onnx" or mv.companion_id is not None
                if not graph and find_export(ws, mv) is None:
                    raise NotFound(
                        f"deployment {view.name!r} has runtime: onnx, and {mv.ref} (its "
                        f"{role.role}, {role.ref}) has no ONNX companion or export",
                        hint=f"monoloop models export {mv.ref} --format onnx -o "
                        f"{mv.model}-v{mv.version}.onnx",
                    )
    return views
