"""Request bodies to model input: records and columns, the signature's rules, and errors
that name the column and its expected type."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from monoloop.errors import InvalidInput
from monoloop.registry.signature import Column, Signature
from monoloop.serving.inputs import Codec, ColumnMismatch, MalformedBody, parse_body

NUMERIC = Signature([Column("a", "number"), Column("b", "integer")], "integer", [0, 1])
MIXED = Signature(
    [Column("x", "number"), Column("n", "integer"), Column("s", "string"), Column("f", "boolean")],
    "integer",
)


def body(data: object) -> bytes:
    return orjson.dumps(data)


def test_records_and_columns_give_the_same_matrix() -> None:
    codec = Codec(NUMERIC, matrix=True, frame=False)
    records = codec.encode(parse_body(body([{"a": 1.5, "b": 2}, {"a": 2, "b": 3.0, "z": "x"}])))
    columns = codec.encode(parse_body(body({"a": [1.5, 2], "b": [2, 3]})))
    assert records.dtype == np.float64 and records.shape == (2, 2)
    np.testing.assert_array_equal(records, columns)
    joined = codec.join([records, columns])
    assert joined.shape == (4, 2)
    assert list(codec.logged(joined)) == ["a", "b"]


def test_nulls_and_booleans_follow_the_signature_rules() -> None:
    codec = Codec(NUMERIC, matrix=True, frame=False)
    got = codec.encode(parse_body(body([{"a": True, "b": 1}, {"a": False, "b": None}])))
    assert got[0, 0] == 1.0 and got[1, 0] == 0.0 and np.isnan(got[1, 1])
    got = codec.encode(parse_body(body([{"a": None, "b": 1}])))
    assert np.isnan(got[0, 0])
    with pytest.raises(ColumnMismatch, match="'a' has a boolean"):
        codec.encode(parse_body(body([{"a": True, "b": 1}, {"a": None, "b": 1}])))


@pytest.mark.parametrize(
    ("rows", "column", "expected"),
    [
        ([{"a": "1.5", "b": 1}], "a", "number"),  # a numeric string is not a number
        ([{"a": 1.0, "b": 1.5}], "b", "integer"),
        ([{"a": 1.0, "b": True}], "b", "integer"),
        ([{"a": [1, 2], "b": 1}], "a", "number"),
        ([{"b": 1}], "a", "number"),
        ([{"a": 1.0, "b": 1}, {"a": 2.0}], "b", "integer"),
    ],
)
def test_a_bad_value_names_its_column_and_type(
    rows: list[dict[str, object]], column: str, expected: str
) -> None:
    for matrix in (True, False):
        codec = Codec(NUMERIC, matrix=matrix, frame=False)
        with pytest.raises(ColumnMismatch) as caught:
            codec.encode(parse_body(body(rows)))
        assert caught.value.column == column and caught.value.expected == expected
        assert caught.value.http_status == 422
        assert caught.value.to_dict()["column"] == column
        assert column in caught.value.message


def test_columns_mode_keeps_each_type() -> None:
    codec = Codec(MIXED, matrix=False, frame=True)
    rows = [{"x": 1, "n": 2, "s": "a", "f": True}, {"x": 0.5, "n": 3, "s": None, "f": False}]
    block = codec.encode(parse_body(body(rows)))
    assert block["x"].dtype == np.float64 and block["n"].dtype == np.int64
    assert block["s"].dtype == object and block["f"].dtype == np.bool_
    frame = codec.join([block, block])
    assert list(frame.columns) == ["x", "n", "s", "f"] and len(frame) == 4
    with pytest.raises(ColumnMismatch, match="'s' has a number value"):
        codec.encode(parse_body(body([{"x": 1, "n": 2, "s": 3, "f": True}])))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"tenure=1", MalformedBody),
        (b"[]", InvalidInput),
        (b"[1, 2]", MalformedBody),
        (b'{"a": 1}', MalformedBody),
        (b'{"a": [1], "b": [1, 2]}', InvalidInput),
        (b'"text"', MalformedBody),
    ],
)
def test_bodies_that_are_not_records_or_columns(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        parse_body(raw)
    assert caught.value.hint  # type: ignore[attr-defined]
