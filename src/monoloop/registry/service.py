"""Registering model versions: the one path the SDK, the CLI and the server share.

    mv = register_model(ws, "churn", model, sample_input=X_train.head(100),
                        holdout=test_df, target="churned", run=run_id,
                        card={"intended_use": "...", "owner": "..."})

A version records its bytes (an object), format, signature, metrics, the run and data it
came from, a reference profile of the training data, permutation importance on held-out
rows, and a model card. The row, the card and the `model.register` ledger event are one
transaction; the bytes are stored first (an interrupted registration leaves at most an
unreferenced object, which `monoloop data gc` removes).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select

from monoloop import gitutil
from monoloop.errors import Forbidden, InvalidInput
from monoloop.hashing import hash_bytes
from monoloop.registry import evaluation, formats
from monoloop.registry.card import render_card
from monoloop.registry.model import ModelVersion, check_name
from monoloop.registry.signature import Signature, infer_signature
from monoloop.registry.tables import model_versions, models
from monoloop.registry.versions import latest_version, resolve
from monoloop.workspace import Workspace

PREDICTION_COLUMN = "__prediction__"
SIGNATURE_ROWS = 100


@dataclass
class Candidate:
    """Serialised bytes plus the object to evaluate them with (the loaded form)."""

    data: bytes
    format: str
    flavor: str | None
    model: Any


def register_model(
    ws: Workspace,
    name: str,
    model: Any,
    *,
    sample_input: pd.DataFrame,
    format: str = "skops",
    run: str | None = None,
    reference: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    metrics: dict[str, float] | None = None,
    card: dict[str, str] | None = None,
    trusted: bool = False,
    description: str | None = None,
) -> ModelVersion:
    """Register an in-memory model (scikit-learn API) as the next version of `name`."""
    if format not in formats.FORMATS:
        raise InvalidInput(
            f"unknown model format {format!r}", hint=f"use one of {', '.join(formats.FORMATS)}"
        )
    if format == "pickle" and not trusted:
        raise formats.UnsafeModel(
            "the pickle format runs arbitrary code when loaded",
            hint="register in skops (the default) or onnx; or pass trusted=True if you must",
        )
    data = formats.dump(model, format, sample_input)
    # Evaluate what will be served: an ONNX export through onnxruntime, a LightGBM text
    # model through its booster.
    classes = getattr(model, "classes_", None)
    loaded = (
        formats.load(data, format, trusted=False, classes=_plain_list(classes))
        if format in ("onnx", "lightgbm")
        else model
    )
    flavor = f"{type(model).__module__.split('.')[0]}.{type(model).__name__}"
    return register(
        ws,
        name,
        Candidate(data, format, flavor, loaded),
        sample_input=sample_input,
        run=run,
        reference=reference,
        holdout=holdout,
        target=target,
        metrics=metrics,
        card=card,
        trusted=trusted,
        description=description,
    )


def register_file(
    ws: Workspace,
    name: str,
    path: Path,
    *,
    sample_input: pd.DataFrame | None = None,
    run: str | None = None,
    reference: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    metrics: dict[str, float] | None = None,
    card: dict[str, str] | None = None,
    trusted: bool = False,
    description: str | None = None,
) -> ModelVersion:
    """Register a saved model file; its format is read from its content."""
    if path.is_symlink():
        raise InvalidInput(
            f"{path} is a symbolic link", hint="register the file it points to, by its own path"
        )
    if path.is_dir():
        raise InvalidInput(
            f"{path} is a directory", hint="give the model file (.skops, .onnx, or a pickle)"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist", hint="check the --artifact path") from None
    fmt = formats.format_for(path, data)
    if fmt == "pickle" and not trusted:
        raise formats.UnsafeModel(
            f"{path} is a pickle, which runs arbitrary code when loaded",
            hint="save it with skops.io.dump instead; or pass --trusted if you vouch for it",
        )
    if trusted:
        require_promoter(ws, "register a trusted model")
    model = formats.load(data, fmt, trusted=trusted)
    flavor = (
        None if fmt == "onnx" else f"{type(model).__module__.split('.')[0]}.{type(model).__name__}"
    )
    return register(
        ws,
        name,
        Candidate(data, fmt, flavor, model),
        sample_input=sample_input,
        run=run,
        reference=reference,
        holdout=holdout,
        target=target,
        metrics=metrics,
        card=card,
        trusted=trusted,
        description=description,
    )


def register(
    ws: Workspace,
    name: str,
    candidate: Candidate,
    *,
    sample_input: pd.DataFrame | None,
    run: str | None,
    reference: pd.DataFrame | None,
    holdout: pd.DataFrame | None,
    target: str | None,
    metrics: dict[str, float] | None,
    card: dict[str, str] | None,
    trusted: bool,
    description: str | None,
) -> ModelVersion:
    check_name(name)
    if trusted:
        require_promoter(ws, "register a trusted model")
    if candidate.format == "onnx":
        formats.check_onnx_external_data(candidate.data)
    if candidate.format == "skops" and not trusted:
        unsafe = formats.unsafe_types(formats.skops_untrusted_types(candidate.data))
        if unsafe:
            raise formats.UnsafeModel(
                "the model contains types outside scikit-learn, numpy and scipy: "
                + ", ".join(unsafe),
                hint="review them, then register with trusted=True (--trusted)",
            )
    card_fields = _check_card(card)
    model = candidate.model
    task = evaluation.task_of(model)

    signature = None
    if sample_input is not None:
        head = sample_input.head(SIGNATURE_ROWS)
        signature = infer_signature(head, model.predict(head), getattr(model, "classes_", None))

    run_record = _run(ws, run)
    found_metrics: dict[str, float] = {}
    importance = None
    holdout_id = None
    if holdout is not None:
        features, y = _split_holdout(holdout, target, signature)
        found_metrics.update(evaluation.evaluate(model, task, features, y))
        importance = evaluation.permutation_importance(model, task, features, y)
        holdout_id = ws.objects.put_bytes(_parquet(holdout))
    if run_record is not None:
        found_metrics.update(run_record.metrics)
    found_metrics.update({k: float(v) for k, v in (metrics or {}).items()})

    profile_id = None
    profile_doc = None
    base = reference if reference is not None else sample_input
    if base is not None:
        profile_doc = _profile(base, model, signature)
        profile_id = ws.objects.put_bytes(json.dumps(profile_doc, sort_keys=True).encode())

    object_id = ws.objects.put_bytes(candidate.data)
    commit = run_record.git_commit if run_record is not None else gitutil.head_commit(ws.root)
    inputs = dict(run_record.inputs) if run_record is not None else {}
    row = {
        "model": name,
        "created": time.time(),
        "actor": ws.actor,
        "format": candidate.format,
        "flavor": candidate.flavor,
        "object_id": object_id,
        "size": len(candidate.data),
        "trusted_by": ws.actor if trusted else None,
        "run_id": run_record.id if run_record is not None else None,
        "git_commit": commit,
        "task": task,
        "target": target,
        "signature": json.dumps(signature.to_dict()) if signature else None,
        "metrics": json.dumps(found_metrics, sort_keys=True),
        "inputs": json.dumps(inputs, sort_keys=True),
        "importance": json.dumps(importance) if importance is not None else None,
        "card_fields": json.dumps(card_fields, sort_keys=True),
        "profile_id": profile_id,
        "holdout_id": holdout_id,
    }
    mv = _insert(ws, name, row, description, profile_doc)
    from monoloop.registry import tags

    tags.after_register(ws, mv)
    return mv


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
                from monoloop.registry.versions import to_version

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
    payload["metrics"] = {
        k: (v if v == v and abs(v) != float("inf") else repr(v))
        for k, v in json.loads(row["metrics"]).items()
    }
    return payload


def require_promoter(ws: Workspace, what: str) -> None:
    """Only the actors in `registry.promoters` may do this (everyone when the list is empty)."""
    allowed = ws.config.registry.promoters
    if allowed and ws.actor not in allowed:
        raise Forbidden(
            f"{ws.actor} may not {what}: it needs the promote permission",
            hint="ask one of registry.promoters in monoloop.yaml: " + ", ".join(allowed),
        )


def _check_card(card: dict[str, str] | None) -> dict[str, str]:
    if card is None:
        return {}
    if not isinstance(card, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in card.items()
    ):
        raise InvalidInput(
            "card must map field names to text",
            hint='e.g. card={"intended_use": "...", "owner": "team@example.com"}',
        )
    return {k: v for k, v in card.items() if v.strip()}


def _run(ws: Workspace, run: str | None) -> Any:
    if run is None:
        return None
    from monoloop.tracking.service import get_run

    return get_run(ws, run)


def _split_holdout(
    holdout: pd.DataFrame, target: str | None, signature: Signature | None
) -> tuple[pd.DataFrame, Any]:
    if not isinstance(holdout, pd.DataFrame) or holdout.empty:
        raise InvalidInput("holdout must be a non-empty DataFrame with the target column")
    if target is None:
        raise InvalidInput(
            "a holdout set needs the name of its target column",
            hint="pass target='COLUMN' (--target COLUMN)",
        )
    if target not in holdout.columns:
        raise InvalidInput(
            f"the holdout set has no column {target!r}",
            hint="its columns are " + ", ".join(map(str, holdout.columns)),
        )
    features = signature.check(holdout) if signature is not None else holdout.drop(columns=[target])
    return features, holdout[target].to_numpy()


def _profile(base: pd.DataFrame, model: Any, signature: Signature | None) -> dict[str, Any]:
    from monoloop.monitoring.profile import build_profile

    features = signature.check(base) if signature is not None else base
    frame = features.copy()
    frame[PREDICTION_COLUMN] = model.predict(features)
    doc: dict[str, Any] = build_profile(frame).to_dict()
    return doc


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _plain_list(values: Any) -> list[Any] | None:
    if values is None:
        return None
    return [v.item() if hasattr(v, "item") else v for v in list(values)]


def verify_bytes(data: bytes, object_id: str) -> None:
    """Bytes read for loading must be exactly the bytes registered."""
    from monoloop.errors import CorruptObject

    if hash_bytes(data) != object_id:
        raise CorruptObject(
            f"model object {object_id} does not match its id",
            hint="run `monoloop store fsck`; restore the object from a remote",
        )
