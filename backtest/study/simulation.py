"""Size and power of every test on simulated common-date events where the truth is known.

Each simulated event has ``N`` instruments sharing day 0, market-model returns with
fat-tailed (Student t, 4 df) market and residuals, and residuals that share a common factor
(pairwise correlation ``rho``, 0.5 by default): exactly the setting where the
cross-sectional tests' independence and normality fail. Under the null nothing happens on
day 0; under the alternative every instrument's day-0 return gets ``shock``. The rejection
rate at 5 % of each parametric test (:func:`backtest.study.statistics.run_tests`), the
placebo test (:mod:`backtest.study.placebo`), the bootstrap (:mod:`backtest.study.bootstrap`)
and the calendar-time portfolio (:mod:`backtest.study.calendar_time`) is the share of events
with ``p < 0.05``. ``benchmarks/bench_size_power.py`` runs 2,000 events; the tests a few.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.study import statistics as st
from backtest.study.bootstrap import bootstrap_car
from backtest.study.calendar_time import portfolio_test
from backtest.study.classics import classic_results
from backtest.study.history import PairHistory
from backtest.study.panel import compute
from backtest.study.placebo import empirical_p, placebo_draws

ESTIMATION, EVENT, WINDOW = (-120, -11), (-5, 5), (0, 0)


def _t4(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Student t with 4 df scaled to unit variance (Var t_4 = 4 / (4 - 2) = 2)
    return rng.standard_t(4, size=shape) / np.sqrt(2.0)


def simulate_event(rng: np.random.Generator, n_pairs: int, n_placebo: int, *, rho: float = 0.5,
                   shock: float = 0.0, sigma: float = 0.02) -> PairHistory:
    """One event's history: ``n_placebo`` placebo dates' room before day 0, t(4) returns.

    ``R_it = 0.0003 + beta_i R_mt + sigma (sqrt(rho) f_t + sqrt(1 - rho) u_it)``, ``R_m``, ``f``
    and ``u`` independent unit-variance t(4) (``R_m`` scaled to 1 %), ``beta_i ~ U(0.5, 1.5)``;
    day 0 is the last date whose event window fits, and gets ``+ shock`` for every instrument.
    """
    length = (ESTIMATION[1] - ESTIMATION[0] + 1) + (EVENT[1] - EVENT[0] + 1) + n_placebo + 10
    market = 0.01 * _t4(rng, (length,))
    factor = _t4(rng, (length,))
    beta = rng.uniform(0.5, 1.5, (n_pairs, 1))
    resid = sigma * (np.sqrt(rho) * factor[None, :] + np.sqrt(1.0 - rho) * _t4(rng, (n_pairs, length)))
    returns = 0.0003 + beta * market[None, :] + resid
    day0 = length - 1 - EVENT[1]
    returns[:, day0] += shock
    dates = np.busday_offset("2000-01-03", np.arange(length), roll="forward").astype("datetime64[ns]")
    names = np.array([f"S{i}" for i in range(n_pairs)], dtype=object)
    return PairHistory(np.full(n_pairs, "sim", dtype=object), names, np.full(n_pairs, "SIM", dtype=object),
                       returns, np.repeat(market[None, :, None], n_pairs, axis=0),
                       np.repeat(dates[None, :], n_pairs, axis=0), np.full(n_pairs, day0), returns)


def event_p_values(h: PairHistory, *, n_boot: int = 199, seed: int = 0) -> dict[str, float]:
    """Day-0 p-value of every test for one simulated event (window [0,0], market model)."""
    l1 = ESTIMATION[1] - ESTIMATION[0] + 1
    pos = h.day0[:, None] + np.arange(ESTIMATION[0], EVENT[1] + 1)[None, :]
    r = np.take_along_axis(h.returns, pos, axis=1)
    x = np.take_along_axis(h.regressors[..., 0], pos, axis=1)[..., None]
    gap = EVENT[0] - ESTIMATION[0]
    col = WINDOW[0] - EVENT[0]
    kw = {"model": "market", "min_estimation": 60, "car_cols": [(col, col)], "day0_col": col}
    out = compute(r[:, :l1], x[:, :l1], r[:, gap:], x[:, gap:], **kw)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = out.car / np.sqrt(out.car_var)
        pe = out.car_var / out.fit.sigma2[:, None]
    tests = st.run_tests(out.car, scar, out.fit.df, out.fit.est_resid, out.u, [(col, col)], l1)
    tests |= classic_results(out.car, out.fit.est_resid, out.u, [(col, col)], l1, pe_factor=pe)
    p = {name: float(res.p_value[0]) for name, res in tests.items()}
    draws = placebo_draws(h, model="market", estimation=ESTIMATION, event=EVENT, car_windows=[WINDOW],
                          min_estimation=60, return_kind="simple",
                          other_events=[h.day0[i : i + 1] for i in range(len(h.day0))])
    for name in ("caar", "bmp"):
        values = draws.tests[name][:, 0]
        p[f"placebo_{name}"] = float(empirical_p(values[:1], values[1:, None])[0][0])
    boot = bootstrap_car(out.car, out.fit.est_resid.T, [WINDOW], n_boot=n_boot, seed=seed)
    p["bootstrap_caar"] = float(boot["caar_p"][0])
    ct = portfolio_test(r[:, :l1], x[:, :l1], r[:, gap:], x[:, gap:], **kw)
    p["calendar_time"] = float(ct["p_value"][0])
    return p


def rejection_rates(n_events: int, n_pairs: int, *, shock: float = 0.0, n_placebo: int = 199,
                    n_boot: int = 199, seed: int = 0, level: float = 0.05) -> pd.Series:
    """Share of ``n_events`` simulated events each test rejects at ``level`` (fixed seed)."""
    rng = np.random.default_rng(seed)
    rows = [event_p_values(simulate_event(rng, n_pairs, n_placebo, shock=shock), n_boot=n_boot,
                           seed=seed + i)
            for i in range(n_events)]  # one event at a time: each is a vectorized study
    frame = pd.DataFrame(rows)
    return (frame < level).mean().rename(f"N={n_pairs}, shock {shock:+.0%}")
