"""Normal-return models, fitted for many event x instrument pairs at once.

Every function here is a pure function of arrays shaped ``(n_pairs, n_days)``
(regressors ``(n_pairs, n_days, k)``) in which NaN marks a missing return. No
Python loop runs per pair, so a block of pairs can be mapped over Dask later.

All four models are stored in one shape so pairs that fell back to another
model can be mixed with ``np.where``: a fit is the intercept ``alpha``, slopes
``beta`` on the ``k`` regressors, the residual variance ``sigma2`` and the two
pieces of the prediction-error variance, ``inv_n`` (``1/L1``) and ``s_inv``
(the inverse of the centred regressor cross-product). With ``d_t = x_t - x̄``:

    Var(AR_t)  = sigma2 * (1 + inv_n + d_t' s_inv d_t)                (MacKinlay 1997, eq. 8)
    Var(CAR_w) = sigma2 * (L_w + L_w**2 * inv_n + D_w' s_inv D_w),  D_w = sum of d_t over w

which is ``gamma' V gamma`` with ``V = sigma2 I + X* (X'X)^-1 X*'`` (MacKinlay 1997, eq. 7-8
and the CAR variance that follows). Constant-mean keeps ``inv_n`` and zero ``s_inv``;
market-adjusted estimates nothing, so both are zero and ``Var(AR_t) = sigma2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Model = Literal["market", "market_adjusted", "constant_mean", "factor", "scholes_williams"]
MODELS: tuple[str, ...] = ("market", "market_adjusted", "constant_mean", "factor", "scholes_williams")
# Models whose normal return needs a market (benchmark) series.
NEEDS_MARKET: frozenset[str] = frozenset({"market", "market_adjusted", "factor", "scholes_williams"})


@dataclass(frozen=True)
class NormalFit:
    """Fitted normal-return model of ``n`` pairs (arrays, NaN where undefined).

    Attributes
    ----------
    alpha, sigma2, inv_n : (n,) float
    beta : (n, k) float
    x_mean : (n, k) float — mean regressor over the estimation window
    s_inv : (n, k, k) float — inverse centred cross-product of the regressors
    n_est : (n,) int — estimation observations used
    df : (n,) int — residual degrees of freedom of ``sigma2``
    est_resid : (n, L1) float — estimation-window abnormal returns (residuals)
    uses_x : (n,) bool — False for constant-mean (regressors may then be missing)
    """

    alpha: np.ndarray
    beta: np.ndarray
    x_mean: np.ndarray
    s_inv: np.ndarray
    inv_n: np.ndarray
    sigma2: np.ndarray
    n_est: np.ndarray
    df: np.ndarray
    est_resid: np.ndarray
    uses_x: np.ndarray


def _valid(r: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.isfinite(r) & np.all(np.isfinite(x), axis=-1)


def _masked_mean(values: np.ndarray, valid: np.ndarray, n: np.ndarray) -> np.ndarray:
    # mean over axis 1 of values where valid; NaN where n == 0
    total = np.where(valid if values.ndim == 2 else valid[..., None], values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / (n if values.ndim == 2 else n[:, None])


def fit_model(model: str, est_r: np.ndarray, est_x: np.ndarray) -> NormalFit:
    """Fit ``model`` on estimation-window returns of ``n`` pairs at once.

    Parameters
    ----------
    model : {"market", "factor", "constant_mean", "market_adjusted"}
        ``market`` and ``factor`` are OLS of the return on an intercept and the
        ``k`` regressors in ``est_x`` (``k = 1`` for the market model);
        ``market_adjusted`` takes ``est_x[..., 0]`` as the market.
    est_r : (n, L1) array
        Returns, NaN = missing.
    est_x : (n, L1, k) array
        Regressors (market first). A day enters the fit when the return and all
        regressors are present.

    Returns
    -------
    NormalFit
        ``sigma2`` is NaN when the pair has too few observations (``df < 1``)
        or a regressor without variance.

    Notes
    -----
    OLS: ``beta = S_xx^-1 S_xy`` on centred data, ``alpha = ȳ - x̄' beta``,
    ``sigma2 = e'e / (L1 - k - 1)`` (MacKinlay 1997, eq. 5-6; df ``L1 - 2``
    for the market model). Constant mean: ``mu = ȳ``, ``sigma2 = e'e/(L1-1)``.
    Market-adjusted: ``AR = R - R_m``, ``sigma2`` = sample variance of the
    estimation ARs with ``L1 - 1`` df (Brown-Warner 1985 convention).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[-0.02, -0.01, 0.0, 0.01, 0.02]])
    >>> r = 0.001 + 1.5 * m + 0.01 * np.array([[1, -2, 0, 2, -1]])
    >>> fit = fit_model("market", r, m[..., None])
    >>> print(round(float(fit.alpha[0]), 6), round(float(fit.beta[0, 0]), 6), round(float(fit.sigma2[0]), 8))
    0.001 1.5 0.00033333
    """
    est_r = np.asarray(est_r, dtype=float)
    est_x = np.asarray(est_x, dtype=float)
    n_pairs, _, k = est_x.shape
    valid = _valid(est_r, est_x)
    n = valid.sum(axis=1)
    zeros_k = np.zeros((n_pairs, k))
    zeros_kk = np.zeros((n_pairs, k, k))

    if model == "market_adjusted":
        ar = np.where(valid, est_r - est_x[..., 0], np.nan)
        df = n - 1
        mean = _masked_mean(ar, valid, n)
        sigma2 = _residual_variance(ar - mean[:, None], valid, df)
        beta = zeros_k.copy()
        beta[:, 0] = 1.0
        return NormalFit(np.zeros(n_pairs), beta, zeros_k, zeros_kk, np.zeros(n_pairs),
                         sigma2, n, df, ar, np.ones(n_pairs, dtype=bool))

    if model == "constant_mean":
        # the regressors play no part: a day counts when the return is present
        valid = np.isfinite(est_r)
        n = valid.sum(axis=1)
        y_mean = _masked_mean(est_r, valid, n)
        resid = np.where(valid, est_r - y_mean[:, None], np.nan)
        df = n - 1
        sigma2 = _residual_variance(resid, valid, df)
        with np.errstate(divide="ignore"):
            inv_n = np.where(n > 0, 1.0 / np.maximum(n, 1), np.nan)
        return NormalFit(y_mean, zeros_k, zeros_k, zeros_kk, inv_n, sigma2, n, df, resid,
                         np.zeros(n_pairs, dtype=bool))

    if model == "scholes_williams":  # thin trading: lead/lag betas (backtest.study.scholes_williams)
        from backtest.study.scholes_williams import scholes_williams_fit

        return scholes_williams_fit(est_r, est_x)

    if model not in ("market", "factor"):
        raise ValueError(f"unknown model {model!r}")  # parsed at the edge; a bug if reached
    y_mean = _masked_mean(est_r, valid, n)
    x_mean = _masked_mean(est_x, valid, n)
    dx = np.where(valid[..., None], est_x - x_mean[:, None, :], 0.0)
    dy = np.where(valid, est_r - y_mean[:, None], 0.0)
    s_xx = np.einsum("nlp,nlq->npq", dx, dx)
    s_xy = np.einsum("nlp,nl->np", dx, dy)
    df = n - k - 1
    diag = np.diagonal(s_xx, axis1=1, axis2=2)
    bad = (df < 1) | ~np.all(diag > 1e-300, axis=1)
    if k > 1:
        safe = np.where(bad[:, None, None], np.eye(k), s_xx)
        bad |= ~(np.linalg.cond(safe) < 1e12)
    s_safe = np.where(bad[:, None, None], np.eye(k), s_xx)
    s_inv = np.linalg.inv(s_safe)
    beta = np.einsum("npq,nq->np", s_inv, s_xy)
    alpha = y_mean - np.einsum("np,np->n", beta, x_mean)
    resid = np.where(valid, est_r - alpha[:, None] - np.einsum("nlk,nk->nl", est_x, beta), np.nan)
    sigma2 = _residual_variance(resid, valid, df)
    nan = np.where(bad, np.nan, 1.0)
    inv_n = 1.0 / np.maximum(n, 1)
    return NormalFit(alpha * nan, beta * nan[:, None], x_mean, s_inv * nan[:, None, None],
                     inv_n * nan, sigma2 * nan, n, df, resid, np.ones(n_pairs, dtype=bool))


def _residual_variance(resid: np.ndarray, valid: np.ndarray, df: np.ndarray) -> np.ndarray:
    ss = np.where(valid, resid, 0.0)
    ss = np.einsum("nl,nl->n", ss, ss)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(df >= 1, ss / np.maximum(df, 1), np.nan)


def select_fit(use_b: np.ndarray, a: NormalFit, b: NormalFit) -> NormalFit:
    """Per pair, take fit ``b`` where ``use_b`` is true, else fit ``a`` (same shapes)."""
    out = {}
    for name in NormalFit.__dataclass_fields__:
        va, vb = getattr(a, name), getattr(b, name)
        mask = use_b.reshape((-1,) + (1,) * (va.ndim - 1))
        out[name] = np.where(mask, vb, va)
    return NormalFit(**out)


def predict(fit: NormalFit, evt_r: np.ndarray, evt_x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Normal returns, abnormal returns and their prediction-error variance in the event window.

    Parameters
    ----------
    fit : NormalFit
    evt_r : (n, L2) array
    evt_x : (n, L2, k) array

    Returns
    -------
    normal, ar, ar_var, d : arrays
        ``(n, L2)`` each, and ``d = x_t - x̄`` ``(n, L2, k)`` (zero where the AR is
        missing), used for the CAR variance. ``ar`` is NaN where the return or a
        regressor is missing.

    Notes
    -----
    ``AR_t = R_t - alpha - beta' x_t``; ``Var(AR_t) = sigma2 (1 + 1/L1 + d_t' S_xx^-1 d_t)``
    (MacKinlay 1997, eq. 7-8).
    """
    evt_r = np.asarray(evt_r, dtype=float)
    evt_x = np.asarray(evt_x, dtype=float)
    x_ok = np.all(np.isfinite(evt_x), axis=-1) | ~fit.uses_x[:, None]
    valid = np.isfinite(evt_r) & x_ok
    x = np.where(np.isfinite(evt_x), evt_x, 0.0)  # only reaches pairs that ignore x
    normal = fit.alpha[:, None] + np.einsum("nlk,nk->nl", x, fit.beta)
    normal = np.where(x_ok, normal, np.nan)
    ar = np.where(valid, evt_r - normal, np.nan)
    d = np.where(valid[..., None], x - fit.x_mean[:, None, :], 0.0)
    quad = np.einsum("nlp,npq,nlq->nl", d, fit.s_inv, d)
    ar_var = np.where(valid, fit.sigma2[:, None] * (1.0 + fit.inv_n[:, None] + quad), np.nan)
    return normal, ar, ar_var, d


