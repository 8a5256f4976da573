"""The tests table from reduced sufficient statistics: every scope and window at once.

The statistics are those of :mod:`backtest.study.statistics` (formulas and papers in its
docstrings; :func:`~backtest.study.statistics.run_tests` computes them for one scope from
raw arrays), written here as functions of the per-scope sums of
:class:`~backtest.study.sufficient.ScopeStats`, shaped ``(scopes, W)``: no Python loop per
scope. The signed-rank test needs the ranks of the CARs within each scope, computed here
for all scopes in one sort per window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.study import classics
from backtest.study import statistics as st
from backtest.study.exact import WILCOXON_EXACT_MAX, binomial_p, signed_rank_p
from backtest.study.multiple import METHODS, adjust_rows
from backtest.study.sufficient import ScopeStats, combine, scope_rbar

Stat = tuple[np.ndarray, np.ndarray, np.ndarray]  # statistic, df, n — each (S, W)
RBAR_UNDEFINED = "r̄ undefined (needs two pairs with 30+ estimation days)"


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _cross_t(n: np.ndarray, total: np.ndarray, m2: np.ndarray) -> Stat:
    # t = mean / (s / sqrt(N)), s^2 = M2 / (N - 1): MacKinlay 1997 sec. 4.4; BMP 1991 eq. 5
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        sd = np.sqrt(m2 / (n - 1))
        stat = np.where(n >= 2, mean / (sd / np.sqrt(n)), np.nan)
    return stat, np.where(n >= 2, n - 1.0, np.nan), n


def _brown_warner(s: ScopeStats, lengths: np.ndarray, sd: np.ndarray, t_days: np.ndarray) -> Stat:
    # t = CAAR / (sqrt(L_w) S(Ā)), S(Ā) over estimation days with data (Brown-Warner 1985, p. 7)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = (s.car_sum / s.car_n) / (np.sqrt(lengths)[None, :] * sd[:, None])
    ok = (t_days >= 2)[:, None]
    stat = np.where(ok & (s.car_n >= 1), stat, np.nan)
    df = np.where(ok, (t_days - 1.0)[:, None], np.nan) * np.ones(lengths.size)
    return stat, df, s.car_n


def _patell(s: ScopeStats) -> Stat:
    # Z = sum SCAR_i / sqrt(sum df_i / (df_i - 2)) (Patell 1976, eq. 7)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = s.patell_sum / np.sqrt(s.patell_var)
    return np.where(s.patell_n >= 1, stat, np.nan), np.full(s.patell_n.shape, np.nan), s.patell_n


def _corrado(s: ScopeStats, lengths: np.ndarray, day_sum: np.ndarray, win_sum: np.ndarray) -> Stat:
    # T = sum_{t in w} Ū_t / (sqrt(L_w) S_U), Ū_t = N_t^-1/2 sum (U_it - 1/2) (Corrado-Zivney 1992);
    # with sums of sign(U_it - 1/2) the rank-sign test (Corrado-Zivney 1992, eq. 4-5)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(s.u_cnt > 0, day_sum / np.sqrt(s.u_cnt), np.nan)
        have = np.isfinite(ubar)
        s_u = np.sqrt(np.where(have, ubar * ubar, 0.0).sum(axis=1) / have.sum(axis=1))
        block = np.where(s.win_cnt > 0, win_sum / np.sqrt(s.win_cnt), np.nan)
    stats = np.full(s.win_pairs.shape, np.nan)
    edges = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    for j in range(lengths.size):
        part = block[:, edges[j] : edges[j + 1]]
        ok = np.isfinite(part)
        days = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(ok, part, 0.0).sum(axis=1) / (np.sqrt(days) * s_u)
        stats[:, j] = np.where(days > 0, value, np.nan)
    return stats, np.full(stats.shape, np.nan), s.win_pairs


def _sign(s: ScopeStats) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # Z = (w - N p̂) / sqrt(N p̂ (1 - p̂)) (Cowan 1992); p exact Binomial(N, p̂)
    p_hat = _ratio(s.share_sum, s.share_n)
    n, w = s.car_n, s.car_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = (w - n * p_hat[:, None]) / np.sqrt(n * p_hat[:, None] * (1.0 - p_hat[:, None]))
    p = binomial_p(w, n, np.broadcast_to(p_hat[:, None], w.shape))
    return np.where(n >= 1, stat, np.nan), n, p, p_hat


def wilcoxon_grouped(car: np.ndarray, key: np.ndarray, n_groups: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Signed-rank z, N, exact p and exactness per group and window.

    The statistic of :func:`~backtest.study.statistics.wilcoxon`, for many groups at once:

    ``car`` ``(n, W)``, ``key`` ``(n,)`` group codes ``0..n_groups-1``. Ranks of ``|CAR|``
    within each group come from one sort per window; tied runs get their average rank.
    """
    shape = (n_groups, car.shape[1])
    stat, count, p_exact = np.full(shape, np.nan), np.zeros(shape, dtype=np.int64), np.full(shape, np.nan)
    exact = np.zeros(shape, dtype=bool)
    for j in range(car.shape[1]):
        x = car[:, j]
        valid = np.isfinite(x) & (x != 0)
        k, a, pos = key[valid], np.abs(x[valid]), x[valid] > 0
        # by group, then |CAR|: two argsorts (the second stable) are several times faster than
        # np.lexsort; tied |CAR| may come in another order, which changes no rank or sum
        order = np.argsort(a)
        order = order[np.argsort(k[order], kind="stable")]
        k, a, pos = k[order], a[order], pos[order]
        n = np.bincount(k, minlength=n_groups)
        new = np.concatenate([[True], (k[1:] != k[:-1]) | (a[1:] != a[:-1])]) if k.size else \
            np.zeros(0, dtype=bool)
        run_start = np.flatnonzero(new)
        run_len = np.diff(np.append(run_start, k.size))
        first_rank = run_start - (np.cumsum(n) - n)[k[run_start]] + 1.0
        rank = np.repeat(first_rank + (run_len - 1) / 2.0, run_len)
        w_plus = np.bincount(k, weights=rank * pos, minlength=n_groups)
        runs_k = k[run_start]
        tie = np.bincount(runs_k, weights=run_len**3.0 - run_len, minlength=n_groups) / 48.0
        tied = np.bincount(runs_k, weights=run_len > 1, minlength=n_groups) > 0
        zeros = np.bincount(key[np.isfinite(x) & (x == 0)], minlength=n_groups) > 0
        var = n * (n + 1) * (2 * n + 1) / 24.0 - tie
        with np.errstate(invalid="ignore", divide="ignore"):
            stat[:, j] = np.where((n >= 1) & (var > 0), (w_plus - n * (n + 1) / 4.0) / np.sqrt(var), np.nan)
        count[:, j] = n
        small = (n >= 1) & (n <= WILCOXON_EXACT_MAX) & ~tied & ~zeros
        exact[:, j] = small
        for g in np.flatnonzero(small):  # few and small: an exact null per scope
            p_exact[g, j] = signed_rank_p(round(w_plus[g]), int(n[g]))
    return stat, count, p_exact, exact


