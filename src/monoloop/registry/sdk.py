"""The registry from Python: `monoloop.register_model(...)` and `monoloop.load_model(...)`.

    with monoloop.start_run(name="train") as run:
        model.fit(X_train, y_train)
        mv = monoloop.register_model("churn", model, sample_input=X_train.head(100),
                                     holdout=test_df, target="churned")
    predictor = monoloop.load_model("churn@champion")
    predictor.predict(df)

Inside a run (or with `run=`), the version records that run: its metrics, its input
data, its commit. The run's buffered writes are flushed first, so nothing is missed.
With MONOLOOP_SERVER_URL set (and no workspace named), the model is evaluated and
profiled here, its bytes uploaded, and the version recorded by the server; loading
downloads the bytes and checks them against the version's id before anything parses them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

    from monoloop.backend.base import Backend
    from monoloop.registry.loading import Predictor
    from monoloop.registry.model import ModelVersion
    from monoloop.tracking.sdk import RunHandle
    from monoloop.workspace import Workspace


def register_model(
    name: str,
    model: Any,
    *,
    sample_input: pd.DataFrame,
    run: RunHandle | str | None = None,
    format: str = "skops",
    reference: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    metrics: dict[str, float] | None = None,
    card: dict[str, str] | None = None,
    trusted: bool = False,
    description: str | None = None,
    workspace: str | Path | Workspace | None = None,
) -> ModelVersion:
    """Register a trained model as the next version of `name` (skops by default)."""
    from monoloop.registry import service
    from monoloop.tracking.sdk import RunHandle, active_run

    handle = run if isinstance(run, RunHandle) else active_run() if run is None else None
    run_id = run if isinstance(run, str) else handle.id if handle is not None else None
    if handle is not None:
        handle.flush()
    with _backend(workspace, handle) as backend:
        return service.register_model(
            backend,
            name,
            model,
            sample_input=sample_input,
            format=format,
            run=run_id,
            reference=reference,
            holdout=holdout,
            target=target,
            metrics=metrics,
            card=card,
            trusted=trusted,
            description=description,
        )


def load_model(ref: str, *, workspace: str | Path | Workspace | None = None) -> Predictor:
    """Load `NAME@ALIAS`, `NAME:VERSION` or `NAME` (latest) through the safe loader."""
    with _backend(workspace, None) as backend:
        return backend.load_model(ref)


@contextlib.contextmanager
def _backend(where: str | Path | Workspace | None, handle: RunHandle | None) -> Iterator[Backend]:
    from monoloop.backend import backend_for
    from monoloop.tracking.sdk import ENV_WORKSPACE

    if where is None and handle is not None:
        yield handle.backend  # the run's own; its writer closes it
        return
    with backend_for(where if where is not None else os.environ.get(ENV_WORKSPACE)) as backend:
        yield backend
