"""Content ids: one spelling per content, the same however the bytes arrive."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monoloop.errors import InvalidInput
from monoloop.hashing import (
    ID_PREFIX,
    MMAP_MIN,
    THREADED_MIN,
    Hasher,
    hash_bytes,
    hash_file,
    id_hex,
    is_id,
    parse_id,
)

EMPTY_ID = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def file_with(data: bytes) -> str:
    handle, path = tempfile.mkstemp(prefix="monoloop-hash-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return path


def test_known_vector() -> None:
    assert hash_bytes(b"") == EMPTY_ID
    assert ID_PREFIX == "b3:"


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=20_000), cuts=st.lists(st.integers(0, 20_000), max_size=6))
def test_bytes_stream_and_file_agree(data: bytes, cuts: list[int]) -> None:
    hasher = Hasher()
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        hasher.update(data[start:cut])
        start = cut
    path = file_with(data)
    try:
        assert hash_bytes(data) == hasher.hexid() == hash_file(path)
    finally:
        os.unlink(path)
    assert hasher.size == len(data)
    assert hash_bytes(data) == ID_PREFIX + blake3.blake3(data).hexdigest()


def test_large_inputs_take_the_threaded_and_mmap_paths() -> None:
    data = os.urandom(max(THREADED_MIN, MMAP_MIN) * 3 + 12345)
    expected = ID_PREFIX + blake3.blake3(data).hexdigest()
    hasher = Hasher(threaded=True)
    for offset in range(0, len(data), 1 << 20):
        hasher.update(memoryview(data)[offset : offset + (1 << 20)])
    path = file_with(data)
    try:
        assert hash_bytes(data) == hasher.hexid() == hash_file(Path(path)) == expected
    finally:
        os.unlink(path)


def test_hash_file_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file") as missing:
        hash_file(tmp_path / "nope.bin")
    assert "nope.bin" in missing.value.message
    with pytest.raises(InvalidInput, match="not a regular file"):
        hash_file(tmp_path)


@given(st.binary(max_size=200))
def test_parse_id_round_trip(data: bytes) -> None:
    content_id = hash_bytes(data)
    assert is_id(content_id)
    assert parse_id(content_id) == content_id
    assert id_hex(content_id) == content_id[3:]


_not_ids = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64).map(lambda h: "b3:" + h),
    st.text(alphabet="0123456789abcdef", min_size=0, max_size=70).map(lambda h: "b3:" + h),
    st.none(),
    st.integers(),
    st.binary(max_size=70),
)


@given(_not_ids)
def test_parse_id_rejects_everything_else(value: object) -> None:
    if isinstance(value, str) and re.fullmatch("b3:[0-9a-f]{64}", value):
        return  # a well-formed id drawn by chance
    assert not is_id(value)
    with pytest.raises(InvalidInput) as caught:
        parse_id(value)
    assert "b3:<64 hex>" in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("sha256:" + "a" * 64, "does not start with 'b3:'"),
        ("b3:" + "a" * 63, "63 hex digits"),
        ("b3:" + "A" * 64, "lowercase"),
        ("b3:" + "g" * 64, "not hex digits"),
        (" b3:" + "a" * 64, "does not start"),
        (None, "NoneType"),
    ],
)
def test_parse_id_says_what_is_wrong(value: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_id(value)
    assert reason in caught.value.message
    assert repr(value)[:20] in caught.value.message
