"""`monoloop predict NAME@ALIAS INPUT -o OUTPUT`: batch scoring of a CSV or Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monoloop.cli.context import JSON_OPTION, cli


def predict(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME:VERSION or NAME (the latest).")],
    source: Annotated[Path, typer.Argument(metavar="INPUT", help="Rows to score: .csv/.parquet.")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Where to write the rows with their predictions."),
    ],
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows read and scored at a time.")
    ] = 100_000,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            "-e",
            metavar="local|ray",
            help="ray: score the chunks on a pool of Ray actors (large inputs).",
        ),
    ] = "local",
    json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Score a file with a registered model; recorded as a run (kind=batch-scoring)."""
    from monoloop.serving.scoring import score_file

    c = cli(ctx, json=json)
    src = c.path(source)
    dst = c.path(output)
    total = _rows_of(src)
    with c.workspace() as ws, c.output.progress(total, "scoring") as advance:
        result = score_file(
            ws, ref, src, dst, chunk_rows=chunk_rows, executor=executor, progress=advance
        )
    c.output.result(
        result.to_dict(),
        lambda con: con.print(
            f"scored {result.rows} rows with {result.version.ref} -> {dst} "
            f"({result.seconds:.1f} s, run {result.run_id[:8]})"
        ),
    )


def _rows_of(path: Path) -> int | None:
    """The row count for the progress bar, where the file states it (Parquet)."""
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):  # not Parquet after all: score_file reports it properly
        return None