def _labels(template: str, values: np.ndarray) -> np.ndarray:
    """``template.format(v)`` per element, formatted once per distinct value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return np.array([template.format(v) for v in uniq], dtype=object)[inverse.reshape(values.shape)]


def pooled_rbars(rbar: np.ndarray, m: np.ndarray, pool_of: np.ndarray, n_pools: int) -> np.ndarray:
    """``r̄`` per pool of events (:func:`~backtest.study.crosscorr.pooled_rbar`); one event: its own."""
    m = m.astype(float)
    weight = np.where(np.isfinite(rbar), m * (m - 1.0) * rbar, 0.0)
    total = np.bincount(pool_of, weights=m, minlength=n_pools)
    members = np.bincount(pool_of, minlength=n_pools)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.bincount(pool_of, weights=weight, minlength=n_pools) / (total * (total - 1.0))
    pooled = np.where(total >= 2, pooled, np.nan)
    single = np.full(n_pools, np.nan)
    single[pool_of] = rbar  # pools of one event keep its r̄ (the last write is the only one)
    return np.where(members == 1, single, pooled)


def tests_table(stats: ScopeStats, names: Sequence[str], pools: Sequence[tuple[str, np.ndarray]],
                car: np.ndarray, pair_scope: np.ndarray, car_cols: Sequence[tuple[int, int]],
                labels: Sequence[str]) -> tuple[pd.DataFrame, ScopeStats]:
    """All tests for every event and pool, as :func:`backtest.study.panel.scope_tests` documents.

    ``stats``: reduced per-event statistics, one row per event code ``0..E-1`` (``names``);
    ``pools``: (name, event codes) partitioning the events; ``car`` ``(n, W)`` and
    ``pair_scope`` ``(n,)`` the pairs' CARs and event codes. Rows: every scope's
    :data:`~backtest.study.statistics.TESTS`, then every scope's
    :data:`~backtest.study.classics.CLASSIC_TESTS`; Holm and Benjamini-Hochberg columns over
    each scope and window (as :func:`~backtest.study.multiple.add_adjusted`). Returns the table
    and the statistics of all scopes (events, then pools) for further tables.
    """
    n_events = len(names)
    pool_of = np.zeros(n_events, dtype=np.int64)
    for j, (_, members) in enumerate(pools):
        pool_of[np.asarray(members, dtype=np.int64)] = j
    rbar_e = scope_rbar(stats)
    rbar = np.concatenate([rbar_e, pooled_rbars(rbar_e, stats.rb_m, pool_of, len(pools))])
    full = combine([stats, combine([stats], groups=pool_of + n_events)])
    scopes = [*map(str, names), *(name for name, _ in pools)]
    lengths = np.array([b - a + 1 for a, b in car_cols], dtype=float)
    w = lengths.size

    key = np.concatenate([pair_scope, pool_of[pair_scope] + n_events])
    wil_stat, wil_n, wil_p_exact, wil_exact = wilcoxon_grouped(np.concatenate([car, car]), key, len(scopes))
    sign_stat, sign_n, sign_p, p_hat = _sign(full)
    bmp = _cross_t(full.scar_n, full.scar_sum, full.scar_m2)
    with np.errstate(invalid="ignore", divide="ignore"):
        kp_factor = np.sqrt((1.0 - rbar[:, None]) / (1.0 + (bmp[2] - 1.0) * rbar[:, None]))
    s_abar, t_days = classics.abar_sd(full.est_cnt, full.est_sum)
    m_bar = _ratio(full.bw_m, full.bw_k)[:, None]  # mean estimation length of the pairs with S_i^2
    nan = np.full((len(scopes), w), np.nan)
    sign_label = np.where(np.isfinite(p_hat), _labels("Binomial(N, {:.3f})", np.nan_to_num(p_hat)),
                          "Binomial(N, p)")
    results = {  # test: (stat, df, n, family of the null, p or None (from df), nulls or None)
        "cross_sectional_t": (*_cross_t(full.car_n, full.car_sum, full.car_m2), "t(N-1)", None, None),
        "brown_warner": (*_brown_warner(full, lengths, s_abar, t_days), "t(T-1)", None, None),
        "patell_z": (*_patell(full), "N(0,1)", None, None),
        "bmp": (*bmp, "t(N-1)", None, None),
        "bmp_kp": (bmp[0] * kp_factor, bmp[1], bmp[2], "t(N-1)", None, None),
        "corrado_rank": (*_corrado(full, lengths, full.u_sum, full.win_sum), "N(0,1)", None, None),
        "generalized_sign": (sign_stat, nan, sign_n, sign_label[:, None] * np.ones((1, w), dtype=object),
                             sign_p, np.array([[lab.replace("N,", f"{k},") for k in row]
                                               for lab, row in zip(sign_label, sign_n, strict=True)],
                                              dtype=object).reshape(len(scopes), w)),
        "wilcoxon": (wil_stat, nan, wil_n, "N(0,1)",
                     np.where(wil_exact, wil_p_exact, st.p_value(wil_stat, nan)),
                     np.where(wil_exact, _labels("exact Wilcoxon({})", wil_n), "N(0,1)")),
        # backtest.study.classics, from the same reduced sums
        "brown_warner_1980": (*classics.brown_warner_1980_sums(full.bw_n, full.bw_car, full.bw_s2, m_bar,
                                                               lengths), "t(M-1)", None, None),
        "lamb": (*classics.lamb_sums(full.lamb_n, full.lamb_car, full.lamb_f, s_abar[:, None]), "N(0,1)",
                 None, None),
        "sign": (*classics.sign_counts(full.car_n, full.car_pos), "Binomial(N, 0.5)",
                 binomial_p(full.car_pos, full.car_n, np.full(full.car_n.shape, 0.5)),
                 _labels("Binomial({}, 0.5)", full.car_n)),
        "rank_sign": (*_corrado(full, lengths, full.rs_sum, full.rs_win), "N(0,1)", None, None),
    }
    caar = _ratio(full.car_sum, full.car_n)
    groups = [_rows(results, tests, rbar, wil_exact) for tests in (st.TESTS, classics.CLASSIC_TESTS)]
    scope_col = np.array(scopes, dtype=object)
    # Holm / BH within each (scope, window): the groups' p-values as (S, T, W), families as rows
    p_all = np.concatenate([cols["p_value"].reshape(len(scopes), len(t), w) for t, cols in groups], axis=1)
    family = np.ascontiguousarray(p_all.transpose(0, 2, 1)).reshape(len(scopes) * w, -1)
    adjusted = {column: adjust_rows(family, method).reshape(len(scopes), w, -1).transpose(0, 2, 1)
                for column, method in METHODS.items()}
    cut = len(groups[0][0])
    table = pd.DataFrame({
        "scope": np.concatenate([np.repeat(scope_col, len(t) * w) for t, _ in groups]),
        "window": np.tile(np.asarray(labels, dtype=object), len(scopes) * sum(len(t) for t, _ in groups)),
        "test": np.concatenate([np.tile(np.repeat(np.array(t, dtype=object), w), len(scopes))
                                for t, _ in groups]),
        **{name: np.concatenate([cols[name] for _, cols in groups]).astype(kind)
           for name, kind in (("statistic", float), ("p_value", float), ("null", object), ("df", float),
                              ("n", int))},
        "caar": np.concatenate([np.repeat(caar[:, None, :], len(t), axis=1).ravel() for t, _ in groups]),
        "rbar": np.concatenate([cols["rbar"] for _, cols in groups]).astype(float),
        "note": np.concatenate([cols["note"] for _, cols in groups]).astype(object),
        **{column: np.concatenate([adj[:, :cut].ravel(), adj[:, cut:].ravel()])
           for column, adj in adjusted.items()},
    })
    return table, full


def _rows(results: dict, tests: Sequence[str], rbar: np.ndarray, wil_exact: np.ndarray
          ) -> tuple[Sequence[str], dict[str, np.ndarray]]:
    """Columns of ``tests``' rows, scope-major ``(S, T, W)`` raveled: minimum N, nulls, notes, p."""
    parts: dict[str, list] = {k: [] for k in ("statistic", "df", "n", "p_value", "null", "note", "rbar")}
    for test in tests:
        stat, df, n, family, p, nulls = results[test]
        n = np.asarray(n).astype(np.int64)
        short = n < st.MIN_N[test]
        if nulls is None:
            nulls = np.where(np.isfinite(df), _labels("t({})", np.nan_to_num(df).astype(np.int64)), family)
        notes = np.where(short, _labels(f"needs N >= {st.MIN_N[test]} (N = {{}})", n), "")
        nulls = np.where(short, family, nulls)
        stat, df = np.where(short, np.nan, stat), np.where(short, np.nan, df)
        p = st.p_value(stat, df) if p is None else np.where(np.isfinite(stat), p, np.nan)
        if test == "bmp_kp":
            notes = np.where((notes == "") & ~np.isfinite(rbar)[:, None], RBAR_UNDEFINED, notes)
        if test == "wilcoxon":
            approx = ~wil_exact & (n >= 1) & (n <= WILCOXON_EXACT_MAX) & (notes == "")
            notes = np.where(approx, "ties or zero CARs: normal approximation", notes)
        kp_rbar = rbar[:, None] * np.ones(n.shape[1]) if test == "bmp_kp" else np.full(n.shape, np.nan)
        for name, value in (("statistic", stat), ("df", df), ("n", n), ("p_value", p), ("null", nulls),
                            ("note", notes), ("rbar", kp_rbar)):
            parts[name].append(np.broadcast_to(np.asarray(value), n.shape))
    return tests, {k: np.stack(v, axis=1).ravel() for k, v in parts.items()}
