"""Reading the registry: models, versions, aliases, and resolving a reference to a version."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from monoloop.errors import NotFound
from monoloop.registry.model import ModelRef, ModelSummary, ModelVersion, check_name
from monoloop.registry.signature import Signature
from monoloop.registry.tables import model_aliases, model_versions, models
from monoloop.workspace import Workspace


def get_version(ws: Workspace, ref: str | ModelRef) -> ModelVersion:
    """The version a reference names (`churn`, `churn:3`, `churn@champion`), or NotFound."""
    with ws.db.read() as conn:
        return resolve(conn, ref)


def resolve(conn: Connection, ref: str | ModelRef) -> ModelVersion:
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if conn.execute(select(models.c.name).where(models.c.name == ref.name)).first() is None:
        raise NotFound(
            f"no model named {ref.name!r}",
            hint="list models with `monoloop models list`, or register one first",
        )
    version = ref.version
    if ref.alias is not None:
        version = conn.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.model == ref.name, model_aliases.c.alias == ref.alias
            )
        ).scalar()
        if version is None:
            held = aliases_of(conn, ref.name)
            known = ", ".join(f"{a}->v{v}" for a, v in held.items()) or "none"
            raise NotFound(
                f"no version of {ref.name!r} holds the alias {ref.alias!r}",
                hint=f"aliases of {ref.name}: {known}; set one with `monoloop models alias`",
            )
    elif version is None:
        version = latest_version(conn, ref.name)
    row = conn.execute(
        select(model_versions).where(
            model_versions.c.model == ref.name, model_versions.c.version == version
        )
    ).first()
    if row is None:
        latest = latest_version(conn, ref.name)
        raise NotFound(
            f"model {ref.name!r} has no version {version}",
            hint=f"its versions are 1 to {latest}" if latest else "register a version first",
        )
    mv = to_version(row)
    mv.aliases = sorted(a for a, v in aliases_of(conn, ref.name).items() if v == mv.version)
    return mv


def latest_version(conn: Connection, name: str) -> int:
    found = conn.execute(
        select(func.max(model_versions.c.version)).where(model_versions.c.model == name)
    ).scalar()
    return int(found or 0)


def aliases_of(conn: Connection, name: str) -> dict[str, int]:
    rows = conn.execute(
        select(model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.model == name)
        .order_by(model_aliases.c.alias)
    )
    return {alias: version for alias, version in rows}


def list_models(ws: Workspace) -> list[ModelSummary]:
    with ws.db.read() as conn:
        latest = dict(
            conn.execute(
                select(model_versions.c.model, func.max(model_versions.c.version)).group_by(
                    model_versions.c.model
                )
            ).all()
        )
        held: dict[str, dict[str, int]] = {}
        for model, alias, version in conn.execute(
            select(model_aliases.c.model, model_aliases.c.alias, model_aliases.c.version)
        ):
            held.setdefault(model, {})[alias] = version
        rows = conn.execute(select(models).order_by(models.c.name)).all()
    return [
        ModelSummary(r.name, r.description, int(latest.get(r.name, 0)), held.get(r.name, {}))
        for r in rows
    ]


def list_versions(ws: Workspace, name: str) -> list[ModelVersion]:
    check_name(name)
    with ws.db.read() as conn:
        if conn.execute(select(models.c.name).where(models.c.name == name)).first() is None:
            raise NotFound(f"no model named {name!r}", hint="see `monoloop models list`")
        held = aliases_of(conn, name)
        rows = conn.execute(
            select(model_versions)
            .where(model_versions.c.model == name)
            .order_by(model_versions.c.version)
        ).all()
    found = [to_version(r) for r in rows]
    for mv in found:
        mv.aliases = sorted(a for a, v in held.items() if v == mv.version)
    return found


def to_version(row: Any) -> ModelVersion:
    return ModelVersion(
        model=row.model,
        version=row.version,
        created=row.created,
        actor=row.actor,
        format=row.format,
        flavor=row.flavor,
        object_id=row.object_id,
        size=row.size,
        trusted_by=row.trusted_by,
        run_id=row.run_id,
        git_commit=row.git_commit,
        task=row.task,
        target=row.target,
        signature=Signature.from_dict(json.loads(row.signature)) if row.signature else None,
        metrics=json.loads(row.metrics),
        inputs=json.loads(row.inputs),
        importance=json.loads(row.importance) if row.importance else None,
        card_fields=json.loads(row.card_fields),
        profile_id=row.profile_id,
        holdout_id=row.holdout_id,
        card_id=row.card_id,
        companion_id=row.companion_id,
        companion=json.loads(row.companion) if row.companion else None,
    )
