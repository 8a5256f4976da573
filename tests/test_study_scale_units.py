"""What makes the study scale: per-symbol diagnostics instead of per-pair scans, and a worker
that reads a partition once. Expected values come from brute force over Python sets or from
the construction of the data, never from the code under test."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.calendars import ExchangeCalendars
from backtest.errors import DataGapWarning, DataWarning
from backtest.sources.parquet import ParquetSource, write_dataset, write_partition
from backtest.study import diagnostics as dg
from backtest.study import event_study
from backtest.study.pairs import gap_counts


@pytest.fixture(scope="module")
def sessions() -> pd.DatetimeIndex:
    return ExchangeCalendars().sessions("NASDAQ", "2023-01-03", "2025-12-31")


def _bars(dates: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    close = 100.0 * np.cumprod(1.0 + np.random.default_rng(seed).normal(0.0, 0.01, len(dates)))
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0},
                        index=pd.DatetimeIndex(dates, name="date"))


def test_overlapping_events_match_brute_force_session_sets():
    # Two pairs share a window's sessions iff the sets {p + a .. p + b} intersect: checked on
    # random day-0 positions against Python sets, symbol by symbol, with the events in row order.
    rng = np.random.default_rng(3)
    n = 300
    symbol = rng.choice(np.array(["A", "B", "C"], dtype=object), n)
    event_id = np.array([f"e{i:03d}" for i in range(n)], dtype=object)
    pos0 = rng.integers(0, 2000, n)
    windows = [(0, 0), (0, 5), (-1, 1), (-5, 20)]
    got = dg.overlapping_events(symbol, event_id, pos0, windows)
    for i in range(n):
        for w, (a, b) in enumerate(windows):
            mine = set(range(pos0[i] + a, pos0[i] + b + 1))
            expected = [event_id[j] for j in range(n) if j != i and symbol[j] == symbol[i]
                        and mine & set(range(pos0[j] + a, pos0[j] + b + 1))]
            assert got[i][w] == ", ".join(expected)


def test_overlapping_events_list_a_repeated_event_once():
    # x covers sessions 10-11, both y rows 11-12: x sees y once; a y row never lists its own event
    got = dg.overlapping_events(np.array(["A"] * 3), np.array(["x", "y", "y"]), np.array([10, 11, 11]),
                                [(0, 1)])
    assert got.tolist() == [["y"], ["x"], ["x"]]


def test_overlapping_events_with_repeated_events_match_brute_force():
    # Symbols that have an event more than once (and pairs on the same session): each other
    # event is listed once, in row order of its first overlapping row, never the pair's own.
    rng = np.random.default_rng(5)
    n = 400
    symbol = rng.choice(np.array(["A", "B", "C", "D"], dtype=object), n)
    event_id = rng.choice(np.array([f"e{i}" for i in range(60)], dtype=object), n)
    pos0 = rng.integers(0, 300, n)
    windows = [(0, 0), (-2, 3), (0, 20)]
    got = dg.overlapping_events(symbol, event_id, pos0, windows)
    for i in range(n):
        for w, (a, b) in enumerate(windows):
            mine = set(range(pos0[i] + a, pos0[i] + b + 1))
            listed = [event_id[j] for j in range(n) if symbol[j] == symbol[i] and event_id[j] != event_id[i]
                      and mine & set(range(pos0[j] + a, pos0[j] + b + 1))]
            assert got[i, w] == ", ".join(dict.fromkeys(listed))


@pytest.mark.parametrize("distinct_runs", [dg._distinct_runs, dg._exact_distinct_runs])
def test_distinct_runs_group_equal_runs_together(distinct_runs):
    # runs of codes (each run's events) grouped by their content, checked with Python tuples
    rng = np.random.default_rng(6)
    length = rng.integers(1, 5, 2000)
    codes = rng.integers(0, 3, int(length.sum()))
    first = np.r_[0, np.cumsum(length)[:-1]]
    runs = [tuple(codes[f:f + k]) for f, k in zip(first, length, strict=True)]
    rep, which = distinct_runs(codes, first)
    assert len(set(runs)) == len(rep) < len(runs)
    assert sorted(runs[r] for r in rep) == sorted(set(runs))
    assert all(runs[rep[which[i]]] == runs[i] for i in range(len(runs)))


def test_estimation_days_near_other_events_match_brute_force():
    # Day p_i + k of pair i's estimation window is left out when another event of the same
    # symbol has its day 0 within [day + a, day + b]: checked day by day in plain Python.
    rng = np.random.default_rng(4)
    n, m = 120, 150
    symbol = rng.choice(np.array(["A", "B"], dtype=object), n)
    event_id = np.array([f"e{k}" for k in rng.integers(0, 40, n)], dtype=object)
    pos0 = rng.integers(0, 1500, n)
    other_symbol = rng.choice(np.array(["A", "B", "C"], dtype=object), m)
    other_event = np.array([f"e{k}" for k in rng.integers(0, 40, m)], dtype=object)
    other_pos0 = rng.integers(0, 1500, m)
    est, around = (-120, -11), (-3, 5)
    mask, events = dg.near_other_events(symbol, event_id, pos0, est, other_symbol, other_event, other_pos0,
                                        around)
    for i in range(n):
        others = [j for j in range(m) if other_symbol[j] == symbol[i] and other_event[j] != event_id[i]]
        listed = []
        for col, k in enumerate(range(est[0], est[1] + 1)):
            day = pos0[i] + k
            near = [j for j in others if day + around[0] <= other_pos0[j] <= day + around[1]]
            assert mask[i, col] == bool(near)
            listed += near
        assert events[i] == ", ".join(dict.fromkeys(other_event[j] for j in sorted(set(listed))))
    # equal texts are one object, which pickle (Dask's transport) sends once
    texts = [text for text in events if text]
    assert len(set(texts)) < len(texts)
    assert len({id(text) for text in texts}) == len(set(texts))


def test_gap_counts_match_the_missing_sessions_of_symbol_and_benchmark(sessions):
    # NVDA lacks 10 sessions, SPY 10 others, 4 of them shared: a window over all of them
    # counts the union (16), as the sessions missing from either series say.
    nvda_gap, spy_gap = np.arange(300, 310), np.arange(306, 316)
    prices = {"NVDA": _bars(sessions, 1).drop(sessions[nvda_gap]),
              "SPY": _bars(sessions, 2).drop(sessions[spy_gap])}
    with pytest.warns(DataGapWarning):
        cals = ExchangeCalendars.from_prices(prices)
    rng = np.random.default_rng(5)
    day0 = np.concatenate([[330, 320, 600], rng.integers(260, 620, 40)])
    est, evt, cars = (-40, -11), (-5, 20), [(0, 0), (-5, 5), (0, 20)]
    est_dates = sessions.to_numpy()[day0[:, None] + np.arange(est[0], est[1] + 1)]
    evt_dates = sessions.to_numpy()[day0[:, None] + np.arange(evt[0], evt[1] + 1)]
    n = len(day0)
    n_est, n_car = gap_counts(cals, np.array(["NVDA"] * n), np.array(["SPY"] * n), est_dates, evt_dates,
                              cars, evt)
    missing = {sessions[i] for i in np.union1d(nvda_gap, spy_gap)}
    assert len(missing) == 16
    for i in range(n):
        assert n_est[i] == sum(pd.Timestamp(d) in missing for d in est_dates[i])
        for w, (a, b) in enumerate(cars):
            days = evt_dates[i][a - evt[0] : b - evt[0] + 1]
            assert n_car[i, w] == sum(pd.Timestamp(d) in missing for d in days)
    assert n_est[0] == 16 and n_est[2] == 0  # day 0 at 330: [-40, -11] is sessions 290..319
    # without a benchmark only the symbol's own gap counts
    alone, _ = gap_counts(cals, np.array(["NVDA"]), np.array([""]), est_dates[:1], evt_dates[:1], cars, evt)
    assert alone.tolist() == [10]


def test_a_pair_dropped_inside_a_data_gap_names_the_gap(sessions):
    # NVDA has no bar in 40 sessions around the second event: that pair has no return in its
    # event window [-5, +20], is left out, and the warning names the gap's first and last session.
    gap = np.arange(480, 520)
    prices = {"NVDA": _bars(sessions, 3).drop(sessions[gap]), "SPY": _bars(sessions, 4)}
    with pytest.warns(DataGapWarning):
        cals = ExchangeCalendars.from_prices(prices)
    rows = pd.DataFrame({"event_id": ["kept", "lost"], "symbol": "NVDA", "calendar": "NASDAQ",
                         "reaction_session": [sessions[400], sessions[500]], "kind": "shock"})
    first, last = sessions[480].date(), sessions[519].date()
    with pytest.warns(DataWarning, match=rf"no prices in the event window for NVDA in lost, inside a data "
                                         rf"gap: NVDA {first}\.\.{last} \(NVDA\); left out"):
        res = event_study(prices, rows, cals, car_windows=[(0, 0)])
    assert res.car["event_id"].tolist() == ["kept"]


def test_pooled_scopes_count_the_overlapping_cars_of_their_own_kind(sessions):
    # Shocks at 400 and 404 overlap in CAR[0,+5]; the relief at 600 overlaps nothing. The
    # pooled scope of each kind counts its own overlapping CARs: 2 shocks, no relief.
    prices = {"NVDA": _bars(sessions, 5), "SPY": _bars(sessions, 6)}
    cals = ExchangeCalendars.from_prices(prices)
    rows = pd.DataFrame({"event_id": ["a", "b", "c"], "symbol": "NVDA", "calendar": "NASDAQ",
                         "reaction_session": [sessions[400], sessions[404], sessions[600]],
                         "kind": ["shock", "shock", "relief"]})
    res = event_study(prices, rows, cals, car_windows=[(0, 0), (0, 5)])
    notes = res.tests[res.tests.test == "sign"].set_index(["scope", "window"])["note"]
    assert notes[("all shock", "[0,+5]")].startswith("2 CARs share sessions")
    assert "share sessions" not in notes[("all relief", "[0,+5]")]
    assert "share sessions" not in notes[("all shock", "[0,0]")]
    assert "share sessions" not in notes[("a", "[0,+5]")]  # one event's own scope is not pooled


def test_a_partition_is_read_once_per_process_and_again_when_rewritten(tmp_path, sessions):
    target = tmp_path / "prices"
    write_dataset({"NVDA": _bars(sessions, 7)}, target)
    source = ParquetSource(target)
    first = source.load("NVDA")
    first.loc[first.index[0], "close"] = -1.0  # a caller's edit never reaches the next reader
    again = ParquetSource(target).load("NVDA")
    pd.testing.assert_frame_equal(again, _bars(sessions, 7).rename_axis("date"), check_freq=False,
                                  check_index_type=False)
    write_partition(target, "NVDA", _bars(sessions, 8))  # rewritten: read again, not served stale
    assert ParquetSource(target).load("NVDA")["close"].iloc[-1] == pytest.approx(
        _bars(sessions, 8)["close"].iloc[-1], rel=1e-15)


def test_a_cached_partition_warns_like_a_fresh_read(tmp_path, sessions):
    # A Saturday row is kept with a DataWarning; every load of it warns, read or cached.
    saturday = pd.Timestamp("2024-06-15")
    bars = pd.concat([_bars(sessions, 9), _bars(pd.DatetimeIndex([saturday]), 10)]).sort_index()
    target = tmp_path / "prices"
    write_dataset({"NVDA": bars}, target)
    for _ in range(2):
        with pytest.warns(DataWarning, match="2024-06-15"):
            assert len(ParquetSource(target).load("NVDA")) == len(sessions) + 1


def test_symbol_groups_give_each_symbol_sorted_with_its_positions_in_order():
    rng = np.random.default_rng(5)
    names = np.array(["NVDA", "000660.KS", "285A.T", "^KS11", "MU", "nvda", "AMD"], dtype=object)
    symbol = names[rng.integers(0, len(names), 500)]
    got = [(name, positions.tolist()) for name, positions in dg.symbol_groups(symbol)]
    expected = [(name, np.flatnonzero(symbol == name).tolist()) for name in sorted(set(symbol))]
    assert got == expected


def test_rows_put_back_in_order_equal_a_concatenation_and_a_gather():
    from backtest.study.sufficient import in_order

    rng = np.random.default_rng(9)
    sizes = [4, 1, 7, 3]
    order = rng.permutation(sum(sizes))  # each block row's place in row order
    for make in (lambda k: rng.standard_normal((k, 3)), lambda k: rng.integers(0, 9, k) > 4,
                 lambda k: np.array([f"S{i}" for i in rng.integers(0, 99, k)], dtype=object),
                 lambda k: np.datetime64("2025-01-27") + rng.integers(0, 400, (k, 2)).astype("m8[D]")):
        parts = [make(k) for k in sizes]
        expected = np.concatenate(parts)[np.argsort(order)]
        got = in_order(parts, order)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_pairs_dropped_in_several_blocks_leave_the_kept_pairs_as_one_block_has_them(sessions, monkeypatch):
    # The blocks send back the arrays of their kept pairs only, and the dates of the dropped
    # ones: cut into blocks of 2 (each holding kept and dropped pairs), every per-pair table and
    # the warning naming the dropped pairs must be the one-block study's, row for row.
    from backtest.study import pairs

    gaps = {"NVDA": np.arange(480, 520), "AMD": np.arange(680, 720)}
    prices = {symbol: _bars(sessions, seed).drop(sessions[gaps[symbol]])
              for symbol, seed in (("NVDA", 8), ("AMD", 9))} | {"SPY": _bars(sessions, 10)}
    with pytest.warns(DataGapWarning):
        cals = ExchangeCalendars.from_prices(prices)
    days = {"a": 400, "nvda_gap": 500, "b": 600, "amd_gap": 700, "c": 730}
    rows = pd.DataFrame([{"event_id": event, "symbol": symbol, "calendar": "NASDAQ",
                          "reaction_session": sessions[day], "kind": "shock"}
                         for event, day in days.items() for symbol in ("NVDA", "AMD")])
    options = {"benchmarks": {"NVDA": "SPY", "AMD": "SPY"}, "car_windows": [(0, 0), (0, 3)]}

    def study() -> tuple:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = event_study(prices, rows, cals, **options)
        return result, [str(w.message) for w in caught]

    whole, whole_warnings = study()
    monkeypatch.setattr(pairs, "BLOCK_SIZE", 2)
    cut, cut_warnings = study()
    dropped = next(text for text in whole_warnings if text.startswith("no prices in the event window"))
    assert "for NVDA in nvda_gap, inside a data gap" in dropped and ", AMD in amd_gap, inside" in dropped
    assert cut_warnings == whole_warnings
    kept = [(e, s) for e in days for s in ("NVDA", "AMD") if (e, s) not in {("nvda_gap", "NVDA"),
                                                                            ("amd_gap", "AMD")}]
    assert list(zip(cut.fits["event_id"], cut.fits["symbol"], strict=True)) == kept
    for name in ("car", "fits", "abnormal_returns"):
        pd.testing.assert_frame_equal(getattr(cut, name), getattr(whole, name), check_exact=True, obj=name)


def test_the_gaps_a_dropped_pair_falls_into_match_brute_force():
    # Each row's span of event-window dates against its own symbol's gaps, by plain comparisons;
    # a row of NaT dates meets no gap, another symbol's gap is never named.
    day = pd.Timestamp("2024-01-01")
    gaps = pd.DataFrame({"symbol": ["A", "A", "B", "C"], "calendar": "NASDAQ",
                         "first": [day + pd.Timedelta(days=d) for d in (10, 40, 10, 0)],
                         "last": [day + pd.Timedelta(days=d) for d in (20, 45, 12, 90)],
                         "n_sessions": 1, "origin": ["a.csv", "a.csv", "b.csv", "c.csv"]})
    rng = np.random.default_rng(3)
    symbols = list(rng.choice(["A", "B", "D"], 60))
    starts = rng.integers(0, 60, 60)
    dates = np.array([[day + pd.Timedelta(days=int(s + k)) for k in range(4)] for s in starts],
                     dtype="datetime64[ns]")
    dates[5] = np.datetime64("NaT")
    dates[7, 2:] = np.datetime64("NaT")
    got = dg.gaps_hit_rows(gaps, symbols, dates)
    for i, symbol in enumerate(symbols):
        valid = dates[i][~np.isnat(dates[i])]
        hits = [g for g in gaps.itertuples() if g.symbol == symbol and len(valid)
                and g.first <= valid.max() and g.last >= valid.min()]
        expected = "; ".join(f"{g.symbol} {g.first.date()}..{g.last.date()} ({g.origin})" for g in hits)
        assert got[i] == (f", inside a data gap: {expected}" if hits else ""), i
    assert got[5] == "" and any(got)
