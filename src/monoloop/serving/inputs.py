"""Request bodies to model input, checked against the signature, without a DataFrame when
the model does not need one.

A body is records, `[{"col": v, ...}, ...]`, or columns, `{"col": [v, ...], ...}`. The
codec of a loaded version applies the rules of `Signature.check` (each signature column
present, with values of its type; integers where numbers are expected, whole numbers where
integers are, `null` as a missing number) straight to the JSON values, and builds what
the model takes:

    matrix   a 2-D float array, for a model fitted on arrays whose inputs are all numeric
             (a plain scikit-learn estimator; an ONNX graph with one tensor input)
    columns  one array per column: a DataFrame once per batch for a scikit-learn model
             fitted on a DataFrame (a ColumnTransformer selects columns by name), or the
             graph's named inputs for ONNX

A body is converted once per request, and the arrays of a micro-batch are joined once, so
the costly step of the plain path (a DataFrame per request) is gone where it can be.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from monoloop.errors import InvalidInput, UserError
from monoloop.registry.loading import Predictor
from monoloop.registry.signature import Column, Signature, SignatureMismatch

BODY_HINT = 'send records, [{"col": 1.5, ...}], or columns, {"col": [1.5, ...], ...}'


class MalformedBody(UserError):
    """The body is not JSON, or not records or columns (HTTP 400)."""


class ColumnMismatch(SignatureMismatch):
    """A column is missing or has values of the wrong type (HTTP 422)."""

    def __init__(self, message: str, *, column: str, expected: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.column = column
        self.expected = expected

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "column": self.column, "expected": self.expected}


@dataclass(frozen=True, slots=True)
class Payload:
    """A parsed body: exactly one of `records` and `columns`, and its number of rows."""

    records: list[dict[str, Any]] | None
    columns: dict[str, list[Any]] | None
    rows: int

    def values(self, name: str) -> list[Any]:
        if self.columns is not None:
            return self.columns[name]
        assert self.records is not None
        return [record[name] for record in self.records]

    def names(self) -> set[str]:
        if self.columns is not None:
            return set(self.columns)
        assert self.records is not None
        return set().union(*(r.keys() for r in self.records))


def parse_body(body: bytes) -> Payload:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}", hint=BODY_HINT) from None
    if isinstance(data, list):
        if not data:
            raise InvalidInput("the body has no rows", hint=BODY_HINT)
        for record in data:
            if type(record) is not dict:
                raise MalformedBody(
                    f"records must be JSON objects, found {_json_kind(record)}", hint=BODY_HINT
                )
        return Payload(data, None, len(data))
    if isinstance(data, dict):
        lengths = set()
        for name, values in data.items():
            if type(values) is not list:
                raise MalformedBody(
                    f"column {name!r} is {_json_kind(values)}, not a list of values",
                    hint=BODY_HINT + '; one row is [{"col": 1.5}]',
                )
            lengths.add(len(values))
        if len(lengths) != 1 or 0 in lengths:
            what = "no columns" if not lengths else "columns of different lengths"
            if lengths == {0}:
                what = "no rows"
            raise InvalidInput(f"the body has {what}", hint=BODY_HINT)
        return Payload(None, data, lengths.pop())
    raise MalformedBody(f"the body is {_json_kind(data)}", hint=BODY_HINT)


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number")


class Codec:
    """How one loaded version takes its input (see the module's docstring)."""

    def __init__(
        self,
        signature: Signature | None,
        *,
        matrix: bool,
        frame: bool,
        dtype: Any = np.float64,
    ) -> None:
        self.signature = signature
        self.matrix = matrix and signature is not None
        self.frame = frame
        self.dtype = dtype
        self.inputs: list[Column] = signature.inputs if signature is not None else []
        self.names = [c.name for c in self.inputs]
        self._whole = any(c.type == "integer" for c in self.inputs)
        # One row's values in signature order, as a tuple built in C.
        take = operator.itemgetter(*self.names) if self.names else (lambda _r: ())
        self._take = take if len(self.names) != 1 else (lambda r: (r[self.names[0]],))

    @property
    def mode(self) -> str:
        if self.matrix:
            return "matrix"
        return "frame" if self.frame else "columns"

    def encode(self, payload: Payload) -> Any:
        """This request's rows as a block of model input; ColumnMismatch naming the column."""
        if self.signature is None:
            import pandas as pd  # type: ignore[import-untyped]

            if payload.columns is not None:
                return pd.DataFrame(payload.columns)
            return pd.DataFrame.from_records(payload.records)
        if self.matrix:
            return self._matrix(payload)
        return self._columns(payload)

    def join(self, blocks: list[Any]) -> Any:
        """One model input from the blocks of a micro-batch."""
        if self.signature is None:
            import pandas as pd

            return blocks[0] if len(blocks) == 1 else pd.concat(blocks, ignore_index=True)
        if self.matrix:
            return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        if len(blocks) == 1:
            cols = blocks[0]
        else:
            cols = {n: np.concatenate([b[n] for b in blocks]) for n in self.names}
        if self.frame:
            import pandas as pd

            return pd.DataFrame(cols, copy=False)
        return cols

    def has_missing(self, block: Any) -> bool:
        """Whether a block of `encode` holds a missing value (`null`): NaN in a number
        column, None in a text or boolean one."""
        if self.signature is None:
            return False
        if self.matrix:
            return bool(np.isnan(block).any())
        for values in block.values():
            kind = values.dtype.kind
            if (kind == "f" and np.isnan(values).any()) or (
                kind == "O" and any(v is None for v in values)
            ):
                return True
        return False

    def logged(self, model_input: Any) -> dict[str, Any]:
        """The input columns of a joined batch, by name, for the prediction log."""
        if self.signature is None:
            return {str(c): model_input[c].to_numpy() for c in model_input.columns}
        if self.matrix:
            return {n: model_input[:, i] for i, n in enumerate(self.names)}
        return {n: np.asarray(model_input[n]) for n in self.names}

    def _missing(self, payload: Payload) -> ColumnMismatch:
        have = payload.names()
        missing = [c for c in self.inputs if c.name not in have]
        if not missing:  # a record lacks a column others have
            records = payload.records or []
            missing = [c for c in self.inputs if any(c.name not in r for r in records)]
        first = missing[0]
        listed = ", ".join(c.name for c in missing)
        return ColumnMismatch(
            f"input lacks column{'s' if len(missing) > 1 else ''} {listed}",
            column=first.name,
            expected=first.type,
            hint="add " + ", ".join(f"{c.name} ({c.type})" for c in missing) + " to every row",
        )

    def _matrix(self, payload: Payload) -> np.ndarray:
        arr: np.ndarray | None
        try:
            if payload.records is not None:
                take = self._take
                arr = np.array([take(r) for r in payload.records])
            else:
                cols = payload.columns
                assert cols is not None
                arr = np.array([cols[n] for n in self.names]).T
        except KeyError:
            raise self._missing(payload) from None
        except ValueError:  # a nested list somewhere: the careful path names the column
            arr = None
        if arr is None or arr.ndim != 2 or arr.dtype.kind not in "fi" or self._whole:
            # null, booleans or strings among the values, or integer columns (numpy would
            # read true as 1): column by column, as the signature's rules say, and an
            # error naming the first bad column.
            blocks = [convert(payload.values(c.name), c) for c in self.inputs]
            return np.column_stack(blocks).astype(self.dtype, copy=False)
        return arr.astype(self.dtype, copy=False)

    def _columns(self, payload: Payload) -> dict[str, np.ndarray]:
        out = {}
        try:
            for column in self.inputs:
                out[column.name] = convert(payload.values(column.name), column)
        except KeyError:
            raise self._missing(payload) from None
        return out


def convert(values: list[Any], column: Column) -> np.ndarray:
    """One column's JSON values as an array of its signature type, or ColumnMismatch."""
    kind = column.type
    try:
        arr = np.array(values)
    except ValueError:
        raise _mismatch(column, values) from None
    found = arr.dtype.kind
    if arr.ndim != 1:
        raise _mismatch(column, values)
    if found in "iuf" and kind == "integer" and _has_bool(values):
        found = "O"  # numpy reads true as 1, which an integer column must refuse
    if kind == "number":
        if found in "fib":
            return arr.astype(np.float64, copy=False)
        if found == "O" and _all(values, (int, float), nullable=True):
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    elif kind == "integer":
        if found == "i":
            return arr.astype(np.int64, copy=False)
        if found == "f" and np.all(np.mod(arr, 1) == 0):
            return arr.astype(np.int64)
        if found == "O" and _all(values, (int,), nullable=True):
            # A missing integer: float with NaN, as scikit-learn reads a nullable column.
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    elif kind == "boolean":
        if found == "b":
            return arr
        if found == "O" and all(v is None or type(v) is bool for v in values):
            return np.array(values, dtype=object)
    elif kind == "string":
        if found == "U" or (found == "O" and all(v is None or type(v) is str for v in values)):
            return np.array(values, dtype=object)
    elif kind == "datetime" and found in "UO":
        import pandas as pd

        try:
            return np.asarray(pd.to_datetime(values))
        except (ValueError, TypeError):
            pass
    raise _mismatch(column, values)


def _has_bool(values: list[Any]) -> bool:
    return any(v is True or v is False for v in values)


def _all(values: list[Any], types: tuple[type, ...], *, nullable: bool) -> bool:
    return all(
        (v is None and nullable) or (isinstance(v, types) and type(v) is not bool) for v in values
    )


def _mismatch(column: Column, values: list[Any]) -> ColumnMismatch:
    sample = next((v for v in values if not _fits(v, column.type)), None)
    article = "an" if column.type[0] in "aeiou" else "a"
    return ColumnMismatch(
        f"column {column.name!r} has {_json_kind(sample)} value ({sample!r}), "
        f"expected {column.type}",
        column=column.name,
        expected=column.type,
        hint=f"send {column.name} as {article} {column.type}",
    )


def _fits(value: Any, kind: str) -> bool:
    if value is None:
        return kind in ("number", "integer", "string", "boolean")
    if kind == "number":
        return isinstance(value, int | float) and type(value) is not bool
    if kind == "integer":
        return (type(value) is int) or (type(value) is float and value.is_integer())
    if kind == "boolean":
        return type(value) is bool
    return type(value) is str


def codec_for(predictor: Predictor) -> Codec:
    """The cheapest input path this loaded version accepts (see the module's docstring)."""
    signature = predictor.version.signature
    model = predictor.model
    numeric = signature is not None and all(
        c.type in ("number", "integer") for c in signature.inputs
    )
    onnx_inputs = getattr(model, "inputs", None) if hasattr(model, "session") else None
    if onnx_inputs is not None:
        names = set(signature.names) if signature is not None else set()
        single = len(onnx_inputs) == 1 and onnx_inputs[0].name not in names
        dtype = np.float32 if single and onnx_inputs[0].type == "tensor(float)" else np.float64
        return Codec(signature, matrix=single and numeric, frame=False, dtype=dtype)
    # A model fitted on a DataFrame knows its columns' names and wants them back.
    named = hasattr(model, "feature_names_in_")
    return Codec(signature, matrix=numeric and not named, frame=True)
