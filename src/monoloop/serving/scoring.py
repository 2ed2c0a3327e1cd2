"""Batch scoring: `monoloop predict churn@champion data/in.parquet -o data/scored.parquet`.

The reference is resolved once, so the whole file is scored by one version even if the
alias moves meanwhile. The input (CSV or Parquet) is read in chunks of `chunk_rows`, each
checked against the signature and predicted; the output has the input's columns plus
`prediction` and, where the model gives them, `proba_<class>`, written to a temporary file
beside the target and renamed into place when complete.

With `executor="ray"` the chunks are scored by a pool of Ray actors (one per CPU of the
cluster), each loading the version once through `load_version`; the output keeps the
input's order. The actors open the workspace by its path: they must see its file system
(a local Ray, or a shared mount), as the Ray executor of pipelines does with a local store.

Each scoring is a run (tags kind=batch-scoring and model=NAME:VERSION): the reference, the
version, the files and their content ids, the rows and the time.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.errors import InvalidInput, NotFound
from monoloop.registry.loading import Predictor, load_version
from monoloop.registry.model import ModelVersion
from monoloop.workspace import Workspace

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
PREDICTION = "prediction"
PROBA = "proba_"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ScoreResult:
    version: ModelVersion
    input: Path
    output: Path
    rows: int
    seconds: float
    executor: str
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "input": str(self.input),
            "output": str(self.output),
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds > 0 else None,
            "executor": self.executor,
            "run_id": self.run_id,
        }


def score_file(
    ws: Workspace,
    ref: str,
    source: Path,
    target: Path,
    *,
    chunk_rows: int = 100_000,
    executor: str = "local",
    progress: Progress | None = None,
) -> ScoreResult:
    from monoloop.hashing import hash_file
    from monoloop.registry.versions import get_version
    from monoloop.tracking import service as tracking

    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1, got {chunk_rows}")
    if executor not in ("local", "ray"):
        raise InvalidInput(f"unknown executor {executor!r}", hint="use local or ray")
    fmt_in, fmt_out = file_format(source), file_format(target)
    if not source.is_file():
        raise NotFound(f"{source} does not exist", hint="give the path of a CSV or Parquet file")
    mv = get_version(ws, ref)
    run_id = tracking.create_run(
        ws,
        name=f"predict {mv.ref}",
        tags={"kind": "batch-scoring", "model": mv.ref},
        params={
            "model": ref,
            "version": mv.ref,
            "input": str(source),
            "output": str(target),
            "chunk_rows": chunk_rows,
            "executor": executor,
        },
        inputs={str(source): hash_file(source)},
    )
    start = time.perf_counter()
    try:
        chunks = read_chunks(source, fmt_in, chunk_rows)
        if executor == "ray":
            scored = _on_ray(ws, mv, chunks)
        else:
            predictor = load_version(ws, mv)
            scored = (score_frame(predictor, chunk) for chunk in chunks)
        rows = write_chunks(scored, target, fmt_out, progress)
    except BaseException as exc:
        tracking.finish_run(ws, run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    seconds = time.perf_counter() - start
    tracking.log_metrics(
        ws, run_id, {"rows": rows, "seconds": seconds, "rows_per_s": rows / max(seconds, 1e-9)}
    )
    tracking.finish_run(ws, run_id, outputs={str(target): hash_file(target)})
    return ScoreResult(mv, source, target, rows, seconds, executor, run_id)


def file_format(path: Path) -> str:
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(
            f"{path}: batch scoring reads and writes .csv and .parquet files",
            hint="name the file .csv or .parquet",
        )
    return found


def read_chunks(source: Path, fmt: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    with pd.read_csv(source, chunksize=chunk_rows) as reader:
        yield from reader


def score_frame(predictor: Predictor, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its predictions (and class probabilities) as new columns."""
    from monoloop.serving.models import classes_of

    taken = [c for c in frame.columns if c == PREDICTION or str(c).startswith(PROBA)]
    if taken:
        raise InvalidInput(
            f"the input already has column {taken[0]!r}, where predictions would go",
            hint=f"rename or drop {', '.join(map(str, taken))} before scoring",
        )
    features = predictor.features(frame)
    model = predictor.model
    outputs = getattr(model, "outputs", None)
    proba: np.ndarray | None
    if outputs is not None:
        predictions, proba = outputs(features)
    else:
        predictions = np.asarray(model.predict(features))
        proba = np.asarray(model.predict_proba(features)) if predictor.has_proba else None
    scored = frame.copy()
    scored[PREDICTION] = predictions
    classes = classes_of(predictor)
    if proba is not None and classes is not None:
        for i, cls in enumerate(classes):
            scored[f"{PROBA}{cls}"] = proba[:, i]
    return scored


def write_chunks(
    chunks: Iterator[pd.DataFrame], target: Path, fmt: str, progress: Progress | None
) -> int:
    """Write the chunks to `target` through a temporary file; returns the rows written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    rows = 0
    try:
        if fmt == "parquet":
            rows = _write_parquet(chunks, partial, progress)
        else:
            with open(partial, "w", encoding="utf-8", newline="") as out:
                for i, chunk in enumerate(chunks):
                    chunk.to_csv(out, index=False, header=i == 0)
                    rows += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return rows


def _write_parquet(chunks: Iterator[pd.DataFrame], path: Path, progress: Progress | None) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    try:
        for chunk in chunks:
            if writer is None:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                writer = pq.ParquetWriter(path, table.schema)
            else:
                # A later chunk may infer other types (ints, then floats with a gap): the
                # first chunk's schema is the file's.
                table = pa.Table.from_pandas(chunk, schema=writer.schema, preserve_index=False)
            writer.write_table(table)
            rows += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # an empty input: an empty file with no columns
        pq.write_table(pa.table({}), path)
    return rows


# -- Ray ------------------------------------------------------------------------------------


class ScoringActor:
    """A Ray actor that loads the version once and scores the chunks it is given."""

    def __init__(self, root: str, env: dict[str, str], ref: str) -> None:
        from monoloop.registry.versions import get_version
        from monoloop.workspace import open_workspace

        with open_workspace(Path(root), env=env) as ws:
            self.predictor = load_version(ws, get_version(ws, ref))

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        return score_frame(self.predictor, frame)


def _on_ray(ws: Workspace, mv: ModelVersion, chunks: Iterator[pd.DataFrame]) -> Iterator[Any]:
    from monoloop.pipelines.ray_executor import RayBackend

    backend = RayBackend(ws.config.execution.ray.model_dump(), os.environ)
    try:
        workers = backend.capacity()
        import ray

        actor = ray.remote(num_cpus=1, max_restarts=0)(ScoringActor)
        env = {"MONOLOOP_DB_URL": ws.settings.db_url}
        if ws.settings.store_url:
            env["MONOLOOP_STORE_URL"] = ws.settings.store_url
        pool = [actor.remote(str(ws.root), env, mv.ref) for _ in range(workers)]
        # At most two chunks per actor in flight: memory stays bounded on a large input.
        pending: deque[Any] = deque()
        for i, chunk in enumerate(chunks):
            pending.append(pool[i % workers].score.remote(chunk))
            if len(pending) >= 2 * workers:
                yield _get(ray, pending.popleft())
        while pending:
            yield _get(ray, pending.popleft())
    finally:
        backend.close()


def _get(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.as_instanceof_cause()
        raise cause from None
