"""Recording a prepared version: the step that needs the DB, shared by every way in.

`service.prepare` computes what needs the model object (signature, holdout metrics,
importance, profile) and stores the bytes; `insert_version` then checks what it must not
take on trust, whoever prepared the draft (this process, or an SDK talking to a server):
the bytes are in the store and are the format claimed, a pickle is trusted by someone
allowed to, a skops file holds only safe types, an ONNX graph reads no outside files, the
run exists. The row, the card and the `model.register` event are one transaction.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select

from monoloop.errors import CorruptObject, Forbidden, InvalidInput
from monoloop.hashing import hash_bytes
from monoloop.registry import formats
from monoloop.registry.card import render_card
from monoloop.registry.model import ModelVersion, VersionDraft, check_name
from monoloop.registry.tables import model_versions, models
from monoloop.registry.versions import latest_version, resolve, to_version
from monoloop.workspace import Workspace


def insert_version(
    ws: Workspace, name: str, draft: VersionDraft, *, description: str | None = None
) -> ModelVersion:
    """Record `draft` as the next version of `name`; its objects must be in the store."""
    check_name(name)
    if draft.format not in formats.FORMATS:
        raise InvalidInput(
            f"unknown model format {draft.format!r}",
            hint=f"use one of {', '.join(formats.FORMATS)}",
        )
    if draft.trusted:
        require_promoter(ws, "register a trusted model")
    data = ws.objects.get(draft.object_id)
    found = formats.detect(data, name=f"object {draft.object_id}")
    if found != draft.format:
        raise InvalidInput(
            f"object {draft.object_id} is a {found} model, not {draft.format}",
            hint="register it with the format its content has",
        )
    check_bytes(data, draft.format, trusted=draft.trusted)
    profile = json.loads(ws.objects.get(draft.profile_id)) if draft.profile_id else None
    if draft.holdout_id is not None:
        ws.objects.verify(draft.holdout_id)
    _check_companion(ws, draft)
    run_id = None
    if draft.run_id is not None:
        from monoloop.tracking.service import get_run

        run_id = get_run(ws, draft.run_id).id
    row = {
        "model": name,
        "created": time.time(),
        "actor": ws.actor,
        "format": draft.format,
        "flavor": draft.flavor,
        "object_id": draft.object_id,
        "size": len(data),
        "trusted_by": ws.actor if draft.trusted else None,
        "run_id": run_id,
        "git_commit": draft.git_commit,
        "task": draft.task,
        "target": draft.target,
        "signature": json.dumps(draft.signature) if draft.signature else None,
        "metrics": json.dumps(draft.metrics, sort_keys=True),
        "inputs": json.dumps(draft.inputs, sort_keys=True),
        "importance": json.dumps(draft.importance) if draft.importance is not None else None,
        "card_fields": json.dumps(draft.card_fields, sort_keys=True),
        "profile_id": draft.profile_id,
        "holdout_id": draft.holdout_id,
        "companion_id": draft.companion_id,
        "companion": json.dumps(draft.companion, sort_keys=True) if draft.companion else None,
    }
    mv = _insert(ws, name, row, description, profile)
    from monoloop.registry import tags

    tags.after_register(ws, mv)
    return mv


def check_bytes(data: bytes, fmt: str, *, trusted: bool) -> None:
    """Refuse model bytes that could run code nobody vouched for when loaded."""
    if fmt in formats.PICKLE_FAMILY and not trusted:
        raise formats.UnsafeModel(
            "the pickle format runs arbitrary code when loaded",
            hint="register in skops (the default) or onnx; or pass trusted=True if you must",
        )
    if fmt == "onnx":
        formats.check_onnx_external_data(data)
    if fmt == "skops" and not trusted:
        unsafe = formats.unsafe_types(formats.skops_untrusted_types(data))
        if unsafe:
            raise formats.UnsafeModel(
                "the model contains types outside scikit-learn, numpy and scipy: "
                + ", ".join(unsafe),
                hint="review them, then register with trusted=True (--trusted)",
            )


def _check_companion(ws: Workspace, draft: VersionDraft) -> None:
    """A companion is an ONNX graph in the store, of a skops version, noted as verified."""
    note = draft.companion
    verified = isinstance(note, dict) and note.get("verified") is True
    if draft.companion_id is None:
        if verified:
            raise InvalidInput(
                "the draft notes a verified ONNX companion but names no object",
                hint="upload the graph and send its id as companion_id",
            )
        return
    if draft.format != "skops" or not verified:
        raise InvalidInput(
            "only a skops version has an ONNX companion, and only a verified one",
            hint="leave companion_id out; registration makes and checks the companion",
        )
    data = ws.objects.get(draft.companion_id)
    try:
        kind: str | None = formats.detect(data)
    except InvalidInput:
        kind = None
    if kind != "onnx":
        found = f"a {kind} file" if kind else "no model file"
        raise InvalidInput(
            f"the companion {draft.companion_id} is not an ONNX graph but {found}",
            hint="the companion is the version's ONNX graph (registry/companion.py)",
        )
    formats.check_onnx_external_data(data)


def require_promoter(ws: Workspace, what: str) -> None:
    """Only the actors in `registry.promoters` may do this (everyone when the list is empty)."""
    allowed = ws.config.registry.promoters
    if allowed and ws.actor not in allowed:
        raise Forbidden(
            f"{ws.actor} may not {what}: it needs the promote permission",
            hint="ask one of registry.promoters in monoloop.yaml: " + ", ".join(allowed),
        )


def verify_bytes(data: bytes, object_id: str) -> None:
    """Bytes read for loading must be exactly the bytes registered."""
    if hash_bytes(data) != object_id:
        raise CorruptObject(
            f"model object {object_id} does not match its id",
            hint="run `monoloop store fsck`; restore the object from a remote",
        )


def _insert(
    ws: Workspace,
    name: str,
    row: dict[str, Any],
    description: str | None,
    profile: dict[str, Any] | None,
) -> ModelVersion:
    # Two registrations racing for the same version number: the loser retries.
    for attempt in range(5):
        try:
            with ws.db.write() as conn:
                exists = conn.execute(
                    select(models.c.name).where(models.c.name == name).with_for_update()
                ).first()
                if exists is None:
                    conn.execute(
                        insert(models).values(
                            name=name, created=row["created"], description=description
                        )
                    )
                version = latest_version(conn, name) + 1
                draft = {**row, "version": version, "card_id": ""}
                mv = to_version(_Row(draft))
                card = render_card(mv, profile=profile)
                draft["card_id"] = ws.objects.put_bytes(card.encode())
                conn.execute(insert(model_versions).values(**draft))
                ws.record(conn, "model.register", mv.ref, _register_payload(draft))
                return resolve(conn, f"{name}:{version}")
        except sa_exc.IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _register_payload(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("version", "format", "object_id", "size", "run_id", "git_commit", "trusted_by")
    payload = {k: row[k] for k in keys}
    payload["inputs"] = json.loads(row["inputs"])
    if row["companion"] is not None:  # the ledger says what `runtime: auto` will serve
        payload["companion_id"] = row["companion_id"]
        payload["companion"] = json.loads(row["companion"])
    payload["metrics"] = {
        k: (v if v == v and abs(v) != float("inf") else repr(v))
        for k, v in json.loads(row["metrics"]).items()
    }
    return payload
