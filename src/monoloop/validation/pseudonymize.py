"""Pseudonymisation: each value replaced by a keyed hash, the same value always by the same hash.

Keyed BLAKE2b (its built-in MAC mode, RFC 7693), 128-bit output, written as
`pz_` + 32 hex digits. Without the key nobody can test a guess ("is this
alice@example.com?") against a pseudonym, which a plain hash would allow. The
same key gives the same pseudonyms, so joins across tables still work.

The key comes from MONOLOOP_PII_KEY, or from the file named by
MONOLOOP_PII_KEY_FILE (a mounted secret). It is never logged, printed, recorded
in the audit ledger or stored; `PiiKey` does not even show it in its repr.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from monoloop.errors import ConfigError, InvalidInput
from monoloop.validation.readers import decode, format_of, read_bytes, to_bytes

ENV_KEY = "MONOLOOP_PII_KEY"
ENV_KEY_FILE = "MONOLOOP_PII_KEY_FILE"
MIN_KEY_CHARS = 16
PREFIX = "pz_"
PSEUDONYM = re.compile(r"^pz_[0-9a-f]{32}$")
_PERSON = b"monoloop-pii"


class PiiKeyMissing(ConfigError):
    """No pseudonymisation key is configured, or it is too short."""


class PiiKey:
    """A secret key for pseudonyms; its text never appears in a repr, a log or an error."""

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw.strip()) < MIN_KEY_CHARS:
            raise PiiKeyMissing(
                f"the pseudonymisation key is shorter than {MIN_KEY_CHARS} characters",
                hint=f'use a long random key, e.g. `export {ENV_KEY}="$(openssl rand -hex 32)"`',
            )
        # Stretch any key length to the 64 bytes BLAKE2b takes, bound to this use.
        self._key = hashlib.blake2b(raw.strip(), digest_size=64, person=_PERSON).digest()

    def __repr__(self) -> str:
        return "PiiKey(***)"

    def pseudonym(self, value: str) -> str:
        digest = hashlib.blake2b(value.encode("utf-8"), key=self._key, digest_size=16)
        return PREFIX + digest.hexdigest()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PiiKey:
        env = os.environ if env is None else env
        if env.get(ENV_KEY):
            return cls(env[ENV_KEY])
        path = env.get(ENV_KEY_FILE)
        if path:
            try:
                return cls(Path(path).read_bytes())
            except OSError as exc:
                raise PiiKeyMissing(
                    f"cannot read the key file named by {ENV_KEY_FILE}: {exc.strerror or exc}",
                    hint=f"point {ENV_KEY_FILE} at a readable file holding the key",
                ) from None
        raise PiiKeyMissing(
            f"no pseudonymisation key: set {ENV_KEY} (or {ENV_KEY_FILE} to a file holding it)",
            hint=f'e.g. `export {ENV_KEY}="$(openssl rand -hex 32)"`, kept in your secret store; '
            "the same key must be used every time for pseudonyms to stay joinable",
        )


def pseudonymize_series(series: pd.Series, key: PiiKey) -> pd.Series:
    """Every non-null value replaced by its pseudonym; nulls stay null.

    Each distinct value is hashed once: columns of e-mails or customer ids repeat a lot.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    hashed = np.array([key.pseudonym(_text(v)) for v in uniques], dtype=object)
    out = np.full(len(series), None, dtype=object)
    present = codes >= 0
    out[present] = hashed[codes[present]]
    return pd.Series(out, index=series.index, name=series.name, dtype="str")


def _text(value: object) -> str:
    # 42 and 42.0 read from different formats are the same identifier.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def not_pseudonymized(series: pd.Series) -> np.ndarray:
    """Positions of non-null values that are not pseudonyms."""
    text = series.astype("str")
    ok = text.str.fullmatch(PSEUDONYM.pattern).fillna(False).astype(bool) | series.isna()
    return np.flatnonzero(~ok.to_numpy(dtype=bool))


def pseudonymize_file(
    data: bytes, *, name: str, out_name: str, columns: Sequence[str], key: PiiKey
) -> tuple[bytes, int]:
    """The file with `columns` pseudonymized, and how many cells changed.

    When the output format is the input's, every other column is written back exactly
    as it was read (CSV text verbatim, JSON values as they were, Parquet types kept),
    so a fix changes nothing but the PII.
    """
    fmt, _ = format_of(name)
    out_fmt, out_gz = format_of(out_name)
    if fmt != out_fmt:
        frame = read_bytes(data, name=name, string_columns=columns)
        _require(columns, list(frame.columns), name)
        replaced = {c: pseudonymize_series(frame[c], key) for c in columns}
        cells = sum(int(frame[c].notna().sum()) for c in columns)
        return to_bytes(frame.assign(**replaced), out_name), cells
    raw = decode(data, name=name)
    if fmt == "parquet":
        body, cells = _parquet(raw, columns, key, name)
    elif fmt == "jsonl":
        body, cells = _jsonl(raw, columns, key, name)
    else:
        body, cells = _delimited(raw, columns, key, name, sep="\t" if fmt == "tsv" else ",")
    if out_gz:
        import gzip

        body = gzip.compress(body, mtime=0)
    return body, cells


def _parquet(raw: bytes, columns: Sequence[str], key: PiiKey, name: str) -> tuple[bytes, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(raw))
    _require(columns, table.column_names, name)
    cells = 0
    for column in columns:
        series = table.column(column).to_pandas()
        cells += int(series.notna().sum())
        values = pa.array(pseudonymize_series(series, key), type=pa.string(), from_pandas=True)
        table = table.set_column(table.column_names.index(column), column, values)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue(), cells


def _delimited(
    raw: bytes, columns: Sequence[str], key: PiiKey, name: str, *, sep: str
) -> tuple[bytes, int]:
    frame = pd.read_csv(io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False)
    _require(columns, list(frame.columns), name)
    cells = 0
    for column in columns:
        text = frame[column]
        present = text != ""
        cells += int(present.sum())
        frame[column] = pseudonymize_series(text.where(present), key).fillna("")
    return frame.to_csv(index=False, sep=sep).encode("utf-8"), cells


def _jsonl(raw: bytes, columns: Sequence[str], key: PiiKey, name: str) -> tuple[bytes, int]:
    out: list[str] = []
    seen: set[str] = set()
    cells = 0
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name}: line {number} is not JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise InvalidInput(f"{name}: line {number} is not a JSON object")
        seen.update(record)
        for column in columns:
            if record.get(column) is not None:
                record[column] = key.pseudonym(_text(record[column]))
                cells += 1
        out.append(json.dumps(record, ensure_ascii=False))
    _require(columns, sorted(seen), name)
    return ("\n".join(out) + "\n").encode("utf-8") if out else b"", cells


def _require(columns: Sequence[str], present: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in present]
    if missing:
        raise InvalidInput(
            f"{name} has no column {', '.join(map(repr, missing))} to pseudonymize",
            hint=f"its columns: {', '.join(map(str, present))}",
        )
