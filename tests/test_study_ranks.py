"""Row ranks of the Corrado and Wilcoxon tests: both ways (numpy for small arrays, the compiled
pass for large ones) against scipy and by hand."""

import numpy as np
import pytest
from scipy import stats

from backtest.study import ranks
from backtest.study.ranks import rank_rows, standardized_ranks


@pytest.fixture(autouse=True, params=["numpy", "compiled"])
def way(request, monkeypatch):
    """Every test runs once each way: numpy's budget is set to all or none."""
    monkeypatch.setattr(ranks, "NUMPY_BUDGET", 2**62 if request.param == "numpy" else -1)
    monkeypatch.setattr(ranks, "_ranked_in_numpy", 0)
    return request.param


def test_the_two_ways_give_the_same_bits_and_numpy_ranks_until_its_budget_is_spent(monkeypatch):
    from backtest.study import ranks_compiled

    rng = np.random.default_rng(11)
    a = np.round(rng.normal(size=(40, 90)), 2)
    a[rng.random(a.shape) < 0.05] = np.nan
    a[3, :4] = [np.inf, -np.inf, 0.0, -0.0]
    for standardize in (False, True):
        numpy_ranks, compiled = ranks._ranks_sorted(a, standardize), ranks_compiled.ranks(a, standardize)
        np.testing.assert_array_equal(numpy_ranks, compiled)
    used = []
    monkeypatch.setattr(ranks, "NUMPY_BUDGET", a.size + 90)
    monkeypatch.setattr(ranks, "_ranks_sorted", lambda *args: used.append("numpy"))
    monkeypatch.setattr(ranks_compiled, "ranks", lambda *args: used.append("compiled"))
    for rows in (a, a[:1], a[:1], a[:1]):  # the budget holds a and one more row
        rank_rows(rows)
    assert used == ["numpy", "numpy", "compiled", "compiled"]


def test_hand_ranks_with_ties_and_missing():
    a = np.array([[0.3, np.nan, -0.1, 0.3, np.inf, 0.0],
                  [np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
                  [2.0, 2.0, 2.0, 2.0, 2.0, -np.inf]])
    # row 0: finite values -0.1 < 0.0 < 0.3 = 0.3 -> ranks 1, 2, 3.5, 3.5 (M = 4)
    nan = np.nan
    expected = np.array([[3.5, nan, 1.0, 3.5, nan, 2.0],
                         [nan] * 6,
                         [3.0, 3.0, 3.0, 3.0, 3.0, nan]])
    np.testing.assert_array_equal(rank_rows(a), expected)
    np.testing.assert_array_equal(standardized_ranks(a), expected / np.array([[5.0], [1.0], [6.0]]))


def test_matches_scipy_rankdata_on_random_rows_with_ties():
    rng = np.random.default_rng(7)
    a = np.round(rng.normal(size=(300, 60)), 1)  # rounding makes many ties
    a[rng.random(a.shape) < 0.1] = np.nan
    a[5] = np.nan
    expected = stats.rankdata(a, axis=1, nan_policy="omit")
    m = np.isfinite(a).sum(axis=1)
    np.testing.assert_array_equal(rank_rows(a), expected)
    np.testing.assert_array_equal(standardized_ranks(a), expected / (m[:, None] + 1.0))


def test_transposed_input_is_ranked_along_its_rows():
    a = np.array([[1.0, 4.0], [3.0, 2.0], [2.0, 4.0]]).T  # a non-contiguous view
    np.testing.assert_array_equal(rank_rows(a), [[1.0, 3.0, 2.0], [2.5, 1.0, 2.5]])


def test_values_one_ulp_apart_and_signed_zeros_keep_their_exact_order():
    # neighbours a few ulps apart differ only in the bits the sort key gives to the column
    rng = np.random.default_rng(3)
    base = np.array([1e-3, -2.5e-2, 0.0])
    up = np.nextafter(base, np.inf)
    row = np.concatenate([base, up, np.nextafter(up, np.inf), np.nextafter(base, -np.inf), base, [-0.0]])
    a = np.vstack([rng.permutation(row) for _ in range(50)])
    np.testing.assert_array_equal(rank_rows(a), stats.rankdata(a, axis=1))
