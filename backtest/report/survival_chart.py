"""The Kaplan-Meier chart of recovery: share of paths back at the pre-event level by session.

One step line per path (price / abnormal) and direction (shock drawdowns, relief
give-backs), from :func:`backtest.recovery.survival.km_curves`; censored paths are in the
estimate (Kaplan & Meier 1958, JASA 53(282)), paths that never moved are not. Style as
:mod:`backtest.report.charts` (deterministic SVG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from backtest.report.charts import PALETTE, _empty, _figure, _style, _title, as_svg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: How each curve is told apart: colour by path, line style by direction (no two alike).
PATH_COLORS = {"price": PALETTE[0], "abnormal": PALETTE[1]}
DIRECTION_STYLES = {"drawdown": "-", "give_back": "--"}
DIRECTION_WORDS = {"drawdown": "shocks: back at the pre-event close", "give_back": "reliefs: jump given back"}


def curve_label(path: str, direction: str) -> str:
    """Legend text of one curve.

    >>> curve_label("price", "drawdown")
    'price path, shocks: back at the pre-event close'
    """
    return f"{path} path, {DIRECTION_WORDS.get(direction, direction)}"


def km_figure(curves: pd.DataFrame, horizon: int) -> Figure:
    """Kaplan-Meier share recovered (0-100 %) against sessions after day 0, one step line per group."""
    if curves.empty:
        return _empty("no path moved: nothing to recover from")
    from matplotlib.ticker import PercentFormatter

    with _style():
        fig, (ax,) = _figure(1, 1)
        for (path, direction), curve in curves.groupby(["path", "direction"], sort=True):
            ax.step(
                curve["day"], curve["share"], where="post", lw=1.4,
                color=PATH_COLORS.get(str(path), PALETTE[2]), ls=DIRECTION_STYLES.get(str(direction), ":"),
                label=curve_label(str(path), str(direction)),
            )  # fmt: skip
        ax.set_xlim(0, max(horizon, 1))
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("sessions after day 0")
        ax.set_ylabel("share recovered (Kaplan-Meier)")
        _title(ax, "Share of paths recovered, censoring included")
        ax.legend(loc="upper left")
        return fig


km_chart = as_svg(km_figure)
