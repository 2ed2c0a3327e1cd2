"""The registry from Python: `monoloop.register_model(...)` and `monoloop.load_model(...)`.

    with monoloop.start_run(name="train") as run:
        model.fit(X_train, y_train)
        mv = monoloop.register_model("churn", model, sample_input=X_train.head(100),
                                     holdout=test_df, target="churned")
    predictor = monoloop.load_model("churn@champion")
    predictor.predict(df)

Inside a run (or with `run=`), the version records that run: its metrics, its input
data, its commit. The run's buffered writes are flushed first, so nothing is missed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

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
    with _workspace(workspace, handle) as ws:
        return service.register_model(
            ws,
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
    from monoloop.registry.loading import load_model as load

    with _workspace(workspace, None) as ws:
        return load(ws, ref)


@contextlib.contextmanager
def _workspace(
    where: str | Path | Workspace | None, handle: RunHandle | None
) -> Iterator[Workspace]:
    from monoloop.tracking.sdk import ENV_WORKSPACE
    from monoloop.workspace import Workspace, open_workspace

    if isinstance(where, Workspace):
        yield where
        return
    if where is None and handle is not None:
        yield handle.workspace
        return
    place = where if where is not None else os.environ.get(ENV_WORKSPACE)
    with open_workspace(Path(place) if place else None) as ws:
        yield ws
