"""Arrow arrays built from numpy buffers equal pyarrow's own conversion (as pandas writes
Parquet: NaN and NaT as null), and the serving path never imports pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from monoloop.predictions import arrow

CASES = [
    np.array([1.5, np.nan, -2.0]),
    np.array([1.5, 2.5], dtype=np.float32),
    np.array([3, -1, 7]),
    np.array([3, 1], dtype=np.uint8),
    np.array([True, False, True]),
    np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
    np.array(["a", "bé", ""]),
    np.array(["x", None, "zz"], dtype=object),
    np.array(["x", np.nan], dtype=object),  # text from a pandas column with a missing value
    np.array([True, None, False], dtype=object),
    np.array([], dtype=np.float64),
    np.arange(20.0)[::3],  # not contiguous
]


@pytest.mark.parametrize("values", CASES, ids=lambda v: str(v.dtype))
def test_arrays_equal_pyarrows_own_conversion(values: np.ndarray) -> None:
    assert arrow.array(values).equals(pa.array(values, from_pandas=True))


def test_floats_reads_columns_back_with_nulls_as_nan() -> None:
    column = pa.chunked_array([pa.array([1.0, None]), pa.array([9.0, 3.0])[1:]])
    np.testing.assert_array_equal(arrow.floats(column), [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(arrow.floats(pa.array([2, 5])), [2.0, 5.0])
    assert arrow.constant("primary", 2).to_pylist() == ["primary", "primary"]
    assert arrow.constant(4, 2).to_pylist() == [4, 4]


def test_serving_and_writing_its_log_never_import_pandas() -> None:
    code = """
import io, sys, time
import numpy as np
import pyarrow.parquet as pq
import monoloop.cli.serve, monoloop.serving.app, monoloop.serving.service
import monoloop.registry.export, monoloop.registry.loading, monoloop.predictions.log
from monoloop.serving.predlog import Entry, frame
entry = Entry("d", "primary", "m", 1, ["r"], [2], [1.0], time.time(),
              {"a": np.array([1.0, np.nan]), "s": np.array(["x", None], dtype=object)},
              np.array([0, 1]), np.full((2, 2), 0.5), [0, 1])
pq.write_table(frame([entry]), io.BytesIO())
assert "pandas" not in sys.modules, "pandas was imported"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
