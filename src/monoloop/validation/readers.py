"""Tables in and out: CSV, Parquet and JSON Lines, chosen by extension and checked by sniffing.

The extension says what the file should be; the first bytes say what it is. A
mismatch is refused with a message that names the file and what it looks like,
instead of a parser error from deep inside pandas.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Collection
from pathlib import Path
from typing import IO, Any, Literal

import pandas as pd  # type: ignore[import-untyped]

from monoloop.errors import InvalidInput, NotFound
from monoloop.fsutil import atomic_write_bytes

Format = Literal["csv", "tsv", "parquet", "jsonl"]

EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_SNIFF = 8192


class DataReadError(InvalidInput):
    """A data file cannot be read, or is not in the format its extension says."""


def format_of(name: str) -> tuple[Format, bool]:
    """The format a file name promises, and whether it is gzip-compressed (`.csv.gz`)."""
    lower = name.lower()
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    for ext, fmt in EXTENSIONS.items():
        if lower.endswith(ext):
            if gz and fmt == "parquet":
                break
            return fmt, gz
    raise DataReadError(
        f"{name}: unknown data format",
        hint="use one of .csv, .tsv, .parquet, .jsonl (CSV and JSON Lines may end in .gz)",
    )


def read_path(
    path: Path, *, string_columns: Collection[str] = (), all_text: bool = False
) -> pd.DataFrame:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise DataReadError(f"{path} is a directory, not a data file") from None
    except OSError as exc:
        raise DataReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    return read_bytes(data, name=str(path), string_columns=string_columns, all_text=all_text)


def decode(data: bytes, *, name: str) -> bytes:
    """The file's bytes uncompressed, checked to be in the format its name promises."""
    fmt, gz = format_of(name)
    if gz:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataReadError(f"{name}: not valid gzip data ({exc})") from None
    _sniff(data, fmt, name)
    return data


def read_bytes(
    data: bytes, *, name: str, string_columns: Collection[str] = (), all_text: bool = False
) -> pd.DataFrame:
    """Parse a table from its bytes; `name` gives the format and appears in every error.

    CSV has no types: `string_columns` are kept as text (so "02134" keeps its zero), and
    `all_text` keeps every column as text, for inferring types from what is written.
    """
    fmt, _ = format_of(name)
    data = decode(data, name=name)
    if fmt in ("csv", "tsv") and not data.strip():
        raise DataReadError(f"{name}: empty file", hint="a CSV file needs at least a header row")
    try:
        frame = _parse(data, fmt, set(string_columns), all_text)
    except DataReadError:
        raise
    except (ValueError, TypeError, OSError, pd.errors.ParserError) as exc:
        # Parser messages say where, not what: they hold no cell values worth hiding.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataReadError(
            f"{name}: cannot parse as {fmt.upper()}: {first}",
            hint=f"check that the file is well-formed {fmt.upper()}",
        ) from None
    frame.columns = [str(c) for c in frame.columns]
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    return frame


def _parse(data: bytes, fmt: Format, strings: set[str], all_text: bool) -> pd.DataFrame:
    buf = io.BytesIO(data)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(buf)
        return table.to_pandas(ignore_metadata=True)
    if fmt in ("csv", "tsv"):
        header = pd.read_csv(io.BytesIO(data), nrows=0, sep="\t" if fmt == "tsv" else ",")
        dtype = {c: "str" for c in header.columns if all_text or c in strings}
        return pd.read_csv(buf, sep="\t" if fmt == "tsv" else ",", dtype=dtype or None)
    if not data.strip():
        return pd.DataFrame()
    # dtype=False keeps JSON's own types: text stays text ("00123", "2024-01-01").
    return pd.read_json(buf, lines=True, dtype=False)


def _sniff(data: bytes, fmt: Format, name: str) -> None:
    head = data[:_SNIFF]
    is_parquet = head[:4] == b"PAR1"
    if fmt == "parquet":
        if is_parquet and data[-4:] == b"PAR1":
            return
        raise DataReadError(
            f"{name}: not a Parquet file ({_looks_like(head)})",
            hint="rename the file to match its format (.csv, .jsonl), or convert it to Parquet",
        )
    if is_parquet:
        raise DataReadError(
            f"{name}: this is a Parquet file, not {fmt.upper()}",
            hint="rename it to .parquet",
        )
    if b"\0" in head:
        raise DataReadError(
            f"{name}: binary data, not {fmt.upper()} text",
            hint="check the file; CSV and JSON Lines must be UTF-8 text",
        )
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut = len(data) > len(head) and exc.start >= len(head) - 4
        if not cut:  # a character cut in two by the sniff window is fine
            raise DataReadError(
                f"{name}: not UTF-8 text (byte {exc.start})",
                hint="re-encode the file as UTF-8",
            ) from None
        text = head[: exc.start].decode("utf-8")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if fmt == "jsonl" and first and not first.startswith("{"):
        kind = "a JSON array" if first.startswith("[") else _looks_like(head)
        raise DataReadError(
            f"{name}: not JSON Lines ({kind}); expected one JSON object per line",
            hint="write one {...} object per line, or rename the file to match its format",
        )
    if fmt in ("csv", "tsv") and _json_like(first):
        raise DataReadError(
            f"{name}: this looks like JSON, not {fmt.upper()}",
            hint="rename it to .jsonl if it holds one JSON object per line",
        )


def _json_like(line: str) -> bool:
    """A first line that opens JSON: `{` or `[` alone, or a whole JSON object or array."""
    if line in ("{", "["):
        return True
    if not line.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(line), dict | list)
    except ValueError:
        return False


def _looks_like(head: bytes) -> str:
    if head[:4] == b"PAR1":
        return "it looks like Parquet"
    if head[:2] == b"\x1f\x8b":
        return "it is gzip-compressed; add .gz to the name"
    if b"\0" in head:
        return "it holds binary data"
    text = head.decode("utf-8", errors="replace").lstrip()
    if text.startswith("{"):
        return "it looks like JSON Lines"
    if text.startswith("["):
        return "it looks like a JSON array"
    if text:
        return "it looks like text, perhaps CSV"
    return "it is empty"


def to_bytes(frame: pd.DataFrame, name: str) -> bytes:
    """Serialise a table in the format its name asks for."""
    fmt, gz = format_of(name)
    buf = io.BytesIO()
    if fmt == "parquet":
        frame.to_parquet(buf, index=False)
    elif fmt in ("csv", "tsv"):
        frame.to_csv(buf, index=False, sep="\t" if fmt == "tsv" else ",")
    else:
        _write_jsonl(frame, buf)
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if gz else data


def _write_jsonl(frame: pd.DataFrame, buf: IO[bytes]) -> None:
    options: dict[str, Any] = {"orient": "records", "lines": True, "date_format": "iso"}
    options["double_precision"] = 15  # the most pandas allows; the default 10 loses digits
    text = frame.to_json(**options, force_ascii=False)
    buf.write(text.encode("utf-8"))
    if text and not text.endswith("\n"):
        buf.write(b"\n")


def write_path(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically: the old file stays whole until the new one is complete."""
    atomic_write_bytes(path, to_bytes(frame, path.name))
