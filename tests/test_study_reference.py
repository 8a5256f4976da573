"""Independent reference implementation of the event-study statistics (audit).

Everything below ``# --- reference`` is written straight from the papers, one pair
and one day at a time with plain Python loops and ``math`` (no numpy vector code,
nothing from ``backtest.study`` but the public entry points). The package's output
must agree to 1e-12 relative on seeded random panels: a clean one, one with missing
returns (estimation and event window, a market gap), one with unequal estimation
lengths per instrument (a late listing, one pair below ``min_estimation`` that falls
back to market-adjusted, different event dates), one with ties (returns on a 1/1024
grid, constant-mean model) and one with two events (per-event and pooled scopes; as
``study_returns`` takes one event, that panel goes through ``backtest.study.panel.assemble``,
the back end shared by ``event_study`` and ``study_returns``).

Formulas and conventions checked (the same as the docstrings in backtest/study):

* Market model (MacKinlay 1997, JEL 35(1), eq. 5-8): OLS on the ``M`` estimation days
  with a return and a market return, ``s2 = e'e / (M - 2)``;
  ``V = s2 I + X* (X'X)^-1 X*' s2`` (eq. 7), the 2x2 ``(X'X)^-1`` written out below;
  ``Var(CAR) = gamma' V gamma`` over the window days that have an AR.
  Market-adjusted: ``AR = R - R_m``, ``s2`` the sample variance of the estimation
  ARs (``M - 1`` df), ``V = s2 I``. Constant mean: ``V = s2 (I + 11'/M)``, ``M - 1`` df.
* Cross-sectional t: ``t(N-1)``. BMP 1991 (JFE 30, eq. 5-6): the cross-sectional t of
  ``SCAR_i = CAR_i / sqrt(gamma' V_i gamma)``, ``t(N-1)``.
* Brown-Warner 1985 (JFE 14, p. 7, crude dependence adjustment): ``A_t`` = mean over
  pairs of the estimation ARs on relative estimation day ``t``;
  ``S = sqrt(sum_t (A_t - mean A)^2 / (T - 1))``; ``t = CAAR / (sqrt(L_w) S)``, ``t(T-1)``.
* Patell 1976 (JAR 14(2)): ``Z = sum_i SCAR_i / sqrt(sum_i df_i / (df_i - 2))`` with
  ``df_i = M_i - 2`` (market), ``M_i - 1`` (market-adjusted / constant mean); N(0,1).
* Kolari-Pynnonen 2010 (RFS 23(11)): ``t_BMP sqrt((1 - r) / (1 + (N - 1) r))``; ``r`` the
  mean off-diagonal correlation of estimation ARs of one event aligned on calendar date;
  with missing days, each pair standardized on its own days and
  ``r = sum_{i!=j} z_i.z_j / sum_{i!=j} n_ij`` (correlations weighted by the ``n_ij`` dates
  both pairs have; no shrinkage toward 0); pairs with fewer than 30 residuals left out.
  Pooled over events: pairs of different events uncorrelated,
  ``r = sum_e m_e (m_e - 1) r_e / (M (M - 1))``.
* Corrado 1989 / Corrado-Zivney 1992 (JFQA 27(3)): ``U_it = K_it / (M_i + 1)`` ranks
  over estimation + event window, ``Ubar_t = N_t^-1/2 sum_i (U_it - 1/2)``,
  ``S_U^2 = mean_t Ubar_t^2`` over every day with a rank; multi-day (Cowan 1992):
  ``sum_{t in w} Ubar_t / (sqrt(L_w) S_U)``; N(0,1). The window days' ``Ubar_t`` use only
  pairs whose window is complete (``S_U`` every pair).
* Generalized sign (Cowan 1992, RQFA 2): ``p = mean_i (share of positive estimation
  ARs of pair i)``, ``Z = (w - N p) / sqrt(N p (1 - p))``; p-value exact Binomial(N, p):
  the sum of the binomial probabilities not above that of ``w`` (``math.comb``).
* Wilcoxon signed rank: zeros dropped, average ranks, tie-corrected variance, z statistic;
  p-value exact (all ``2^n`` sign patterns enumerated) when there are no ties or zeros
  (``n <= 50``), else N(0,1).
* Below a test's minimum N (2 for the t tests, 1 otherwise) statistic and p are NaN.
* CAR complete: NaN when the window runs past the pair's data or day 0 has no AR; a gap
  inside the data is left out of the sum.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtest.errors import ShortHistoryWarning
from backtest.study import study_returns
from backtest.study.panel import Panel, assemble
from backtest.study.statistics import mean_residual_correlation

RTOL = 1e-12
EST, EVT = (-120, -11), (-5, 10)
WINDOWS = [(0, 0), (0, 1), (-1, 1), (0, 5), (-5, 10)]
NAN = float("nan")


def ok(x: float) -> bool:
    return math.isfinite(x)


# --- reference ---------------------------------------------------------------------------


def ref_fit(est_r, est_m, model, min_est):
    """One pair's normal-return model; returns a dict (see module docstring)."""
    def usable(mod):
        return [t for t in range(len(est_r)) if ok(est_r[t]) and (mod == "constant_mean" or ok(est_m[t]))]

    days = usable(model)
    if model != "market_adjusted" and len(days) < min_est:  # fallback below min_estimation
        model = "market_adjusted"
        days = usable(model)
    m_obs = len(days)
    fit = {"model": model, "M": m_obs}
    if model == "market":
        s1 = sum(est_m[t] for t in days)
        s2m = sum(est_m[t] ** 2 for t in days)
        sr = sum(est_r[t] for t in days)
        smr = sum(est_m[t] * est_r[t] for t in days)
        det = m_obs * s2m - s1 * s1
        beta = (m_obs * smr - s1 * sr) / det
        alpha = (sr - beta * s1) / m_obs
        # (X'X)^-1 of X = [1, m]: [[s2m, -s1], [-s1, M]] / det
        fit.update(alpha=alpha, beta=beta, inv=((s2m / det, -s1 / det), (-s1 / det, m_obs / det)))
        resid = [est_r[t] - alpha - beta * est_m[t] if t in days else NAN for t in range(len(est_r))]
        fit["df"] = m_obs - 2
        fit["s2"] = sum(resid[t] ** 2 for t in days) / fit["df"]
    elif model == "constant_mean":
        mu = sum(est_r[t] for t in days) / m_obs
        resid = [est_r[t] - mu if t in days else NAN for t in range(len(est_r))]
        fit.update(alpha=mu, beta=0.0, df=m_obs - 1)
        fit["s2"] = sum(resid[t] ** 2 for t in days) / fit["df"]
    else:  # market-adjusted
        resid = [est_r[t] - est_m[t] if t in days else NAN for t in range(len(est_r))]
        mean = sum(resid[t] for t in days) / m_obs
        fit.update(alpha=0.0, beta=1.0, df=m_obs - 1)
        fit["s2"] = sum((resid[t] - mean) ** 2 for t in days) / fit["df"]
    fit["resid"] = resid
    return fit


