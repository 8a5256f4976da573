"""``run_all``: recovery follows the abnormal path to the horizon, the reported study keeps its window.

One small run (DeepSeek and Meta Compute; NVDA, SK Hynix and Kioxia; default windows: event
window -5:+20, horizon 60). Expected numbers are computed here from the snapshot's CSV
files with numpy (an independent OLS market model), or counted from the files' rows.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.pipeline import RunSettings, recovery_event_window, run_all

EVENTS = (
    "event_id,name,announced_at,timezone,kind\n"
    "deepseek_r1,DeepSeek R1 sell-off,2025-01-26T18:00:00-05:00,America/New_York,shock\n"
    "meta_compute,Meta Compute,2026-07-01T08:00:00-04:00,America/New_York,shock\n"
)
PRICES = Path(str(resources.files("backtest") / "data" / "prices"))


def _closes(filename: str) -> pd.Series:
    return pd.read_csv(PRICES / filename, index_col="date", parse_dates=True)["close"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    events = tmp_path_factory.mktemp("pipeline") / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    return run_all(
        RunSettings(events=str(events), symbols=("NVDA", "000660.KS", "285A.T"), grid=(("hold", (5,)),))
    )


def _row(run, event_id: str, symbol: str, path: str) -> pd.Series:
    table = run.recovery.table
    rows = table[(table["event_id"] == event_id) & (table["symbol"] == symbol) & (table["path"] == path)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_abnormal_path_of_nvda_after_deepseek_reaches_the_horizon(run) -> None:
    # Independent market model: NVDA and SPY share every session (PROVENANCE.md), so rows are
    # sessions. Day 0 = 2025-01-27 (announced Sunday evening); estimation days -250..-11 (240
    # returns), OLS of NVDA's simple return on SPY's; CAR(0, k) = sum of ARs of days 0..k.
    nvda, spy = _closes("NVDA.csv"), _closes("SPY.csv")
    assert nvda.index.equals(spy.index)
    r, m = nvda.pct_change(), spy.pct_change()
    day0 = nvda.index.get_loc(pd.Timestamp("2025-01-27"))
    beta, alpha = np.polyfit(m.iloc[day0 - 250 : day0 - 10], r.iloc[day0 - 250 : day0 - 10], 1)
    car = (r - alpha - beta * m).iloc[day0 : day0 + 61].cumsum().to_numpy()
    first_back = int(np.flatnonzero(car >= 0)[0])  # 31 with these files (2025-03-12)

    row = _row(run, "deepseek_r1", "NVDA", "abnormal")
    # Before: the path stopped at the study's +20 (censored_by "study_window"). Now day 60,
    # which by the NASDAQ calendar is 2025-04-23: Jan 27-31 = days 0-4, February 19 sessions
    # (Presidents' Day) = 5-23, March 21 = 24-44, April up to the 23rd (Good Friday the 18th) = 45-60.
    assert row["last_rel_day"] == 60
    assert row["last_date_seen"] == pd.Timestamp("2025-04-23")
    assert bool(row["recovered"]) and row["recovery_sessions"] == first_back > 20
    assert row["max_drawdown"] == pytest.approx(car.min(), abs=1e-9)
    paths = run.recovery.paths
    mine = paths[(paths["event_id"] == "deepseek_r1") & (paths["symbol"] == "NVDA")].set_index("rel_day")
    assert mine.loc[60, "cum_ar"] == pytest.approx(car[60], abs=1e-9)
    # the price path is followed to the same day
    assert _row(run, "deepseek_r1", "NVDA", "price")["last_rel_day"] == 60


def test_reported_study_keeps_the_users_event_window(run) -> None:
    ars = run.study.abnormal_returns
    assert ars["rel_day"].min() == -5 and ars["rel_day"].max() == 20
    assert sorted(run.study.car["window"].unique()) == sorted(
        ["[0,0]", "[0,+1]", "[-1,+1]", "[0,+5]", "[0,+20]"]
    )
    assert run.recovery_study.settings["event_window"] == (-5, 60)
    # same model, same estimation: the ARs of the overlapping days are the same numbers
    both = ars.merge(run.recovery_study.abnormal_returns, on=["event_id", "symbol", "rel_day"])
    assert len(both) == len(ars)
    assert np.allclose(both["ar_x"], both["ar_y"], equal_nan=True, rtol=0, atol=1e-12)


def test_new_warnings_of_the_longer_window_are_kept_once(run) -> None:
    # KOSPI (^KS11) ends 2026-08-27 and the Nikkei (^N225) 2026-08-21 (PROVENANCE.md). Day 0 of
    # Meta Compute is 2026-07-02 on KRX and JPX (announced 21:00 JST on 07-01). SK Hynix has 39
    # rows 2026-07-02..08-27, so its abnormal path ends on day 38 and days 39..60 of the -5:+60
    # window (66 days) have no AR: 22 missing; Kioxia 35 rows to 08-21: day 34, 26 missing.
    hynix, kioxia = _closes("000660.KS.csv"), _closes("285A.T.csv")
    assert len(hynix.loc["2026-07-02":"2026-08-27"]) == 39
    assert len(kioxia.loc["2026-07-02":"2026-08-21"]) == 35
    row = _row(run, "meta_compute", "000660.KS", "abnormal")
    assert row["last_rel_day"] == 38 and row["last_date_seen"] == pd.Timestamp("2026-08-27")
    assert _row(run, "meta_compute", "285A.T", "abnormal")["last_rel_day"] == 34
    prefix = "DataWarning: abnormal path for recovery (event window -5:+60): missing returns"
    new = [w for w in run.warnings if w.startswith(prefix)]
    assert len(new) == 1
    assert "000660.KS in meta_compute (22 of 66)" in new[0] and "285A.T in meta_compute (26 of 66)" in new[0]
    # The first study's warning (Kioxia listed 2024-12-18: short history before DeepSeek) is given
    # once, by the first study, not repeated by the second one.
    short = [w for w in run.warnings if "short estimation history" in w]
    assert len(short) == 1 and short[0].startswith("ShortHistoryWarning: short estimation history: 285A.T")


def test_recovery_window_is_needed_only_beyond_the_event_window() -> None:
    assert recovery_event_window(RunSettings(horizon=20)) is None
    assert recovery_event_window(RunSettings(horizon=21)) == (-5, 21)
    # an event window starting after day -1 is widened to day -1 (not into the estimation window)
    assert recovery_event_window(RunSettings(event_window=(2, 10))) == (-1, 60)
    assert recovery_event_window(RunSettings(event_window=(0, 10), estimation_window=(-100, -1))) == (0, 60)


def test_benchmark_override_and_log_returns_reach_study_and_strategy(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text(EVENTS.splitlines()[0] + "\n" + EVENTS.splitlines()[1] + "\n", encoding="utf-8")
    res = run_all(RunSettings(events=str(events), symbols=("NVDA",), benchmarks=(("NVDA", "QQQ"),),
                              return_kind="log", grid=(("hold", (5,)),)))
    # independent OLS of NVDA's log returns on QQQ's over the 240 sessions -250..-11 before
    # 2025-01-27 (both files share the NASDAQ/NYSE sessions)
    r = np.log(pd.concat([_closes("NVDA.csv"), _closes("QQQ.csv")], axis=1).dropna()).diff()
    day0 = r.index.get_loc(pd.Timestamp("2025-01-27"))
    est = r.iloc[day0 - 250 : day0 - 10]
    beta, alpha = np.polyfit(est.iloc[:, 1], est.iloc[:, 0], 1)
    fit = res.study.fits.iloc[0]
    assert (fit["benchmark"], fit["n_estimation"]) == ("QQQ", 240)
    assert fit["beta"] == pytest.approx(beta, rel=1e-9) and fit["alpha"] == pytest.approx(alpha, abs=1e-12)
    # the strategy's "vs benchmark" uses the same override
    assert set(res.trade.results["benchmark"]) == {"QQQ"}


def test_meanwhile_is_given_the_result_before_the_strategy_step_and_the_trade_after(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    seen = []

    def meanwhile(result) -> None:
        # what backtest run writes while a second process runs the strategy: no trade yet
        seen.append((result.trade, list(result.tables(strategy=False))))

    settings = RunSettings(events=str(events), symbols=("NVDA",), grid=(("hold", (5,)),))
    run = run_all(settings, meanwhile=meanwhile)
    (trade, names), = seen
    assert trade is None and {"car", "recovery", "session_closes"} <= set(names)
    assert list(run.tables()) == [*names, "strategy_results", "strategy_aggregate", "strategy_holdout",
                                  "trades", "equity"]
    assert len(run.trade.results) > 0
