"""A model's signature: its input columns with their types, and what it outputs.

Inferred from a sample at registration; every load checks its input against it, so a
missing or mistyped column is a clear error instead of a wrong prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monoloop.errors import InvalidInput

if TYPE_CHECKING:  # imported where used: serving a model fitted on arrays never needs it
    import pandas as pd  # type: ignore[import-untyped]

TYPES = ("integer", "number", "boolean", "string", "datetime")


class SignatureMismatch(InvalidInput):
    """Input does not match the model's signature (HTTP 422)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class Signature:
    inputs: list[Column]
    output: str
    classes: list[Any] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "output": self.output,
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return cls(
            inputs=[Column(c["name"], c["type"]) for c in data["inputs"]],
            output=data["output"],
            classes=list(data.get("classes", [])),
        )

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The input's signature columns, in order, with their declared types; or an error
        naming the first missing or mistyped column and the expected type."""
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise SignatureMismatch(
                f"model input must be a pandas DataFrame, got {type(frame).__name__}",
                hint="pass a DataFrame with columns " + ", ".join(self.names),
            )
        missing = [c.name for c in self.inputs if c.name not in frame.columns]
        if missing:
            expected = ", ".join(f"{c.name} ({c.type})" for c in self.inputs if c.name in missing)
            raise SignatureMismatch(
                f"input lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                hint=f"add {expected}",
            )
        return pd.DataFrame({c.name: _coerce(frame[c.name], c) for c in self.inputs})


def dtype_type(dtype: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def infer_signature(sample: pd.DataFrame, predictions: Any, classes: Any = None) -> Signature:
    import pandas as pd

    if not isinstance(sample, pd.DataFrame) or sample.empty:
        raise InvalidInput(
            "sample_input must be a non-empty pandas DataFrame",
            hint="pass a few rows of the training features, e.g. X_train.head(100)",
        )
    inputs = [Column(str(name), dtype_type(sample[name].dtype)) for name in sample.columns]
    output = dtype_type(np.asarray(predictions).dtype)
    known = [] if classes is None else [_plain(c) for c in np.asarray(classes).tolist()]
    return Signature(inputs, output, known)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _coerce(series: pd.Series, column: Column) -> pd.Series:
    kind = dtype_type(series.dtype)
    if kind == column.type:
        return series
    if column.type == "number" and kind in ("integer", "boolean"):
        return series.astype("float64")
    if column.type == "integer" and kind == "number":
        values = series.to_numpy()
        finite = values[~np.isnan(values)]
        if finite.size == values.size and np.all(np.mod(finite, 1) == 0):
            return series.astype("int64")
    if column.type == "datetime" and kind == "string":
        import pandas as pd

        try:
            return pd.to_datetime(series)
        except (ValueError, TypeError):
            pass
    if kind == "string" and column.type in ("number", "integer", "boolean"):
        # Object columns from JSON: mixed or all-None values come through as objects.
        converted = _from_objects(series, column.type)
        if converted is not None:
            return converted
    raise SignatureMismatch(
        f"column {column.name!r} has {_describe(series)}, expected {column.type}",
        hint=f"send {column.name} as {_article(column.type)} {column.type}",
    )


def _from_objects(series: pd.Series, kind: str) -> pd.Series | None:
    values = series.tolist()
    allowed: tuple[type, ...] = {
        "number": (int, float),
        "integer": (int,),
        "boolean": (bool,),
    }[kind]
    ok = all(
        v is None
        or (isinstance(v, allowed) and (kind == "boolean" or not isinstance(v, bool)))
        or (isinstance(v, float) and np.isnan(v))
        for v in values
    )
    if not ok:
        return None
    if kind == "boolean":
        return series.astype("boolean")
    import pandas as pd

    return pd.to_numeric(series).astype("float64" if kind == "number" else "Int64")


def _describe(series: pd.Series) -> str:
    sample = next((v for v in series.tolist() if v is not None), None)
    kind = dtype_type(series.dtype)
    return f"{kind} values (e.g. {sample!r})" if sample is not None else f"{kind} values"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