def ref_cov(fit, m_t, m_s, same_day):
    """Cov(AR_t, AR_s): element of V (MacKinlay eq. 7)."""
    base = fit["s2"] if same_day else 0.0
    if fit["model"] == "market":
        inv = fit["inv"]
        quad = (inv[0][0] + inv[0][1] * m_s + inv[1][0] * m_t + inv[1][1] * m_t * m_s)
        return base + fit["s2"] * quad
    if fit["model"] == "constant_mean":
        return base + fit["s2"] / fit["M"]
    return base


def ref_pair(pair, model, min_est, windows, evt0):
    """AR, Var(AR), CAR, Var(CAR), SCAR for one pair. ``windows`` in relative days."""
    fit = ref_fit(pair["est_r"], pair["est_m"], model, min_est)
    ar, var = [], []
    for r, m in zip(pair["evt_r"], pair["evt_m"], strict=True):
        if ok(r) and (ok(m) or fit["model"] == "constant_mean"):
            ar.append(r - fit["alpha"] - (fit["beta"] * m if fit["model"] != "constant_mean" else 0.0))
            var.append(ref_cov(fit, m, m, True))
        else:
            ar.append(NAN)
            var.append(NAN)
    has_est = any(ok(v) for v in fit["resid"])
    cars, car_vars, complete = [], [], []
    for a, b in windows:
        days = [t - evt0 for t in range(a, b + 1) if ok(ar[t - evt0])]
        whole = True  # no missing day before the data's start / after its end, day 0 present
        for t in range(a - evt0, b - evt0 + 1):
            if not ok(ar[t]):
                before = has_est or any(ok(v) for v in ar[:t])
                after = any(ok(v) for v in ar[t + 1 :])
                if not (before and after) or t == -evt0:
                    whole = False
        complete.append(whole)
        car = sum(ar[t] for t in days) if days and whole else NAN
        v = sum(ref_cov(fit, pair["evt_m"][t], pair["evt_m"][s], t == s) for t in days for s in days)
        cars.append(car)
        car_vars.append(v if ok(car) else NAN)
    scar = [c / math.sqrt(v) if ok(c) else NAN for c, v in zip(cars, car_vars, strict=True)]
    return {"fit": fit, "ar": ar, "var": var, "car": cars, "car_var": car_vars, "scar": scar,
            "complete": complete}


