"""The block-wise engine: blocks of pairs reduce to the statistics of all pairs.

Expected values come from the independent loop implementation of
``tests/test_study_reference.py`` (written from the papers), numpy's variance and
correlation matrix, and scipy's Wilcoxon and binomial tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_study_reference import EST, EVT, NAN, WINDOWS, check_against_reference, pairs_from_frame, simulate

from backtest.study.block import BLOCK_SIZE, BlockInput, BlockSpec, compute, run_blocks, slices
from backtest.study.classics import CLASSIC_TESTS, classic_results
from backtest.study.exact import binomial_p
from backtest.study.multiple import add_adjusted
from backtest.study.panel import Panel, assemble, concat_computed
from backtest.study.scope_tests import wilcoxon_grouped
from backtest.study.sufficient import scope_rbar


def _two_event_panel():
    returns, market = simulate(15, n_inst=6, n_rows=300)
    first = pairs_from_frame(returns, market, dict.fromkeys(returns, 200))
    second = pairs_from_frame(returns, market, dict.fromkeys(returns, 280))
    second[2]["evt_r"][7] = NAN
    first[4]["est_r"][:70] = [NAN] * 70  # a late listing: 40 estimation returns left
    pairs = first + second
    # interleave the events so every block holds pairs of both
    order = [i for pair in zip(range(6), range(6, 12), strict=True) for i in pair]
    pairs = [pairs[i] for i in order]
    events = ["a" if i < 6 else "b" for i in order]

    a = {key: np.array([p[key] for p in pairs]) for key in ("est_r", "est_m", "evt_r", "evt_m")}
    panel = Panel(
        event_id=np.array(events, dtype=object), symbol=np.array([p["symbol"] for p in pairs], dtype=object),
        benchmark=np.full(len(pairs), "MKT", dtype=object), est_r=a["est_r"], est_x=a["est_m"][..., None],
        evt_r=a["evt_r"], evt_x=a["evt_m"][..., None], regressors=("market",),
        evt_dates=np.full(a["evt_r"].shape, np.datetime64("NaT"), dtype="datetime64[ns]"),
        est_dates=np.array([pd.DatetimeIndex(p["est_d"]).to_numpy() for p in pairs]))
    return panel, pairs, events


@pytest.mark.parametrize("block_size", [1, 5, 12])
def test_blocks_straddling_events_match_the_reference(block_size):
    # 12 pairs of two events, interleaved: with 5 per block each event spans three blocks
    panel, pairs, events = _two_event_panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the late listing's ShortHistoryWarning
        res = assemble(panel, model="market", estimation=EST, event=EVT, car_windows=WINDOWS,
                       min_estimation=30, return_kind="simple", settings={}, block_size=block_size)
    check_against_reference(res, pairs, "market", 30, event_of=events)


def _simulated_blocks(block_size):
    rng = np.random.default_rng(21)
    n, l1, l2 = 21, 60, 6
    market = np.repeat(rng.normal(0, 0.01, (3, l1 + l2)), 7, axis=0)
    common = np.repeat(rng.normal(0, 0.01, (3, l1 + l2)), 7, axis=0)  # correlated residuals
    r = 0.9 * market + common + rng.normal(0, 0.01, (n, l1 + l2))
    scope = np.repeat(np.arange(3), 7)
    perm = rng.permutation(n)  # pairs of an event scattered over the blocks
    r, market, scope = r[perm], market[perm], scope[perm]
    spec = BlockSpec("market", 30, ((2, 2), (0, 5)), "simple", 2)
    inputs = [BlockInput(r[b, :l1], market[b, :l1, None], r[b, l1:], market[b, l1:, None], scope[b])
              for b in slices(n, block_size)]
    stats, parts = run_blocks(inputs, spec)
    return stats, concat_computed(parts), scope


def test_reduced_centred_sums_and_rbar_match_numpy():
    stats, out, scope = _simulated_blocks(4)
    assert stats.scope.tolist() == [0, 1, 2]
    for e in range(3):
        car = out.car[scope == e]
        # numpy's sum of squared deviations of the event's CARs, per window
        np.testing.assert_allclose(stats.car_m2[e], ((car - car.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-12)
        assert stats.car_n[e].tolist() == [7, 7]
        # r̄ without missing days = mean off-diagonal Pearson correlation (numpy corrcoef)
        c = np.corrcoef(out.fit.est_resid[scope == e])
        assert scope_rbar(stats)[e] == pytest.approx((c.sum() - 7) / 42, rel=1e-12)


def test_wilcoxon_grouped_matches_scipy():
    x = np.array([0.03, -0.01, 0.02, 0.05, -0.04, 0.03, -0.01, 0.01, 0.0, 0.05, -0.02, -0.06])
    key = np.array([0] * 5 + [1] * 5 + [2] * 2)  # group 1 has a zero and a tie in |x|
    stat, n, p_exact, exact = wilcoxon_grouped(x[:, None], key, 3)
    for g in range(3):
        values = x[key == g]
        ref = stats.wilcoxon(values, method="approx", zero_method="wilcox", correction=False)
        assert 2 * stats.norm.sf(abs(stat[g, 0])) == pytest.approx(ref.pvalue, rel=1e-10)
    assert n[:, 0].tolist() == [5, 4, 2] and exact[:, 0].tolist() == [True, False, True]
    assert p_exact[0, 0] == pytest.approx(stats.wilcoxon(x[:5], method="exact").pvalue, rel=1e-12)
    assert p_exact[2, 0] == pytest.approx(stats.wilcoxon(x[10:], method="exact").pvalue, rel=1e-12)


def test_binomial_p_with_one_probability_per_row_matches_scipy():
    w, n = np.array([0, 3, 7, 50, 1]), np.array([4, 10, 10, 120, 3000])
    p_hat = np.array([0.49, 0.3, 0.55, 0.47, 0.001])
    expected = [stats.binomtest(int(a), int(b), float(q)).pvalue for a, b, q in zip(w, n, p_hat, strict=True)]
    np.testing.assert_allclose(binomial_p(w, n, p_hat), expected, rtol=1e-10)


def _assembled(panel, block_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the late listing's ShortHistoryWarning
        return assemble(panel, model="market", estimation=EST, event=EVT, car_windows=WINDOWS,
                        min_estimation=30, return_kind="simple", settings={}, block_size=block_size)


def test_tests_table_is_the_same_for_any_block_size_classics_included():
    # the two events' pairs interleaved: block sizes 1 and 7 split each event over many blocks
    panel, _, _ = _two_event_panel()
    tables = {size: _assembled(panel, size).tests for size in (1, 7, BLOCK_SIZE)}
    assert set(CLASSIC_TESTS) <= set(tables[BLOCK_SIZE]["test"])
    assert tables[BLOCK_SIZE]["statistic"].notna().sum() > 100  # not a table of NaNs
    # Holm/BH computed in place: the same as adjusting each (scope, window) family of the table
    table = tables[BLOCK_SIZE]
    again = add_adjusted(table.drop(columns=["p_holm", "p_bh"]))
    pd.testing.assert_frame_equal(again, table, check_exact=False, rtol=1e-15, atol=0)
    for size in (1, 7):
        # sums merge in a different order: equal up to rounding (tolerance 1e-12 relative)
        pd.testing.assert_frame_equal(tables[size], tables[BLOCK_SIZE], check_exact=False, rtol=1e-12,
                                      atol=1e-14)


def test_classic_rows_from_reduced_sums_match_the_raw_arrays_of_each_scope():
    # reduced sums across blocks of 5 against the four tests on the raw arrays of the scope's pairs
    panel, _, events = _two_event_panel()
    table = _assembled(panel, 5).tests
    car_cols = [(a - EVT[0], b - EVT[0]) for a, b in WINDOWS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = compute(panel.est_r, panel.est_x, panel.evt_r, panel.evt_x, model="market",
                      min_estimation=30, car_cols=car_cols, day0_col=-EVT[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        pe = out.car_var / out.fit.sigma2[:, None]
    events = np.array(events)
    for scope, rows in (("a", events == "a"), ("b", events == "b"), ("all", np.ones(len(events), bool))):
        raw = classic_results(out.car[rows], out.fit.est_resid[rows], out.u[rows], car_cols,
                              panel.est_r.shape[1], out.complete[rows], pe[rows])
        for test in CLASSIC_TESTS:
            got = table[(table["scope"] == scope) & (table["test"] == test)]
            np.testing.assert_allclose(got["statistic"], raw[test].statistic, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(got["p_value"], raw[test].p_value, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(got["df"], raw[test].df, rtol=1e-12)
            assert got["n"].tolist() == raw[test].n.tolist()
            assert got["null"].tolist() == raw[test].null


def test_rows_summed_a_range_of_keys_at_a_time_have_the_bits_of_the_concatenated_sum():
    # combine sums the per-day fields of many blocks a range of scopes at a time: the sums must be
    # the bits of _Groups.sum over the concatenation (numpy's reduceat order), for any range size
    from backtest.study.sufficient import _Groups, _KeyRanges

    rng = np.random.default_rng(11)
    sizes = (5, 1, 9, 0, 4, 12)
    parts = [rng.standard_normal((k, 7)) * rng.choice([1.0, 1e8, 1e-8], (k, 7)) for k in sizes]
    parts[1][0, 2] = -0.0
    flags = [part > 0 for part in parts]
    ranged = [np.sort(rng.integers(0, 5, k)) for k in sizes]  # each part's rows sorted by scope
    finer = [r * 10 + rng.integers(0, 3, len(r)) for r in ranged]  # scope x day, as the r-bar rows
    finer = [np.sort(f) for f in finer]
    for key in (None, finer):
        whole = _Groups(np.concatenate(ranged if key is None else key))
        for rows_per_range in (1, 2, 3, 7, 1000):
            groups = _KeyRanges(ranged if key is None else [f // 10 for f in finer], key, rows_per_range)
            np.testing.assert_array_equal(groups.keys, whole.keys)
            for values in (parts, flags, [p[:, 3] for p in parts]):
                expected = whole.sum(np.concatenate(values))
                got = groups.sum(values)
                assert got.dtype == expected.dtype
                np.testing.assert_array_equal(got, expected)
                assert np.array_equal(np.signbit(got), np.signbit(expected))
    # parts whose rows are not sorted (a relabelled merge) are summed as one range
    shuffled = [rng.permutation(r) for r in ranged]
    groups, whole = _KeyRanges(shuffled, rows_per_range=1), _Groups(np.concatenate(shuffled))
    np.testing.assert_array_equal(groups.sum(parts), whole.sum(np.concatenate(parts)))


def test_statistics_sent_between_processes_keep_their_bits_in_fewer_bytes():
    # Pickled (as Dask sends a block's output), the counts and the sums of signs travel as
    # small integers: every field must come back with its own dtype and the same bits.
    import pickle
    from dataclasses import fields

    from backtest.study.sufficient import ScopeStats, _narrow

    stats, _, _ = _simulated_blocks(21)
    back = pickle.loads(pickle.dumps(stats, protocol=5))
    for f in fields(ScopeStats):
        sent, got = getattr(stats, f.name), getattr(back, f.name)
        assert got.dtype == sent.dtype and got.shape == sent.shape, f.name
        assert got.tobytes() == sent.tobytes(), f.name
    plain = pickle.dumps({f.name: getattr(stats, f.name) for f in fields(ScopeStats)}, protocol=5)
    assert len(pickle.dumps(stats, protocol=5)) < 0.8 * len(plain)
    assert _narrow(stats.u_cnt).itemsize == 1 and _narrow(stats.rs_sum).dtype.kind == "i"
    # what an integer could not carry stays as it is
    for values in (np.array([1.0, -0.0]), np.array([2.0, np.nan]), np.array([0.5]), np.array([2.0 ** 40]),
                   np.array([2 ** 40, 1])):
        assert _narrow(values) is values
    assert _narrow(np.array([300, -5])).dtype == np.int16
