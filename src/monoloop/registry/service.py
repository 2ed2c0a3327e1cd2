"""Registering model versions: the one path the SDK, the CLI and the server share.

    mv = register_model(ws, "churn", model, sample_input=X_train.head(100),
                        holdout=test_df, target="churned", run=run_id,
                        card={"intended_use": "...", "owner": "..."})

A version records its bytes (an object), format, signature, metrics, the run and data it
came from, a reference profile of the training data, permutation importance on held-out
rows, and a model card. Registering is two steps: `prepare` computes what needs the model
object where the model is, and stores the bytes; `record.insert_version` checks and records
the version where the DB is. A `Registrar` joins them: a workspace (both steps here) or a
monoloop server (the remote backend uploads the bytes and posts the draft). The row, the
card and the `model.register` ledger event are one transaction; the bytes are stored first
(an interrupted registration leaves at most an unreferenced object, which `monoloop data gc`
removes).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd  # type: ignore[import-untyped]

from monoloop import gitutil
from monoloop.errors import InvalidInput
from monoloop.registry import evaluation, formats, record
from monoloop.registry.model import ModelVersion, VersionDraft, check_name
from monoloop.registry.record import require_promoter
from monoloop.registry.signature import Signature, infer_signature
from monoloop.workspace import Workspace

if TYPE_CHECKING:
    from monoloop.tracking.model import Run

__all__ = [
    "Candidate",
    "Registrar",
    "WorkspaceRegistrar",
    "prepare",
    "register",
    "register_file",
    "register_model",
    "require_promoter",
]

PREDICTION_COLUMN = "__prediction__"
SIGNATURE_ROWS = 100


@dataclass
class Candidate:
    """Serialised bytes plus the object to evaluate them with (the loaded form)."""

    data: bytes
    format: str
    flavor: str | None
    model: Any

    @property
    def wants_companion(self) -> bool:
        """A scikit-learn model in skops gets an ONNX companion when it verifies
        (registry/companion.py)."""
        return self.format == "skops"


class Registrar(Protocol):
    """Where a registration's bytes and record go: this workspace, or a monoloop server."""

    @property
    def root(self) -> Path:
        """The caller's code: its Git commit is recorded when no run names one."""
        ...

    def put_bytes(self, data: bytes) -> str: ...
    def get_run(self, run: str) -> Run: ...
    def insert_version(
        self, name: str, draft: VersionDraft, *, description: str | None = None
    ) -> ModelVersion: ...


class WorkspaceRegistrar:
    """A registrar over an open workspace: the bytes go to its store, the row to its DB."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    @property
    def root(self) -> Path:
        return self.ws.root

    def put_bytes(self, data: bytes) -> str:
        return self.ws.objects.put_bytes(data)

    def get_run(self, run: str) -> Run:
        from monoloop.tracking.service import get_run

        return get_run(self.ws, run)

    def insert_version(
        self, name: str, draft: VersionDraft, *, description: str | None = None
    ) -> ModelVersion:
        return record.insert_version(self.ws, name, draft, description=description)


def register_model(
    where: Workspace | Registrar,
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
    to = _registrar(where, trusted)
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
    flavor = _flavor(model)
    return register(
        to,
        name,
        Candidate(data, format, flavor, loaded),
        Details(sample_input, run, reference, holdout, target, metrics, card, trusted, description),
    )


def register_file(
    where: Workspace | Registrar,
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
    to = _registrar(where, trusted)
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
    model = formats.load(data, fmt, trusted=trusted)
    flavor = None if fmt == "onnx" else _flavor(model)
    return register(
        to,
        name,
        Candidate(data, fmt, flavor, model),
        Details(sample_input, run, reference, holdout, target, metrics, card, trusted, description),
    )


def _registrar(where: Workspace | Registrar, trusted: bool) -> Registrar:
    if not isinstance(where, Workspace):
        return where  # a server checks the promote permission itself
    if trusted:
        # Before any work, and before a trusted pickle is even unpickled.
        require_promoter(where, "register a trusted model")
    return WorkspaceRegistrar(where)


@dataclass(frozen=True)
class Details:
    """What a registration is told besides the model: see register_model's arguments."""

    sample_input: pd.DataFrame | None = None
    run: str | None = None
    reference: pd.DataFrame | None = None
    holdout: pd.DataFrame | None = None
    target: str | None = None
    metrics: dict[str, float] | None = None
    card: dict[str, str] | None = None
    trusted: bool = False
    description: str | None = None


