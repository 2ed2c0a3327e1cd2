"""Drift statistics: agreement with scipy on random data (within bounds derived from the
sketch's resolution), planted shifts found, same-distribution windows left alone, edge
cases, and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from monoloop.errors import InvalidInput
from monoloop.monitoring import stats
from monoloop.monitoring.drift import (
    WindowError,
    compare,
    compare_predictions,
    profile_predictions,
)
from monoloop.monitoring.profile import build_profile
from monoloop.monitoring.report import DriftConfig
from monoloop.monitoring.sketch import SKETCH_SIZE, build_sketch, count, grid, ks_statistic
from monoloop.monitoring.sketch import wasserstein as sketch_wasserstein

# --- numeric statistics against scipy ----------------------------------------------------

samples = st.tuples(
    st.sampled_from(["normal", "lognormal", "uniform", "integers"]),
    st.integers(1, 3000),
    st.integers(1, 3000),
    st.floats(-2, 2),
    st.floats(0.2, 5),
    st.integers(0, 2**32 - 1),
)


def draw(
    kind: str, n: int, m: int, shift: float, scale: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def one(size: int, moved: bool) -> np.ndarray:
        s, sc = (shift, scale) if moved else (0.0, 1.0)
        if kind == "normal":
            return rng.normal(s, sc, size)
        if kind == "lognormal":
            return rng.lognormal(s, sc, size)
        if kind == "uniform":
            return rng.uniform(s, s + sc, size)
        return rng.integers(0, 20, size) + np.round(s)  # ties everywhere

    return one(n, False), one(m, True)


@settings(max_examples=150, deadline=None)
@given(samples)
def test_ks_agrees_with_scipy_within_the_sketch_resolution(sample: tuple) -> None:  # type: ignore[type-arg]
    ref, cur = draw(*sample)
    sketch = build_sketch(ref)
    ours = ks_statistic(grid(sketch), count(grid(sketch), cur))
    exact = scipy_stats.ks_2samp(ref, cur).statistic
    # Exact sketch: the same number. Quantile sketch: the supremum may fall between two
    # knots (1/SKETCH_SIZE of the reference apart), and each knot is within 2/n of its
    # nominal probability (ties: on either side).
    tolerance = 1e-12 if sketch.exact else 1 / SKETCH_SIZE + 4 / len(ref)
    assert abs(ours - exact) <= tolerance


@settings(max_examples=150, deadline=None)
@given(samples)
def test_wasserstein_agrees_with_scipy_within_the_sketch_resolution(sample: tuple) -> None:  # type: ignore[type-arg]
    kind, n = sample[0], sample[1]
    ref, cur = draw(*sample)
    sketch = build_sketch(ref)
    g = grid(sketch)
    counts = count(g, cur)
    ours = sketch_wasserstein(g, counts)
    exact = scipy_stats.wasserstein_distance(ref, cur)
    # Inside each interval between knots only the two CDFs' end values are known: off by at
    # most the interval's width times the share of each sample inside it. Plus, for a
    # quantile sketch, 2/n of nominal-probability error over the range.
    k = len(g.knots)
    ref_inside = g.below[1:] - g.upto[:-1]
    cur_inside = counts.counts[2 : 2 * k - 1 : 2] / counts.total
    bound = float((np.diff(g.knots) * (ref_inside + cur_inside)).sum())
    if not sketch.exact:
        if kind == "integers":  # ties put a knot's probability up to 1/SKETCH_SIZE off
            bound += (g.knots[-1] - g.knots[0]) / SKETCH_SIZE
        bound += 2 * (g.knots[-1] - g.knots[0]) / n
    assert abs(ours - exact) <= bound + 1e-9 * max(1.0, exact)


def test_sketch_statistics_are_close_on_large_samples() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 1, 200_000), rng.normal(0.3, 1.2, 150_000)
    g = grid(build_sketch(ref))
    counts = count(g, cur)
    assert ks_statistic(g, counts) == pytest.approx(
        scipy_stats.ks_2samp(ref, cur).statistic, abs=5e-4
    )
    assert sketch_wasserstein(g, counts) == pytest.approx(
        scipy_stats.wasserstein_distance(ref, cur), rel=1e-3
    )


def test_ks_pvalue_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(0, 1, 300), rng.normal(0.2, 1, 200)  # exact sketch: the same D
    d = ks_statistic(grid(build_sketch(ref)), count(grid(build_sketch(ref)), cur))
    expected = scipy_stats.ks_2samp(ref, cur, method="asymp").pvalue
    assert stats.ks_pvalue([d], [300], [200])[0] == pytest.approx(expected, rel=1e-9)
    # Above KS_EXACT_N the corrected limit stands in for scipy's slow exact distribution.
    for n, m, x in [(5000, 4000, 1.0), (100_000, 100_000, 1.3), (10**6, 10**6, 0.7)]:
        en = round(n * m / (n + m))
        d = x / np.sqrt(en)
        ours = stats.ks_pvalue([d], [n], [m])[0]
        assert ours == pytest.approx(scipy_stats.kstwo.sf(d, en), abs=3e-3)


# --- categorical statistics against scipy ------------------------------------------------

count_rows = st.integers(2, 12).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 10_000), min_size=k, max_size=k),
        st.lists(st.integers(0, 10_000), min_size=k, max_size=k),
    )
)


@settings(max_examples=200, deadline=None)
@given(count_rows)
@example(([10, 0, 5, 0], [8, 0, 9, 0]))  # padding: buckets empty on both sides
@example(([10, 0], [0, 7]))
def test_chi_square_matches_scipy(rows: tuple[list[int], list[int]]) -> None:
    ref, cur = np.array(rows[0]), np.array(rows[1])
    statistic, pvalue = stats.chi_square(ref, cur)
    used = (ref + cur) > 0
    if ref.sum() == 0 or cur.sum() == 0:
        assert np.isnan(statistic[0]) and np.isnan(pvalue[0])
        return
    if used.sum() < 2:
        assert (statistic[0], pvalue[0]) == (0.0, 1.0)
        return
    expected = scipy_stats.chi2_contingency(np.stack([ref, cur])[:, used], correction=False)
    assert statistic[0] == pytest.approx(expected.statistic, rel=1e-9, abs=1e-9)
    assert pvalue[0] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(count_rows)
def test_jensen_shannon_matches_scipy(rows: tuple[list[int], list[int]]) -> None:
    ref, cur = np.array(rows[0]), np.array(rows[1])
    ours = stats.jensen_shannon(ref, cur)[0]
    if ref.sum() == 0 or cur.sum() == 0:
        assert np.isnan(ours)
        return
    assert ours == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-9)


def test_psi_by_hand_and_for_many_columns_at_once() -> None:
    # (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5)
    assert stats.psi([50, 50], [25, 75])[0] == pytest.approx(0.27465307, rel=1e-7)
    # An empty bucket counts as PSI_EPSILON: (0.1 - 1e-4) ln(0.1 / 1e-4) + ...
    unseen = stats.psi([100, 0], [90, 10])[0]
    expected = (0.9 - 1.0) * np.log(0.9) + (0.1 - 1e-4) * np.log(0.1 / 1e-4)
    assert unseen == pytest.approx(expected, rel=1e-9)
    both = stats.psi([[50, 50, 0], [100, 0, 0]], [[25, 75, 0], [90, 10, 0]])
    assert both.tolist() == pytest.approx([0.27465307, expected], rel=1e-7)


def test_missing_rate_test_matches_scipy() -> None:
    for k1, n1, k2, n2 in [(0, 1000, 30, 1000), (50, 10_000, 60, 9000), (3, 40, 1, 10)]:
        table = [[k1, n1 - k1], [k2, n2 - k2]]
        expected = scipy_stats.chi2_contingency(table, correction=False).pvalue
        assert stats.proportion_pvalue([k1], [n1], [k2], [n2])[0] == pytest.approx(expected)
    assert stats.proportion_pvalue([0], [10], [0], [10])[0] == 1.0


# --- planted drift and no false alarms ---------------------------------------------------

CATS = np.array(["a", "b", "c", "d", "e"])
PROBS = [0.5, 0.3, 0.1, 0.05, 0.05]


def frame(n: int, seed: int, *, shift: float = 0.0, probs: list[float] = PROBS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(10 + 2 * shift, 2, n),  # sd 2: shift is in standard deviations
            "y": rng.lognormal(0, 1, n),
            "c": pd.Series(rng.choice(CATS, n, p=probs)).astype("str"),
            "k": rng.integers(0, 4, n),  # categorical: 4 values
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return frame(50_000, seed=1)


def test_a_half_sd_mean_shift_is_found(reference: pd.DataFrame) -> None:
    report = compare(build_profile(reference), frame(20_000, seed=2, shift=0.5))
    x = report["x"]
    assert x.by == ("psi", "ks", "wasserstein")
    assert x.statistics["ks"] == pytest.approx(0.197, abs=0.015)  # 2 * Phi(0.25) - 1
    assert x.statistics["wasserstein"] == pytest.approx(0.5, abs=0.03)
    assert x.statistics["psi"] == pytest.approx(0.23, abs=0.03)
    assert report.drifted == ["x"]
    assert not report.dataset_drift  # 1 of 4 columns


def test_category_frequency_swap_is_found(reference: pd.DataFrame) -> None:
    window = frame(20_000, seed=3, probs=[0.3, 0.5, 0.1, 0.05, 0.05])
    c = compare(build_profile(reference), window)["c"]
    assert "jensen_shannon" in c.by
    # PSI of the swap itself: 2 * 0.2 * ln(5/3) = 0.204.
    assert c.statistics["psi"] == pytest.approx(0.204, abs=0.02)
    assert c.statistics["jensen_shannon"] == pytest.approx(
        jensenshannon([0.5, 0.3, 0.1, 0.05, 0.05], [0.3, 0.5, 0.1, 0.05, 0.05], base=2), abs=0.01
    )
    assert c.statistics["chi_square_pvalue"] < 1e-100


def test_new_categories_are_found_and_named(reference: pd.DataFrame) -> None:
    window = frame(10_000, seed=4)
    rng = np.random.default_rng(4)
    new = rng.random(len(window)) < 0.1
    window.loc[new, "c"] = np.where(rng.random(new.sum()) < 0.7, "new1", "new2")
    c = compare(build_profile(reference), window)["c"]
    assert c.by == ("psi", "jensen_shannon")
    assert c.statistics["unseen"] == pytest.approx(0.1, abs=0.01)
    assert c.unseen_values == ("new1", "new2")


def test_a_missing_rate_jump_is_found_alone(reference: pd.DataFrame) -> None:
    window = frame(10_000, seed=5)
    window.loc[window.index[::5], "x"] = np.nan
    x = compare(build_profile(reference), window)["x"]
    assert x.by == ("missing_rate",)
    assert x.statistics["missing_rate"] == pytest.approx(0.2)
    assert x.statistics["reference_missing_rate"] == 0.0
    assert x.count == 8000


@pytest.mark.parametrize("rows", [30, 1000, 20_000])
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_same_distribution_is_not_drift(reference: pd.DataFrame, rows: int, seed: int) -> None:
    report = compare(build_profile(reference), frame(rows, seed=seed))
    assert report.drifted == []
    assert report["x"].statistics["ks_pvalue"] > 0.001  # type: ignore[operator]


def test_large_windows_ignore_trivial_differences() -> None:
    # At 200k rows a 0.02 sd shift is statistically real but too small to matter.
    ref, window = frame(200_000, seed=20), frame(200_000, seed=21, shift=0.02)
    x = compare(build_profile(ref), window)["x"]
    assert x.statistics["ks_pvalue"] < 0.05  # type: ignore[operator]
    assert x.by == ()


def test_statistics_can_be_turned_off(reference: pd.DataFrame) -> None:
    config = DriftConfig(psi=None, ks=None, wasserstein=None)
    x = compare(build_profile(reference), frame(5000, seed=6, shift=1.0), config=config)["x"]
    assert x.by == () and x.statistics["ks"] > 0.3  # type: ignore[operator]


def test_dataset_verdict_is_the_share_of_drifted_columns(reference: pd.DataFrame) -> None:
    window = frame(5000, seed=7, shift=1.0, probs=[0.05, 0.05, 0.1, 0.3, 0.5])
    profile = build_profile(reference)
    report = compare(profile, window)
    assert report.drifted == ["x", "c"]
    assert report.drifted_share == 0.5 and report.dataset_drift
    assert not compare(profile, window, config=DriftConfig(drift_share=0.6)).dataset_drift
    assert report.summary() == "DRIFT: 2/4 columns drifted (x, c)"


# --- edge cases --------------------------------------------------------------------------


def test_all_missing_columns_compare_only_missing_rates() -> None:
    ref = pd.DataFrame({"e": np.full(100, np.nan), "x": np.arange(100.0)})
    window = pd.DataFrame({"e": np.arange(50.0), "x": np.full(50, np.nan)})
    report = compare(build_profile(ref), window)
    for name, rate in (("e", 0.0), ("x", 1.0)):
        col = report[name]
        assert col.by == ("missing_rate",)
        assert col.statistics["missing_rate"] == rate
        assert col.statistics["ks"] is None and col.statistics["psi"] is None


def test_constant_columns() -> None:
    profile = build_profile(pd.DataFrame({"c": np.full(1000, 5.0)}))
    same = compare(profile, pd.DataFrame({"c": np.full(500, 5.0)}))["c"]
    assert (same.statistics["ks"], same.statistics["wasserstein"], same.by) == (0.0, 0.0, ())
    moved = compare(profile, pd.DataFrame({"c": [5.0, 6.0] * 250}))["c"]
    # No reference sd to divide by: the distance stays in the column's units.
    assert (moved.statistics["ks"], moved.statistics["wasserstein"]) == (0.5, 0.5)
    assert moved.by == ("psi", "ks", "wasserstein")


def test_integer_categories_match_floats_in_the_window() -> None:
    profile = build_profile(pd.DataFrame({"k": [0, 1, 2, 3] * 250}))
    window = pd.DataFrame({"k": [0.0, 1.0, 2.0, 3.0, np.nan] * 100})
    k = compare(profile, window)["k"]
    assert k.statistics["unseen"] == 0.0 and k.statistics["psi"] == pytest.approx(0.0)


def test_window_errors_name_the_problem(reference: pd.DataFrame) -> None:
    profile = build_profile(reference)
    with pytest.raises(WindowError, match="window is empty"):
        compare(profile, reference.iloc[:0])
    with pytest.raises(WindowError, match="lacks column\\(s\\) 'y'") as info:
        compare(profile, reference.drop(columns=["y"]))
    assert info.value.hint and isinstance(info.value, InvalidInput)
    with pytest.raises(WindowError, match="no column 'zz'"):
        compare(profile, reference, columns=["zz"])
    with pytest.raises(WindowError, match="'x' is numeric in the reference"):
        compare(profile, reference.assign(x="ten"))
    with pytest.raises(WindowError, match="must be a pandas DataFrame"):
        compare(profile, reference.to_numpy())  # type: ignore[arg-type]


def test_extra_columns_are_ignored_and_columns_can_be_chosen(reference: pd.DataFrame) -> None:
    profile = build_profile(reference)
    window = frame(1000, seed=8).assign(extra=1.0, note="hi")
    assert [c.column for c in compare(profile, window).columns] == ["x", "y", "c", "k"]
    assert [c.column for c in compare(profile, window, columns=["c"]).columns] == ["c"]


@pytest.mark.parametrize(
    "config",
    [{"psi": -0.1}, {"ks": float("nan")}, {"alpha": 0.0}, {"alpha": 1.5}, {"drift_share": 0}],
)
def test_bad_config_is_invalid_input(config: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        DriftConfig(**config)


def test_report_is_plain_json(reference: pd.DataFrame) -> None:
    window = frame(2000, seed=9, shift=0.5).assign(y=np.nan)
    data = compare(build_profile(reference), window).to_dict()
    text = json.dumps(data, allow_nan=False)
    again = json.loads(text)
    assert again["drifted"] == ["x", "y"]
    assert again["columns"]["y"]["statistics"]["ks"] is None
    assert again["columns"]["x"]["by"] == ["psi", "ks", "wasserstein"]
    assert again["config"]["psi"] == 0.2
    assert set(again) == {
        "rows",
        "reference_rows",
        "dataset_drift",
        "drifted_share",
        "drifted",
        "summary",
        "columns",
        "config",
    }


# --- predictions -------------------------------------------------------------------------


def test_prediction_drift_for_labels_and_scores() -> None:
    rng = np.random.default_rng(30)
    labels = profile_predictions(rng.choice(["yes", "no"], 5000, p=[0.2, 0.8]))
    assert labels.columns["prediction"].kind == "categorical"
    same = compare_predictions(labels, rng.choice(["yes", "no"], 3000, p=[0.2, 0.8]))
    moved = compare_predictions(labels, rng.choice(["yes", "no"], 3000, p=[0.5, 0.5]))
    assert (same.drifted, moved.drifted) == (False, True)

    scores = profile_predictions(pd.Series(rng.beta(2, 5, 5000)), name="score")
    assert scores.columns["score"].kind == "numeric"
    drift = compare_predictions(scores, rng.beta(5, 2, 3000), name="score")
    assert drift.column == "score" and "ks" in drift.by


def test_predictions_must_be_one_per_row() -> None:
    profile = profile_predictions(np.arange(100.0))
    with pytest.raises(WindowError, match="one value per row"):
        compare_predictions(profile, np.zeros((10, 2)))
