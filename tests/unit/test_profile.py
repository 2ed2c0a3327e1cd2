"""Reference profiles: column kinds, the numbers kept per column, the quantile sketch and the
fast order statistics behind it, and the JSON format (round trip and garbage)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monoloop.errors import UserError
from monoloop.monitoring import ranks
from monoloop.monitoring.profile import (
    CategoricalProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
    build_profile,
    category_key,
)
from monoloop.monitoring.sketch import SKETCH_SIZE, build_sketch, probabilities


def numeric(profile: ReferenceProfile, name: str) -> NumericProfile:
    column = profile.columns[name]
    assert isinstance(column, NumericProfile)
    return column


def categorical(profile: ReferenceProfile, name: str) -> CategoricalProfile:
    column = profile.columns[name]
    assert isinstance(column, CategoricalProfile)
    return column


# --- kinds -------------------------------------------------------------------------------


def test_kinds_follow_dtype_and_cardinality() -> None:
    n = 1000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "score": rng.normal(size=n),
            "age": rng.integers(18, 90, n),  # 72 values: numeric
            "children": rng.integers(0, 5, n),  # 5 values: categorical
            "vip": rng.random(n) < 0.1,
            "plan": pd.Series(rng.choice(["a", "b"], n)).astype("str"),
            "region": pd.Categorical(rng.choice(["n", "s"], n)),
            "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 99, n), "D"),
        }
    )
    profile = build_profile(df)
    kinds = {name: col.kind for name, col in profile.columns.items()}
    assert kinds == {
        "score": "numeric",
        "age": "numeric",
        "children": "categorical",
        "vip": "categorical",
        "plan": "categorical",
        "region": "categorical",
    }
    assert profile.skipped == ("seen",)
    assert profile.rows == n


def test_kinds_can_be_overridden_and_columns_chosen() -> None:
    df = pd.DataFrame({"zip": [10115, 20095, 10115, 80331] * 10, "x": np.arange(40.0)})
    profile = build_profile(df, columns=["zip"], kinds={"zip": "categorical"})
    assert list(profile.columns) == ["zip"]
    assert categorical(profile, "zip").categories == (("10115", 20), ("20095", 10), ("80331", 10))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda df: build_profile(df, columns=["x", "nope"]), "no column 'nope'"),
        (lambda df: build_profile(df, kinds={"x": "text"}), "unknown column kind"),
        (lambda df: build_profile(df, columns=["t"]), "'t' holds datetime64"),
        (lambda df: build_profile(df.iloc[:0]), "empty data set"),
        (lambda df: build_profile(df, kinds={"s": "numeric"}), "'s' was asked to be numeric"),
        (lambda df: build_profile(df[["x", "x"]]), "duplicate column names: x"),
        (lambda df: build_profile(df["x"]), "needs a pandas DataFrame"),
    ],
)
def test_bad_requests_raise_profile_errors(call: object, message: str) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"], "t": pd.to_datetime(["2024-01-01"] * 2)})
    with pytest.raises(ProfileError) as info:
        call(df)  # type: ignore[operator]
    assert message in info.value.message
    assert info.value.hint
    assert isinstance(info.value, UserError)


# --- numeric columns ---------------------------------------------------------------------


def test_numeric_profile_numbers() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10, 3, 5000)
    values[:7] = np.nan
    values[7:9] = [np.inf, -np.inf]  # no place on a distance scale: missing
    col = numeric(build_profile(pd.DataFrame({"x": values})), "x")
    finite = values[9:]
    assert (col.rows, col.missing, col.count) == (5000, 9, 4991)
    assert col.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert col.std == pytest.approx(finite.std(), rel=1e-12)
    assert (col.min, col.max) == (finite.min(), finite.max())
    sketch = col.sketch
    assert not sketch.exact
    assert np.array_equal(sketch.quantiles, np.quantile(finite, probabilities()))
    assert np.array_equal(sketch.edges, np.quantile(finite, np.arange(1, 10) / 10))
    expected = np.bincount(np.searchsorted(sketch.edges, finite, side="left"), minlength=10)
    assert sketch.bin_counts == tuple(expected)


def test_nullable_integers_count_na_as_missing() -> None:
    series = pd.Series(list(range(100)) + [None] * 5, dtype="Int64")
    col = numeric(build_profile(pd.DataFrame({"n": series})), "n")
    assert (col.missing, col.min, col.max, col.mean) == (5, 0.0, 99.0, 49.5)


def test_small_columns_keep_every_value() -> None:
    values = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    sketch = build_sketch(values)
    assert sketch.exact
    assert sketch.quantiles == (1.0, 2.0, 2.0, 3.0, 5.0)
    assert sum(sketch.bin_counts) == 5
    assert set(sketch.edges) <= set(sketch.quantiles)


def test_large_columns_match_numpy_quantiles_exactly() -> None:
    # Large enough for the pilot-and-refine path; heavy tails and ties take the sort path.
    rng = np.random.default_rng(2)
    for values in (
        rng.standard_normal(300_000),
        rng.lognormal(0, 4, 300_000),
        np.round(rng.standard_normal(300_000), 1),
        np.concatenate([rng.standard_normal(299_990), np.full(10, 1e300)]),
    ):
        sketch = build_sketch(values)
        assert not sketch.exact
        assert np.array_equal(sketch.quantiles, np.quantile(values, probabilities()))
        edges = np.asarray(sketch.edges)
        below = np.searchsorted(np.sort(values), edges, side="right")
        assert sketch.bin_counts == tuple(np.diff(np.concatenate(([0], below, [len(values)]))))


def test_constant_and_empty_numeric_columns() -> None:
    df = pd.DataFrame({"c": np.full(1000, 7.0), "e": np.full(1000, np.nan)})
    profile = build_profile(df)
    c, e = numeric(profile, "c"), numeric(profile, "e")
    assert (c.std, c.min, c.max) == (0.0, 7.0, 7.0)
    assert c.sketch.edges == (7.0,) and c.sketch.bin_counts == (1000, 0)
    assert (e.missing, e.mean, e.std, e.sketch.quantiles, e.sketch.bin_counts) == (
        1000,
        None,
        None,
        (),
        (),
    )


values_with_ties = st.lists(
    st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([0.0, 1.0, -2.5]),
        st.integers(-5, 5).map(float),
    ),
    min_size=1,
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(values=values_with_ties, points=st.lists(st.floats(-2e6, 2e6), max_size=30))
def test_ordered_and_rank_agree_with_sorting(values: list[float], points: list[float]) -> None:
    # Shrink the thresholds so the table and pilot paths run on small inputs.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranks, "_REFINE_MIN_VALUES", 0)
        patch.setattr(ranks, "_TABLE_MIN_VALUES", 0)
        patch.setattr(ranks, "_PILOT_KNOTS", 16)
        patch.setattr(ranks, "_PILOT_SAMPLE", 50)
        data = np.array(values)
        ordered_values = np.sort(data)
        ordered = ranks.Ordered(data)
        all_ranks = np.arange(len(data))
        assert np.array_equal(ordered.at(all_ranks[::-1]), ordered_values[::-1])
        probe = np.array(points + values[:10])
        assert np.array_equal(
            ordered.at_or_below(probe), np.searchsorted(ordered_values, probe, side="right")
        )
        knots = np.unique(data)
        assert np.array_equal(ranks.rank(knots, probe), np.searchsorted(knots, probe))


# --- categorical columns -----------------------------------------------------------------


def test_categorical_keeps_the_most_frequent_and_counts_the_rest() -> None:
    # 150 categories: c000 appears 150 times, c149 once; ties at the cut broken by key.
    values = [f"c{i:03d}" for i in range(150) for _ in range(150 - i)]
    values += ["z_tie"] * 50  # as frequent as c100: the key orders them
    df = pd.DataFrame({"c": pd.Series(values + [None] * 3, dtype="str")})
    col = categorical(build_profile(df), "c")
    assert col.distinct == 151 and col.missing == 3
    assert len(col.categories) == 100
    assert col.categories[0] == ("c000", 150)
    assert col.categories[-1] == ("c099", 51)
    kept = sum(n for _, n in col.categories)
    assert kept + col.other == len(values)


def test_category_keys_are_the_same_whatever_the_type() -> None:
    assert [category_key(v) for v in (3, 3.0, np.int8(3), "3", np.float32(3))] == ["3"] * 5
    assert [category_key(v) for v in (True, np.bool_(False), 2.5)] == ["true", "false", "2.5"]
    mixed = pd.DataFrame({"m": pd.Series([1, 1.0, "1", "a", None], dtype=object)})
    assert categorical(build_profile(mixed), "m").categories == (("1", 3), ("a", 1))


# --- JSON --------------------------------------------------------------------------------

cells = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
frames = st.integers(1, 40).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "f": st.lists(cells, min_size=n, max_size=n),
            "i": st.lists(st.integers(-3, 3), min_size=n, max_size=n),
            "s": st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=n, max_size=n),
            "b": st.lists(st.booleans(), min_size=n, max_size=n),
            "wide": st.lists(st.integers(-(10**6), 10**6), min_size=n, max_size=n),
        }
    )
)


@settings(max_examples=100, deadline=None)
@given(frames)
def test_json_round_trip(data: dict[str, list[object]]) -> None:
    df = pd.DataFrame(
        {
            "f": pd.Series(data["f"], dtype=float),
            "i": data["i"],
            "s": pd.Series(data["s"], dtype=object),
            "b": data["b"],
            "wide": data["wide"],
        }
    )
    profile = build_profile(df)
    text = json.dumps(profile.to_dict(), allow_nan=False)
    again = ReferenceProfile.from_dict(json.loads(text))
    assert again == profile
    assert json.dumps(again.to_dict(), allow_nan=False) == text


def test_json_round_trip_of_a_large_profile_stays_small() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    data: dict[str, object] = {f"x{i}": rng.normal(size=n) for i in range(20)}
    for k in (3, 5, 10, 20, 50):
        data[f"c{k}"] = rng.choice([f"cat{j}" for j in range(k)], n)
    profile = build_profile(pd.DataFrame(data))
    text = json.dumps(profile.to_dict())
    assert len(text) < 300_000  # 20 numeric x 511 quantiles, 5 categorical
    assert ReferenceProfile.from_dict(json.loads(text)) == profile


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_garbage_is_a_profile_error(value: object) -> None:
    with pytest.raises(ProfileError):
        ReferenceProfile.from_dict(value)


def valid_dict() -> dict[str, object]:
    df = pd.DataFrame({"x": np.linspace(0, 1, 1000), "c": ["a", "b"] * 500})
    return build_profile(df).to_dict()


def _set(d: dict[str, object], path: str, value: object) -> None:
    *parents, last = path.split(".")
    for key in parents:
        d = d[key]  # type: ignore[assignment]
    if value is _DROP:
        del d[last]
    else:
        d[last] = value


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("format", "something", "is not one"),
        ("version", 0, "version must be from 1 to 1"),
        ("rows", -1, "rows must be at least 0"),
        ("columns.x.quantiles", [0.0, 1.0], "must hold 511 values"),
        ("columns.x.mean", "0.5", "columns.x.mean must be a number, not a string"),
        ("columns.x.mean", math.nan, "must be a finite number"),
        ("columns.x.missing", 1001, "columns.x.missing must be from 0 to 1000"),
        ("columns.x.bins.counts", [1, 2], "one count per bin"),
        ("columns.x.bins.edges", [0.5, 0.25], "ascending values taken from the quantiles"),
        ("columns.x.kind", "text", "must be one of numeric, categorical"),
        ("columns.x.exact", _DROP, "columns.x lacks exact"),
        ("columns.c.categories", {"a": 500, "b": 499}, "must add up to rows - missing (1000)"),
        ("columns.c.other", 3, "must count the values of the categories not kept"),
        ("columns.c.extra", 1, "columns.c has unknown key(s) extra"),
        ("skipped", "t", "skipped must be a list"),
    ],
)
def test_invalid_profiles_name_the_key(path: str, value: object, message: str) -> None:
    data = valid_dict()
    _set(data, path, value)
    with pytest.raises(ProfileError) as info:
        ReferenceProfile.from_dict(data)
    assert message in info.value.message
    assert "build it again" in (info.value.hint or "")


def test_unsorted_quantiles_are_rejected() -> None:
    data = valid_dict()
    q = data["columns"]["x"]["quantiles"]  # type: ignore[index]
    q[5], q[6] = q[6], q[5]
    with pytest.raises(ProfileError, match="ascending order"):
        ReferenceProfile.from_dict(data)


def test_a_newer_format_asks_for_an_upgrade() -> None:
    data = valid_dict()
    data["version"] = 2
    with pytest.raises(ProfileError) as info:
        ReferenceProfile.from_dict(data)
    assert "format version 2" in info.value.message
    assert "upgrade monoloop" in (info.value.hint or "")


def test_sketch_size_is_what_the_format_promises() -> None:
    p = probabilities()
    assert p[0] == 0.0 and p[-1] == 1.0 and np.all(np.diff(p) > 0)
    assert len(p) == SKETCH_SIZE + 1 + 10
