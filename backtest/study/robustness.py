"""Robustness view: the headline CARs under each normal-return model side by side.

A conclusion an analyst can cite should not hinge on the normal-return model. The
market model extrapolates the estimation window's intercept (a stock that ran up
carries a large positive alpha into the event window); market-adjusted assumes
``alpha = 0, beta = 1``; constant-mean ignores the market. MacKinlay (1997, JEL
35(1), section 4.1) reports the market and constant-mean models side by side for
this reason. :func:`model_robustness` reruns the study under each model with the
same windows and data; ``model_dependent`` flags a pair x window whose sign or 5 %
significance differs across the models.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import BacktestWarning
from backtest.formatting import format_marked

ROBUSTNESS_COLUMNS: tuple[str, ...] = (
    "event_id", "symbol", "window", "model", "model_used", "car", "t_stat", "p_value", "drift",
    "model_dependent",
)  # fmt: skip


def robustness_models(factors: Sequence[str] | None) -> tuple[str, ...]:
    """Models of the robustness view: market, market-adjusted, constant-mean (+ factor with factors).

    >>> robustness_models(None), robustness_models(["SOXX"])[-1]
    (('market', 'market_adjusted', 'constant_mean'), 'factor')
    """
    return ("market", "market_adjusted", "constant_mean", *(("factor",) if factors else ()))


def model_robustness(prices: Mapping[str, pd.DataFrame], alignment: pd.DataFrame, calendars: Any,
                     *, models: Sequence[str] | None = None, known: Mapping[str, Any] | None = None,
                     **options: Any) -> pd.DataFrame:
    """CARs of every pair x window under each model (tidy, :data:`ROBUSTNESS_COLUMNS`).

    ``options`` are :func:`backtest.study.event_study`'s keyword arguments except ``model``
    (the factor model gets ``factors``; the others ignore them). ``known`` maps a model to a
    result already computed with these options (the headline study), which is used instead of
    running it again. Warnings of the reruns are not repeated (the headline study gives them).
    """
    from backtest.study.engine import event_study

    factors = options.pop("factors", None)
    options.pop("model", None)
    frames = []
    for model in models or robustness_models(factors):
        res = (known or {}).get(model)
        if res is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BacktestWarning)
                res = event_study(prices, alignment, calendars, model=model,  # type: ignore[arg-type]
                                  factors=factors if model == "factor" else None, **options)
        frames.append(res.car[["event_id", "symbol", "window", "model_used", "car", "t_stat", "p_value",
                               "drift"]].assign(model=model))
    return flag_model_dependence(pd.concat(frames, ignore_index=True))


def flag_model_dependence(tidy: pd.DataFrame) -> pd.DataFrame:
    """Add ``model_dependent``: the CAR's sign or its 5 % significance differs across models.

    >>> t = pd.DataFrame({"event_id": "e", "symbol": "A", "window": "[0,0]", "model": ["m", "a"],
    ...                   "model_used": ["m", "a"], "car": [-0.59, -0.43], "t_stat": [-2.3, -1.7],
    ...                   "p_value": [0.02, 0.09], "drift": [-0.25, 0.0]})
    >>> flag_model_dependence(t)["model_dependent"].tolist()
    [True, True]
    """
    keys = ["event_id", "symbol", "window"]
    finite = tidy[np.isfinite(tidy["car"])]
    signs = finite.assign(sign=np.sign(finite["car"]), sig=finite["p_value"] < 0.05)
    varies = signs.groupby(keys, sort=False).agg(signs_=("sign", "nunique"), sig_=("sig", "nunique"))
    dependent = ((varies["signs_"] > 1) | (varies["sig_"] > 1)).rename("model_dependent")
    out = tidy.drop(columns=["model_dependent"], errors="ignore").join(dependent, on=keys)
    out["model_dependent"] = out["model_dependent"].fillna(False).astype(bool)
    return out[list(ROBUSTNESS_COLUMNS)]


def robustness_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Wide display: one row per pair x window, one ``CAR <model>`` column each (percent, marks)."""
    pairs = zip(tidy["car"], tidy["p_value"], strict=True)
    cell = tidy.assign(text=[format_marked(c, p, "signed_percent") for c, p in pairs])
    wide = cell.pivot_table(index=["event_id", "symbol", "window"], columns="model", values="text",
                            aggfunc="first", sort=False)
    wide = wide[list(dict.fromkeys(tidy["model"]))]
    dependent = tidy.groupby(["event_id", "symbol", "window"], sort=False)["model_dependent"].first()
    wide["depends on model"] = np.where(dependent.reindex(wide.index), "yes", "")
    wide.columns.name = None
    return wide.reset_index()