def register(to: Registrar, name: str, candidate: Candidate, details: Details) -> ModelVersion:
    d = details
    check_name(name)
    # The recording step checks the bytes again; checking here saves the work below.
    record.check_bytes(candidate.data, candidate.format, trusted=d.trusted)
    draft = prepare(
        to,
        candidate,
        sample_input=d.sample_input,
        run=to.get_run(d.run) if d.run is not None else None,
        reference=d.reference,
        holdout=d.holdout,
        target=d.target,
        metrics=d.metrics,
        card=d.card,
        trusted=d.trusted,
    )
    return to.insert_version(name, draft, description=d.description)


def prepare(
    to: Registrar,
    candidate: Candidate,
    *,
    sample_input: pd.DataFrame | None,
    run: Run | None,
    reference: pd.DataFrame | None,
    holdout: pd.DataFrame | None,
    target: str | None,
    metrics: dict[str, float] | None,
    card: dict[str, str] | None,
    trusted: bool,
) -> VersionDraft:
    """Everything that needs the model object, computed; the bytes put through `to`."""
    card_fields = _check_card(card)
    model = candidate.model
    task = evaluation.task_of(model)

    signature = None
    if sample_input is not None:
        head = sample_input.head(SIGNATURE_ROWS)
        signature = infer_signature(head, model.predict(head), getattr(model, "classes_", None))

    found_metrics: dict[str, float] = {}
    importance = None
    holdout_id = None
    check_rows = None
    if holdout is not None:
        features, y = _split_holdout(holdout, target, signature)
        found_metrics.update(evaluation.evaluate(model, task, features, y))
        importance = evaluation.permutation_importance(model, task, features, y)
        holdout_id = to.put_bytes(_parquet(holdout))
        check_rows = (features, "holdout")
    elif signature is not None and sample_input is not None:
        check_rows = (signature.check(sample_input), "sample input")
    if run is not None:
        found_metrics.update(run.metrics)
    found_metrics.update({k: float(v) for k, v in (metrics or {}).items()})

    profile_id = None
    base = reference if reference is not None else sample_input
    if base is not None:
        profile_doc = _profile(base, model, signature)
        profile_id = to.put_bytes(json.dumps(profile_doc, sort_keys=True).encode())

    companion_id, companion = None, None
    if candidate.wants_companion:
        companion_id, companion = _companion(to, model, check_rows)

    return VersionDraft(
        format=candidate.format,
        flavor=candidate.flavor,
        object_id=to.put_bytes(candidate.data),
        trusted=trusted,
        run_id=run.id if run is not None else None,
        git_commit=run.git_commit if run is not None else gitutil.head_commit(to.root),
        task=task,
        target=target,
        signature=signature.to_dict() if signature else None,
        metrics=found_metrics,
        inputs=dict(run.inputs) if run is not None else {},
        importance=importance,
        card_fields=card_fields,
        profile_id=profile_id,
        holdout_id=holdout_id,
        companion_id=companion_id,
        companion=companion,
    )


def _companion(
    to: Registrar, model: Any, rows: tuple[pd.DataFrame, str] | None
) -> tuple[str | None, dict[str, Any]]:
    """The version's ONNX companion, stored if it verified, and the note of the check."""
    from monoloop.registry.companion import make_companion

    if rows is None:
        reason = "no rows to check a graph against: register with sample_input or a holdout set"
        return None, {"verified": False, "reason": reason}
    made = make_companion(model, rows[0], checked_on=rows[1])
    return (to.put_bytes(made.data) if made.data is not None else None), made.note


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


def _flavor(model: Any) -> str:
    """The library and class a model came from, e.g. sklearn.Pipeline."""
    return f"{type(model).__module__.split('.')[0]}.{type(model).__name__}"


def _plain_list(values: Any) -> list[Any] | None:
    if values is None:
        return None
    return [v.item() if hasattr(v, "item") else v for v in list(values)]
