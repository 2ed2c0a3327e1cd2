"""The PII scan over whole columns: RE2 in pyarrow first, Python only on candidate cells.

`scan_frame` must find exactly what `pii.find` finds cell by cell; the tests hold it
to that on a labelled set with look-alikes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.compute as pc

from monoloop.validation.pii import DETECTORS, Detector, detect, find, matches, name_hint
from monoloop.validation.results import NameHint, PiiFinding, PiiScan

EXAMPLES = 5
SAMPLES = 3


def is_text(series: pd.Series) -> bool:
    """Strings, or an object column whose values are strings."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return True
    if not pd.api.types.is_object_dtype(dtype):
        return False
    first = series.dropna().head(100)
    return len(first) > 0 and all(isinstance(v, str) for v in first)


def scan_frame(
    frame: pd.DataFrame, columns: Iterable[str] | None = None, *, force: Iterable[str] = ()
) -> PiiScan:
    """Scan the text columns (or the named ones) for PII; check every column's name.

    Columns in `force` are scanned as text whatever their type (a card number stored as
    an integer, under a `pii: forbid` policy).
    """
    names = [str(c) for c in frame.columns] if columns is None else list(columns)
    forced = set(force)
    hints = [NameHint(c, kind) for c in names if (kind := name_hint(c)) is not None]
    findings: list[PiiFinding] = []
    hit_rows: dict[str, np.ndarray] = {}
    scanned: list[str] = []
    cells = 0
    for name in names:
        series = frame[name]
        if not is_text(series):
            if name not in forced:
                continue
            series = series.astype("str").where(series.notna(), None)
        scanned.append(name)
        cells += int(series.notna().sum())
        column_findings, hits = scan_series(series, name)
        findings.extend(column_findings)
        hit_rows[name] = hits
    return PiiScan(findings, hints, scanned, cells, hit_rows)


def scan_series(series: pd.Series, column: str) -> tuple[list[PiiFinding], np.ndarray]:
    """Findings per kind for one text column, and the sorted positions of every cell with PII."""
    values = _arrow_strings(series)
    by_kind: dict[str, np.ndarray] = {}
    for det in DETECTORS:
        hits = _detector_hits(det, values)
        if hits.size:
            mask = by_kind.setdefault(det.kind, np.zeros(len(values), dtype=bool))
            mask[hits] = True
    _resolve_overlaps(values, by_kind)
    findings = []
    every = np.zeros(len(values), dtype=bool)
    for kind, mask in by_kind.items():
        hits = np.flatnonzero(mask)
        if hits.size == 0:  # every hit of this kind lost an overlap to another kind
            continue
        every |= mask
        sample_texts = values.take(pa.array(hits[:SAMPLES])).to_pylist()
        samples = tuple(_first_masked(kind, text) for text in sample_texts)
        rows = tuple(int(i) + 1 for i in hits[:EXAMPLES])
        findings.append(PiiFinding(column, kind, int(hits.size), rows, samples))
    return findings, np.flatnonzero(every)


def _resolve_overlaps(values: pa.ChunkedArray, by_kind: dict[str, np.ndarray]) -> None:
    """Cells hit by several detectors are judged again by `find`, which settles overlaps."""
    if len(by_kind) < 2:
        return
    multi = np.flatnonzero(np.sum(list(by_kind.values()), axis=0) > 1)
    if multi.size == 0:
        return
    for position, text in zip(multi, values.take(pa.array(multi)).to_pylist(), strict=True):
        kinds = {m.detector for m in find(text)}
        for kind, mask in by_kind.items():
            mask[position] = kind in kinds


def _detector_hits(det: Detector, values: pa.ChunkedArray) -> np.ndarray:
    candidates = _where(pc.match_substring_regex(values, det.prefilter))
    if candidates.size == 0:
        return candidates
    if det.exact:
        if det.exact_unless is None:
            return candidates
        subset = values.take(pa.array(candidates))
        unsure = _where(pc.match_substring_regex(subset, det.exact_unless))
        if unsure.size == 0:
            return candidates
        keep = np.ones(candidates.size, dtype=bool)
        texts = subset.take(pa.array(unsure)).to_pylist()
        keep[unsure] = [detect(det, t) for t in texts]
        return candidates[keep]
    texts = values.take(pa.array(candidates)).to_pylist()
    keep = np.fromiter((detect(det, t) for t in texts), dtype=bool, count=len(texts))
    return candidates[keep]


def _where(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    filled = pc.fill_null(mask, False)
    return np.flatnonzero(filled.to_numpy(zero_copy_only=False))


def _arrow_strings(series: pd.Series) -> pa.ChunkedArray:
    try:
        values = pa.chunked_array(pa.array(series, from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # An object column mixing strings with other values: scan the strings only.
        text = series.map(lambda v: v if isinstance(v, str) else None)
        values = pa.chunked_array(pa.array(text, type=pa.large_string(), from_pandas=True))
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.large_string())
    return values


def _first_masked(kind: str, text: str) -> str:
    for det in DETECTORS:
        if det.kind == kind:
            for match in matches(det, text):
                return match.masked
    return "***"