def outside_data(ar: np.ndarray, has_before: np.ndarray) -> np.ndarray:
    """Event-window days whose AR is missing because the window runs beyond the data.

    A missing AR on day ``t`` is a gap inside the data (a halt, a one-sided holiday) when
    the pair has an AR on a later day of the event window and data before ``t`` (an earlier
    AR, or ``has_before``: estimation returns); otherwise it lies before the start or after
    the end of the pair's data (a late listing, prices or a regressor that end). A gap at
    the very end of the event window counts as after the end (the panel does not see later days).

    Parameters
    ----------
    ar : (n, L2) array, NaN = missing
    has_before : (n,) bool

    Returns
    -------
    (n, L2) bool
    """
    obs = np.isfinite(ar)
    seen = np.logical_or.accumulate(obs, axis=1)
    before = np.concatenate([np.zeros((obs.shape[0], 1), dtype=bool), seen[:, :-1]], axis=1)
    before |= np.asarray(has_before, dtype=bool)[:, None]
    later = np.logical_or.accumulate(obs[:, ::-1], axis=1)[:, ::-1]
    after = np.concatenate([later[:, 1:], np.zeros((obs.shape[0], 1), dtype=bool)], axis=1)
    return ~obs & ~(before & after)


def window_complete(ar: np.ndarray, outside: np.ndarray, first: int, last: int,
                    day0: int | None = None) -> np.ndarray:
    """True where the CAR over columns ``first..last`` can be reported.

    A CAR is incomplete (reported NaN) when a day of its window lies outside the data
    (:func:`outside_data`) or when the window holds day 0 (column ``day0``) and day 0 has
    no AR: a sum over the days that exist would pass for the full-window CAR. Gaps inside
    the data keep the documented rule: left out of the sum and counted in ``n_missing``.

    >>> ar = np.array([[0.01, np.nan, 0.02, np.nan]])
    >>> out = outside_data(ar, np.array([True]))          # day 1 a halt, day 3 after the end
    >>> bool(window_complete(ar, out, 0, 2)[0]), bool(window_complete(ar, out, 2, 3)[0])
    (True, False)
    """
    ok = ~outside[:, first : last + 1].any(axis=1)
    if day0 is not None and first <= day0 <= last:
        ok &= np.isfinite(ar[:, day0])
    return ok