def ref_t(values):
    x = [v for v in values if ok(v)]
    n = len(x)
    if n < 2:
        return NAN, NAN, n
    mean = sum(x) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    return mean / (sd / math.sqrt(n)), n - 1.0, n


def ref_avg_rank(values, i):
    """Average rank of values[i] among the finite values (1 = smallest)."""
    below = sum(1 for v in values if ok(v) and v < values[i])
    equal = sum(1 for v in values if ok(v) and v == values[i])
    return below + (equal + 1) / 2.0


def ref_rbar(resids, dates=None):
    """Mean pairwise correlation weighted by the common dates of both pairs (``n_ij``).

    Pairs with fewer than 30 residuals are left out; ``dates`` None = align on position.
    """
    z_rows = []
    for k, e in enumerate(resids):
        days = [t for t in range(len(e)) if ok(e[t])]
        if len(days) < 30:
            continue
        mean = sum(e[t] for t in days) / len(days)
        sd = math.sqrt(sum((e[t] - mean) ** 2 for t in days) / len(days))
        if sd > 0:
            keys = dates[k] if dates is not None else list(range(len(e)))
            z_rows.append({keys[t]: (e[t] - mean) / sd for t in days})
    num = den = 0.0
    for i, zi in enumerate(z_rows):
        for j, zj in enumerate(z_rows):
            if i != j:
                both = [d for d in zi if d in zj]
                num += sum(zi[d] * zj[d] for d in both)
                den += len(both)
    return (num / den if len(z_rows) >= 2 and den > 0 else NAN), len(z_rows)


