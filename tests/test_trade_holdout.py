"""Leave-one-event-out: hand-computed choices, and no in-sample bias on pure noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.trading.holdout import leave_one_event_out, pooled_holdout_score

COMBOS = pd.DataFrame({"combo": ["h1", "h5", "h10"]})


def _results(table: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """combo -> event -> per-symbol excess returns, as TradeResult.results rows."""
    rows = [
        {"combo": combo, "event_id": event, "symbol": f"S{i}", "excess_vs_buy_hold": value}
        for combo, events in table.items()
        for event, values in events.items()
        for i, value in enumerate(values)
    ]
    return pd.DataFrame(rows)


# Three events x two symbols. Means per combo and event (by hand):
#        A       B       C
# h1   +0.10   -0.05   -0.02
# h5   -0.03   +0.04   +0.01
# h10  +0.02   +0.00   -0.10
RESULTS = _results(
    {
        "h1": {"A": [0.15, 0.05], "B": [-0.10, 0.00], "C": [-0.02, -0.02]},
        "h5": {"A": [-0.03, -0.03], "B": [0.02, 0.06], "C": [0.00, 0.02]},
        "h10": {"A": [0.00, 0.04], "B": [0.00, 0.00], "C": [-0.20, 0.00]},
    }
)


def test_each_event_is_measured_with_parameters_chosen_without_it() -> None:
    out = leave_one_event_out(RESULTS, COMBOS)
    # hold out A: on B+C, h1 = (-0.05-0.02)/2 = -0.035, h5 = 0.025, h10 = -0.05 -> h5, on A -0.03
    # hold out B: on A+C, h1 = 0.04, h5 = -0.01, h10 = -0.04 -> h1, on B -0.05
    # hold out C: on A+B, h1 = 0.025, h5 = 0.005, h10 = 0.01 -> h1, on C -0.02
    assert out["held_out"].tolist() == ["A", "B", "C"]
    assert out["combo"].tolist() == ["h5", "h1", "h1"]
    assert out["train_score"].to_numpy() == pytest.approx([0.025, 0.04, 0.025], abs=1e-12)
    assert out["test_score"].to_numpy() == pytest.approx([-0.03, -0.05, -0.02], abs=1e-12)
    assert out["test_pairs"].tolist() == [2, 2, 2] and out["train_pairs"].tolist() == [4, 4, 4]
    # each event's own in-sample best, beside it: A h1 +0.10, B h5 +0.04, C h5 +0.01
    assert out["best_combo_on_event"].tolist() == ["h1", "h5", "h5"]
    assert out["best_score_on_event"].to_numpy() == pytest.approx([0.10, 0.04, 0.01], abs=1e-12)
    # pooled over the six held-out pairs: (-0.06 - 0.10 - 0.04) / 6
    assert pooled_holdout_score(RESULTS, out) == pytest.approx(-0.2 / 6, abs=1e-12)


def test_ties_go_to_the_first_combination_in_grid_order_and_one_event_gives_nothing() -> None:
    tied = _results({"h1": {"A": [0.0], "B": [0.01]}, "h5": {"A": [0.0], "B": [0.02]},
                     "h10": {"A": [0.0], "B": [0.03]}})  # fmt: skip
    out = leave_one_event_out(tied, COMBOS)
    assert out.loc[out["held_out"] == "B", "combo"].item() == "h1"  # all three score 0 on A
    assert out.loc[out["held_out"] == "A", "combo"].item() == "h10"
    single = leave_one_event_out(RESULTS[RESULTS["event_id"] == "A"], COMBOS)
    assert single.empty and np.isnan(pooled_holdout_score(RESULTS, single))


def test_on_pure_noise_the_in_sample_best_is_biased_and_leave_one_event_out_is_not() -> None:
    # 10 combos with true mean excess 0, 4 events x 4 symbols, 100 replications: the in-sample
    # best's mean over all pairs is the maximum of 10 noisy means (E[max of 10 N(0,1)] = 1.539 sd
    # of a mean of 16 pairs; sd of the replication mean about 0.6 / 10 of that, so 4 % relative),
    # the held-out figure averages 0 (sd of the replication mean 0.25 / sqrt(16 * 100) = 0.00625).
    rng = np.random.default_rng(7)
    combos = pd.DataFrame({"combo": [f"c{i}" for i in range(10)]})
    grid = pd.MultiIndex.from_product(
        [combos["combo"], [f"e{i}" for i in range(4)], [f"s{i}" for i in range(4)]],
        names=["combo", "event_id", "symbol"],
    ).to_frame(index=False)
    in_sample, held_out = [], []
    for _ in range(100):
        results = grid.assign(excess_vs_buy_hold=rng.normal(0.0, 0.25, len(grid)))
        in_sample.append(results.groupby("combo")["excess_vs_buy_hold"].mean().max())
        held_out.append(pooled_holdout_score(results, leave_one_event_out(results, combos)))
    assert np.mean(in_sample) == pytest.approx(1.539 * 0.25 / 4, rel=0.15)
    assert abs(np.mean(held_out)) < 4 * 0.25 / np.sqrt(16 * 100)