def car_window(fit: NormalFit, ar: np.ndarray, d: np.ndarray, first: int, last: int,
               complete: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAR over event-window columns ``first..last`` (inclusive) and its variance.

    Returns
    -------
    car, car_var, n_days : (n,) arrays
        ``car`` sums the available ARs (NaN when none, or where ``complete`` is False:
        see :func:`window_complete`); ``n_days`` counts them.

    Notes
    -----
    ``Var(CAR) = sigma2 (L + L^2/L1 + D' S_xx^-1 D)``, ``D = sum_t (x_t - x̄)`` over the
    ``L`` days with an AR: ``gamma' V gamma`` of MacKinlay (1997), section 4.
    """
    block = ar[:, first : last + 1]
    valid = np.isfinite(block)
    n_days = valid.sum(axis=1)
    car = np.where(n_days > 0, np.where(valid, block, 0.0).sum(axis=1), np.nan)
    big_d = d[:, first : last + 1, :].sum(axis=1)
    quad = np.einsum("np,npq,nq->n", big_d, fit.s_inv, big_d)
    car_var = fit.sigma2 * (n_days + n_days**2 * fit.inv_n + quad)
    car_var = np.where(n_days > 0, car_var, np.nan)
    if complete is not None:
        car, car_var = np.where(complete, car, np.nan), np.where(complete, car_var, np.nan)
    return car, car_var, n_days


def bhar_window(returns: np.ndarray, normal: np.ndarray, ar: np.ndarray, first: int, last: int,
                kind: str) -> np.ndarray:
    """Buy-and-hold abnormal return over columns ``first..last`` on the days with an AR.

    ``BHAR = prod(1 + R_t) - prod(1 + NR_t)`` (Barber-Lyon 1997), for log returns
    ``exp(sum r_t) - exp(sum nr_t)``; NaN when the window has no AR.
    """
    valid = np.isfinite(ar[:, first : last + 1])
    r = np.where(valid, returns[:, first : last + 1], 0.0)
    nr = np.where(valid, normal[:, first : last + 1], 0.0)
    if kind == "log":
        out = np.exp(r.sum(axis=1)) - np.exp(nr.sum(axis=1))
    else:
        out = np.prod(1.0 + r, axis=1) - np.prod(1.0 + nr, axis=1)
    return np.where(valid.any(axis=1), out, np.nan)