def ref_binomial_p(w, n, p):
    """Two-sided exact binomial p: sum of P(k) <= P(w) (minimum-likelihood rule)."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    return min(1.0, sum(v for v in pmf if v <= pmf[w] * (1 + 1e-7)))


def ref_wilcoxon_exact_p(x):
    """Exact two-sided p of W+ by enumerating all 2^n sign patterns of the ranks 1..n."""
    n = len(x)
    order = sorted(range(n), key=lambda i: abs(x[i]))
    rank = {i: r + 1 for r, i in enumerate(order)}
    w = sum(rank[i] for i in range(n) if x[i] > 0)
    low = high = 0
    for mask in range(2**n):
        s = sum(r for r in range(1, n + 1) if mask >> (r - 1) & 1)
        low += s <= w
        high += s >= w
    return min(1.0, 2 * min(low, high) / 2**n)


def ref_tests(results, windows, evt0, l1, rbar):
    """Every cross-sectional test of one scope: {(test, window): (stat, df, n, p, null)}."""
    out = {}
    resids = [res["fit"]["resid"] for res in results]
    # Brown-Warner: mean estimation AR per relative day
    abar = []
    for t in range(l1):
        vals = [e[t] for e in resids if ok(e[t])]
        if vals:
            abar.append(sum(vals) / len(vals))
    mean_a = sum(abar) / len(abar)
    s_a = math.sqrt(sum((a - mean_a) ** 2 for a in abar) / (len(abar) - 1))
    shares = []
    for e in resids:
        vals = [v for v in e if ok(v)]
        if vals:
            shares.append(sum(1 for v in vals if v > 0) / len(vals))
    p_hat = sum(shares) / len(shares)
    # Corrado-Zivney standardized ranks over estimation + event window
    u_rows = []
    for res in results:
        seq = list(res["fit"]["resid"]) + list(res["ar"])
        m_i = sum(1 for v in seq if ok(v))
        u_rows.append([ref_avg_rank(seq, t) / (m_i + 1) if ok(seq[t]) else NAN for t in range(len(seq))])
    ubar = []
    for t in range(len(u_rows[0])):
        vals = [row[t] - 0.5 for row in u_rows if ok(row[t])]
        ubar.append(sum(vals) / math.sqrt(len(vals)) if vals else NAN)
    have = [v for v in ubar if ok(v)]
    s_u = math.sqrt(sum(v * v for v in have) / len(have))
    for k, (a, b) in enumerate(windows):
        label = (a, b)
        cars = [res["car"][k] for res in results]
        scars = [res["scar"][k] for res in results]
        present = [c for c in cars if ok(c)]
        caar = sum(present) / len(present) if present else NAN

        def t_row(stat, df, n, family="t(N-1)", need=2):
            if n < need:  # below the test's minimum N: NaN, the null's family
                return NAN, NAN, n, NAN, family
            return stat, df, n, 2 * stats.t.sf(abs(stat), df), f"t({int(df)})"

        def z_row(stat, n, p=None, null="N(0,1)", family="N(0,1)"):
            if n < 1:
                return NAN, NAN, n, NAN, family
            return stat, NAN, n, 2 * stats.norm.sf(abs(stat)) if p is None else p, null

        out["cross_sectional_t", label] = t_row(*ref_t(cars))
        out["brown_warner", label] = t_row(caar / (math.sqrt(b - a + 1) * s_a), len(abar) - 1.0,
                                           len(present), "t(T-1)", 1)
        use = [(s, res["fit"]["df"]) for s, res in zip(scars, results, strict=True)
               if ok(s) and res["fit"]["df"] > 2]
        z = sum(s for s, _ in use) / math.sqrt(sum(d / (d - 2.0) for _, d in use)) if use else NAN
        out["patell_z", label] = z_row(z, len(use))
        t_bmp, df_bmp, n_bmp = ref_t(scars)
        out["bmp", label] = t_row(t_bmp, df_bmp, n_bmp)
        kp = t_bmp * math.sqrt((1 - rbar) / (1 + (n_bmp - 1) * rbar)) if n_bmp >= 2 else NAN
        out["bmp_kp", label] = t_row(kp, df_bmp, n_bmp)
        # Corrado: window days from the pairs whose window is complete; S_U from every pair
        cols = [l1 + t - evt0 for t in range(a, b + 1)]
        rows = [row for row, res in zip(u_rows, results, strict=True) if res["complete"][k]]
        days = []
        for c in cols:
            vals = [row[c] - 0.5 for row in rows if ok(row[c])]
            if vals:
                days.append(sum(vals) / math.sqrt(len(vals)))
        n_rank = sum(1 for row in rows if any(ok(row[c]) for c in cols))
        corrado = sum(days) / (math.sqrt(len(days)) * s_u) if days else NAN
        out["corrado_rank", label] = z_row(corrado, n_rank)
        w = sum(1 for c in present if c > 0)
        n = len(present)
        sign_z = (w - n * p_hat) / math.sqrt(n * p_hat * (1 - p_hat)) if n else NAN
        out["generalized_sign", label] = z_row(sign_z, n, ref_binomial_p(w, n, p_hat) if n else NAN,
                                               f"Binomial({n}, {p_hat:.3f})", f"Binomial(N, {p_hat:.3f})")
        x = [c for c in present if c != 0]
        n = len(x)
        absx = [abs(v) for v in x]
        w_plus = sum(ref_avg_rank(absx, i) for i in range(n) if x[i] > 0)
        ties = sum(t**3 - t for t in (absx.count(v) for v in set(absx)))
        var = n * (n + 1) * (2 * n + 1) / 24.0 - ties / 48.0
        z = (w_plus - n * (n + 1) / 4.0) / math.sqrt(var) if n else NAN
        if ties == 0 and len(x) == len(present) and 1 <= n <= 50:
            out["wilcoxon", label] = z_row(z, n, ref_wilcoxon_exact_p(x), f"exact Wilcoxon({n})")
        else:
            out["wilcoxon", label] = z_row(z, n)
        out["caar", label] = caar
        out["rbar"] = rbar
    return out


# --- panels -----------------------------------------------------------------------------


def simulate(seed, n_inst=7, n_rows=260, grid=False):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2023-01-02", periods=n_rows)
    common = rng.normal(0, 0.006, n_rows)  # cross-correlated residuals -> r != 0
    mkt = rng.normal(0.0003, 0.01, n_rows)
    betas = rng.uniform(0.4, 1.8, n_inst)
    rets = (0.0002 + np.outer(mkt, betas) + common[:, None]
            + rng.normal(0, 0.015, (n_rows, n_inst)) * rng.uniform(0.5, 2.0, n_inst))
    if grid:  # dyadic grid: exact ties in ranks and in |CAR|
        rets, mkt = np.round(rets * 128) / 128, np.round(mkt * 128) / 128
    names = [f"S{i}" for i in range(n_inst)]
    return pd.DataFrame(rets, index=days, columns=names), pd.Series(mkt, index=days, name="MKT")


def pairs_from_frame(returns, market, pos0, est=EST, evt=EVT):
    """Per column: estimation/event returns by row position around ``pos0[name]``."""
    out = []
    r_all, m_all = returns.to_numpy(), market.to_numpy()
    for j, name in enumerate(returns.columns):
        def take(lo, hi, values, p=pos0[name]):
            return [float(values[p + d]) if 0 <= p + d < len(values) else NAN for d in range(lo, hi + 1)]
        def when(lo, hi, p=pos0[name]):
            return [returns.index[p + d] if 0 <= p + d < len(returns) else None for d in range(lo, hi + 1)]
        out.append({"symbol": name, "est_r": take(*est, r_all[:, j]), "est_m": take(*est, m_all),
                    "evt_r": take(*evt, r_all[:, j]), "evt_m": take(*evt, m_all), "est_d": when(*est),
                    "evt_d": when(*evt)})
    return out


def check_against_reference(res, pairs, model, min_est, event_of=None):
    l1 = EST[1] - EST[0] + 1
    refs = [ref_pair(p, model, min_est, WINDOWS, EVT[0]) for p in pairs]
    labels = {w: "[" + ",".join(f"{d:+d}" if d else "0" for d in w) + "]" for w in WINDOWS}
    # per pair: fit, AR, Var(AR), CAR, Var(CAR), t, p (MacKinlay eq. 7-8)
    for i, (pair, ref) in enumerate(zip(pairs, refs, strict=True)):
        fit = res.fits.iloc[i]
        assert fit["symbol"] == pair["symbol"]
        assert fit["model_used"] == ref["fit"]["model"]
        assert fit["n_estimation"] == ref["fit"]["M"] and fit["df"] == ref["fit"]["df"]
        np.testing.assert_allclose([fit["alpha"], fit["beta"], fit["sigma2"]],
                                   [ref["fit"]["alpha"], ref["fit"]["beta"], ref["fit"]["s2"]], rtol=RTOL)
        ars = res.abnormal_returns.iloc[i * len(ref["ar"]) : (i + 1) * len(ref["ar"])]
        np.testing.assert_allclose(ars["ar"], ref["ar"], rtol=RTOL)
        np.testing.assert_allclose(ars["ar_se"] ** 2, ref["var"], rtol=RTOL)
        assert list(ars["missing"]) == [not ok(v) for v in ref["ar"]]
        cars = res.car.iloc[i * len(WINDOWS) : (i + 1) * len(WINDOWS)]
        assert list(cars["window"]) == [labels[w] for w in WINDOWS]
        np.testing.assert_allclose(cars["car"], ref["car"], rtol=RTOL)
        np.testing.assert_allclose(cars["car_se"] ** 2, ref["car_var"], rtol=RTOL)
        np.testing.assert_allclose(cars["t_stat"], ref["scar"], rtol=RTOL)
        p = [2 * stats.t.sf(abs(s), ref["fit"]["df"]) for s in ref["scar"]]
        np.testing.assert_allclose(cars["p_value"], p, rtol=1e-10)
        assert list(cars["complete"]) == ref["complete"]
        # BHAR (Barber-Lyon 1997): prod(1 + R_t) - prod(1 + NR_t) over the days with an AR
        bhar = []
        for (a, b), whole in zip(WINDOWS, ref["complete"], strict=True):
            days = [t - EVT[0] for t in range(a, b + 1) if ok(ref["ar"][t - EVT[0]])]
            r = [pair["evt_r"][t] for t in days]
            bhar.append(math.prod(1 + v for v in r)
                        - math.prod(1 + v - ref["ar"][t] for v, t in zip(r, days, strict=True))
                        if whole else NAN)
        np.testing.assert_allclose(cars["bhar"], bhar, rtol=1e-10)
        # running CAR: sum of the ARs so far, NaN from the first missing day on
        running, total = [], 0.0
        for v in ref["ar"]:
            total = total + v if ok(total) and ok(v) else NAN
            running.append(total)
        np.testing.assert_allclose(ars["car"], running, rtol=1e-12)
    # cross-sectional tests per scope; r of an event on calendar dates, pooled: other events r = 0
    scopes = {"all": list(range(len(pairs)))}
    if event_of is not None:
        for i, e in enumerate(event_of):
            scopes.setdefault(e, []).append(i)
    rbars = {}
    for scope, idx in scopes.items():
        if scope != "all" or event_of is None:
            rbars[scope] = ref_rbar([refs[i]["fit"]["resid"] for i in idx], [pairs[i]["est_d"] for i in idx])
    if event_of is not None:
        m = [c for _, c in rbars.values()]
        total = sum(m)
        rbars["all"] = (sum(c * (c - 1) * r for r, c in rbars.values() if ok(r)) / (total * (total - 1)), 0)
    seen = 0
    for scope, idx in scopes.items():
        expected = ref_tests([refs[i] for i in idx], WINDOWS, EVT[0], l1, rbars[scope][0])
        table = res.tests[res.tests["scope"] == scope].set_index(["test", "window"])
        aar = res.aar[res.aar["scope"] == scope]
        caar = 0.0
        for k, day in enumerate(range(EVT[0], EVT[1] + 1)):
            vals = [refs[i]["ar"][k] for i in idx if ok(refs[i]["ar"][k])]
            mean = sum(vals) / len(vals) if vals else NAN  # a day without any AR: NaN from here on
            caar += mean
            assert aar["n"].iloc[k] == len(vals) and aar["rel_day"].iloc[k] == day
            assert aar["aar"].iloc[k] == pytest.approx(mean, rel=RTOL, nan_ok=True)
            assert aar["caar"].iloc[k] == pytest.approx(caar, rel=1e-11, nan_ok=True)
        for key, value in expected.items():
            if key == "rbar" or key[0] == "caar":
                continue
            (test, w), (stat, df, n, p, null) = key, value
            row = table.loc[(test, labels[w])]
            assert row["statistic"] == pytest.approx(stat, rel=RTOL, abs=1e-14, nan_ok=True), (scope, test, w)
            assert row["n"] == n, (scope, test, w)
            assert row["null"] == null, (scope, test, w)
            assert (row["df"] == df) if ok(df) else np.isnan(row["df"])
            assert row["p_value"] == pytest.approx(p, rel=1e-10, nan_ok=True), (scope, test, w)
            assert row["caar"] == pytest.approx(expected["caar", w], rel=RTOL, nan_ok=True)
            if test == "bmp_kp":
                assert row["rbar"] == pytest.approx(expected["rbar"], rel=RTOL, abs=1e-15)
            else:
                assert np.isnan(row["rbar"])
            seen += 1
    assert seen == len(scopes) * 8 * len(WINDOWS)
    return refs


def run(returns, market, event_date, **kw):
    return study_returns(returns, market, estimation=EST, event=EVT, event_date=event_date,
                         car_windows=WINDOWS, **kw)


def test_clean_panel_matches_reference():
    returns, market = simulate(11)
    with warnings.catch_warnings():  # a full panel: no DataWarning / ShortHistoryWarning
        warnings.simplefilter("error")
        res = run(returns, market, returns.index[200])
    refs = check_against_reference(res, pairs_from_frame(returns, market, dict.fromkeys(returns, 200)),
                                   "market", 60)
    assert all(r["fit"]["model"] == "market" and r["fit"]["M"] == 110 for r in refs)


def test_missing_returns_match_reference():
    returns, market = simulate(12)
    returns.iloc[201, 2] = np.nan   # S2: event day +1 -> AR missing, CAR[0,+1] has one day
    returns.iloc[150, 4] = np.nan   # S4: one estimation day missing -> M = 109
    market.iloc[120] = np.nan       # market gap on estimation day -80 of every pair -> M = 109 / 108
    with pytest.warns(ShortHistoryWarning, match="S4 in event: 108 of 110"):
        res = run(returns, market, returns.index[200])
    refs = check_against_reference(res, pairs_from_frame(returns, market, dict.fromkeys(returns, 200)),
                                   "market", 60)
    assert refs[4]["fit"]["M"] == 108 and refs[0]["fit"]["M"] == 109
    assert res.car.set_index(["symbol", "window"]).loc[("S2", "[0,+1]"), "n_missing"] == 1


def test_unequal_estimation_lengths_and_fallback_match_reference():
    returns, market = simulate(13, n_inst=8)
    # day 0 on rows 200, 207 or 214 (i % 3); estimation rows day0-120..day0-11
    pos0 = {name: 200 + (i % 3) * 7 for i, name in enumerate(returns.columns)}
    returns.iloc[:120, 3] = np.nan  # S3 (day 0 row 200, rows 80..189) listed late: rows 120..189 = 70
    returns.iloc[:174, 5] = np.nan  # S5 (day 0 row 214, rows 94..203): rows 174..203 = 30 < 60
    dates = {name: returns.index[p] for name, p in pos0.items()}
    with pytest.warns(ShortHistoryWarning, match="S3 in event: 70 of 110.*S5 in event: 30 of 110"):
        res = run(returns, market, dates)
    refs = check_against_reference(res, pairs_from_frame(returns, market, pos0), "market", 60)
    assert refs[3]["fit"]["model"] == "market" and refs[5]["fit"]["model"] == "market_adjusted"


def test_ties_constant_mean_match_reference():
    returns, market = simulate(14, n_inst=9, grid=True)
    returns.iloc[:, 1] = returns.iloc[:, 0]  # identical pairs: tied |CAR| in the Wilcoxon test
    returns.iloc[[150, 203], [3, 4]] = np.nan  # ties and missing days in the same rank rows
    with pytest.warns(ShortHistoryWarning, match="S3 in event: 109 of 110.*S4 in event: 109 of 110"):
        res = run(returns, market, returns.index[200], model="constant_mean")
    refs = check_against_reference(res, pairs_from_frame(returns, market, dict.fromkeys(returns, 200)),
                                   "constant_mean", 60)
    seq = refs[0]["fit"]["resid"] + refs[0]["ar"]
    assert len(set(seq)) < len(seq)  # the grid really produces tied ranks


def test_two_events_scopes_match_reference():
    # two events on different dates, pairs stacked into one panel (what event_study builds)
    returns, market = simulate(15, n_inst=6, n_rows=300)
    first = pairs_from_frame(returns, market, dict.fromkeys(returns, 200))
    second = pairs_from_frame(returns, market, dict.fromkeys(returns, 280))
    second[2]["evt_r"][7] = NAN  # a missing return in the second event's window
    pairs = first + second
    events = ["a"] * 6 + ["b"] * 6

    def arr(key):
        return np.array([p[key] for p in pairs])

    panel = Panel(np.array(events, dtype=object), np.array([p["symbol"] for p in pairs], dtype=object),
                  np.array(["MKT"] * 12, dtype=object), arr("est_r"), arr("est_m")[..., None],
                  arr("evt_r"), arr("evt_m")[..., None],
                  np.full(arr("evt_r").shape, np.datetime64("NaT"), dtype="datetime64[ns]"), ("market",),
                  np.array([pd.DatetimeIndex(p["est_d"]).to_numpy() for p in pairs]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = assemble(panel, model="market", estimation=EST, event=EVT, car_windows=WINDOWS,
                       min_estimation=60, return_kind="simple", settings={})
    check_against_reference(res, pairs, "market", 60, event_of=events)
    assert set(res.tests["scope"]) == {"a", "b", "all"}


def test_reference_agrees_with_outside_libraries():
    # the reference itself against scipy on small cases (t test, Wilcoxon with ties, ranks)
    assert ref_t([0.01, 0.02, 0.06])[0] == pytest.approx(stats.ttest_1samp([0.01, 0.02, 0.06], 0).statistic,
                                                         rel=1e-12)
    x = [0.03, -0.01, 0.01, 0.05, -0.03, 0.02]  # ties in |x|: 0.01 twice, 0.03 twice
    res = ref_tests([{"fit": {"resid": [0.1, -0.1], "df": 10}, "ar": [v], "car": [v], "scar": [v],
                      "complete": [True]}
                     for v in x], [(0, 0)], 0, 2, NAN)
    z = res["wilcoxon", (0, 0)][0]
    ref = stats.wilcoxon(x, method="approx", correction=False)
    assert 2 * stats.norm.sf(abs(z)) == pytest.approx(ref.pvalue, rel=1e-10)
    # average ranks against scipy.stats.rankdata
    vals = [0.3, 0.1, 0.3, NAN, -0.2]
    ranks = [ref_avg_rank(vals, i) for i in (0, 1, 2, 4)]
    assert ranks == list(stats.rankdata([0.3, 0.1, 0.3, -0.2]))
    # exact p-values against scipy: binomial (binomtest) and Wilcoxon (method="exact")
    for w, n, p in [(0, 4, 0.49), (2, 7, 0.494), (6, 9, 0.3), (5, 5, 0.5)]:
        assert ref_binomial_p(w, n, p) == pytest.approx(stats.binomtest(w, n, p).pvalue, rel=1e-10)
    for y in ([-0.01, -0.02, -0.03, -0.04], [0.03, -0.01, 0.02, 0.05, -0.04, 0.07, -0.06]):
        assert ref_wilcoxon_exact_p(y) == pytest.approx(stats.wilcoxon(y, method="exact").pvalue,
                                                          rel=1e-12)


def test_rbar_late_listing_is_not_shrunk():
    # e1 = e3 = [+1, -1, +1, ...] over 120 days (mean 0, sd 1); e2 = e1 on the last 40 days only
    # (a late listing; those 40 days also have mean 0, sd 1). Every pairwise correlation on the
    # days both have is 1 -> r = 1. Zero-filling the 80 missing days would give
    # r12 = r23 = 40 / sqrt(120 * 40) = 0.577 and r = (1 + 2 * 0.577) / 3 = 0.718.
    e1 = np.tile([1.0, -1.0], 60)
    e2 = np.where(np.arange(120) >= 80, e1, np.nan)
    assert mean_residual_correlation(np.vstack([e1, e2, e1])) == pytest.approx(1.0, rel=RTOL)
    # e2 = -e1 on its days: r12 = r23 = -1 on n = 40 days, r13 = 1 on n = 120; weighted by n_ij
    # over the 6 ordered pairs: (2 * 120 * 1 - 4 * 40 * 1) / (2 * 120 + 4 * 40) = 80 / 400 = 0.2
    assert mean_residual_correlation(np.vstack([e1, -e2, e1])) == pytest.approx(0.2, rel=RTOL)
    assert ref_rbar([list(e1), list(-e2), list(e1)])[0] == pytest.approx(0.2, rel=RTOL)


def test_windows_past_the_data_and_missing_day0_match_reference():
    # 206 rows, day 0 on row 200: days +6..+10 lie after the last row (row 205) for every pair.
    # S1 has no return on day 0, S2 a halt on day +2 (inside the data), S3 no return from day +4.
    returns, market = simulate(16, n_rows=206)
    returns.iloc[200, 1] = np.nan
    returns.iloc[202, 2] = np.nan
    returns.iloc[204:, 3] = np.nan
    res = run(returns, market, returns.index[200])
    refs = check_against_reference(res, pairs_from_frame(returns, market, dict.fromkeys(returns, 200)),
                                   "market", 60)
    car = res.car.set_index(["symbol", "window"])
    # by hand: [0,0], [0,+1], [-1,+1] lie inside the data; [0,+5] ends on row 205 (the last);
    # [-5,+10] runs to row 210 -> NaN for everyone
    assert car.loc[("S0", "[0,+5]"), "complete"] and np.isfinite(car.loc[("S0", "[0,+5]"), "car"])
    assert not car.loc[("S0", "[-5,+10]"), "complete"] and np.isnan(car.loc[("S0", "[-5,+10]"), "car"])
    assert car.loc[("S0", "[-5,+10]"), "n_missing"] == 5
    # S1: day 0 missing -> every window holding day 0 is NaN, n_missing counts it
    assert np.isnan(car.loc[("S1", "[0,0]"), "car"]) and car.loc[("S1", "[0,0]"), "n_missing"] == 1
    assert np.isnan(car.loc[("S1", "[-1,+1]"), "car"])
    # S2: halt on +2 -> [0,+5] = sum of the five other days, one missing
    row = car.loc[("S2", "[0,+5]")]
    assert row["complete"] and row["n_missing"] == 1
    assert row["car"] == pytest.approx(sum(refs[2]["ar"][k] for k in (5, 6, 8, 9, 10)), rel=1e-12)
    # S3: data end on +3 -> [0,+5] NaN (two days after the end), [0,+1] computed
    assert np.isnan(car.loc[("S3", "[0,+5]"), "car"]) and car.loc[("S3", "[0,+5]"), "n_missing"] == 2
    assert np.isfinite(car.loc[("S3", "[0,+1]"), "car"])
