"""Charts of a run as deterministic SVG text (matplotlib, imported lazily, no pyplot).

Each function takes tidy result frames and returns one SVG document (``str``) with one
panel per event (small multiples). Text stays text (``svg.fonttype = "none"``: smaller
and faster than glyph paths; XML-escaped by matplotlib), element ids come from a fixed
hash salt and the ``Date`` metadata is dropped, so the same inputs give the same bytes.
Event names are drawn with ``parse_math=False``: a ``$`` in a name is shown, not parsed
as mathtext.

The CAR band is ``car ± 1.96·sqrt(Σ ar_se²)`` over the event window so far, i.e. the
variance of a sum of uncorrelated abnormal returns (MacKinlay 1997, JEL 35(1), eq. 12
with the per-day AR variance); it is a display aid, the tests live in the event study.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from backtest.formatting import format_percent
from backtest.recovery.status import moved_later, recovery_status, timed

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# matplotlib's tab10, reordered so that the first four (the default targets) contrast most
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")  # fmt: skip
# After the ten colours, markers tell symbols apart: no two series share colour and style.
MARKERS = ("", "o", "s", "^", "D", "v", "P", "X")
HASH_SALT = "backtest-report"
PANEL_SIZE = (5.4, 3.0)


@contextmanager
def _style():
    import warnings

    import matplotlib as mpl

    from backtest.report.fonts import font_families

    with warnings.catch_warnings(), mpl.rc_context(
        {
            "font.family": font_families(),  # CJK and emoji names: glyphs, not boxes
            "svg.hashsalt": HASH_SALT,
            "svg.fonttype": "none",  # <text> elements: ~40 % smaller and faster than glyph paths
            "svg.id": None,
            "font.size": 8.5,
            "axes.titlesize": 9.5,
            # Titles at the axes' top: "auto" (None) measures every artist of the axes to lift the
            # title over top-side ticks these charts never have (a tenth of their drawing time).
            "axes.titley": 1.0,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.fontsize": 7.5,
            "legend.frameon": False,
        }
    ):
        # A character no font of the chain has (a rare script) still lays out; the SVG keeps it
        # as text (svg.fonttype none) for the browser's fonts to draw: not worth a warning each.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


# Fixed margins in inches instead of a layout engine: constrained layout draws every figure
# twice (once to measure, once to save), about half of the report's time. Sized for what these
# charts carry: tick labels of a few characters, a rotated y-label, a title of one line (two
# on the equity chart), an x-label; room to spare for a browser font a little wider than
# matplotlib's metrics (a y-label flush with the figure edge gets clipped).
MARGINS = {"left": 0.85, "right": 0.25, "top": 0.4, "bottom": 0.6, "wspace": 0.9, "hspace": 1.0}
TITLE_LINE = 0.18  # inches per extra title line
LEGEND_ROW = 0.24  # inches per row of the figure legend under the panels
LEGEND_COLUMNS = 4


def _figure(n_panels: int, ncols: int = 2) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, math.ceil(n_panels / ncols))
    fig = Figure(figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fit_margins(fig)
    return fig, axes[:n_panels]


def fit_margins(fig: Figure, *, legend_rows: int = 0, left: float | None = None) -> None:
    """Place the panels with :data:`MARGINS` (inches), growing the figure for a legend below.

    The panels keep their size: a wider ``left`` (long tick labels) widens each column, extra
    title lines (``"\\n"`` in a panel's title) the top margin and the gap between rows.
    """
    axes = [ax for ax in fig.axes if ax.get_visible()]
    nrows, ncols = axes[0].get_subplotspec().get_gridspec().get_geometry()
    lines = max((ax.get_title(loc="left").count("\n") + 1 for ax in axes), default=1)
    extra_title = (lines - 1) * TITLE_LINE
    extra_left = 0.0 if left is None else max(0.0, left - MARGINS["left"])
    left = MARGINS["left"] + extra_left
    wspace = MARGINS["wspace"] + extra_left  # each column's tick labels sit in the gap before it
    top = MARGINS["top"] + extra_title
    bottom = MARGINS["bottom"] + legend_rows * LEGEND_ROW
    hspace = MARGINS["hspace"] + extra_title
    width = (PANEL_SIZE[0] + extra_left) * ncols
    height = PANEL_SIZE[1] * nrows + legend_rows * LEGEND_ROW
    panel_w = (width - left - MARGINS["right"] - (ncols - 1) * wspace) / ncols
    panel_h = (PANEL_SIZE[1] * nrows - top - MARGINS["bottom"] - (nrows - 1) * hspace) / nrows
    fig.set_size_inches(width, height)
    fig.subplots_adjust(left=left / width, right=1 - MARGINS["right"] / width, top=1 - top / height,
                        bottom=bottom / height, wspace=wspace / panel_w, hspace=hspace / panel_h)


def text_inches(text: str, size: float = 8.5) -> float:
    """Width of ``text`` in inches at ``size`` points, estimated without drawing.

    About 0.6 em for a Latin character and 1 em for a wide (CJK) one: a margin sized by
    this holds the label in matplotlib's fonts and in a slightly wider browser font.

    >>> round(text_inches("SK Hynix (000660.KS)"), 2), round(text_inches("東京エレクトロン"), 2)
    (1.42, 0.94)
    """
    import unicodedata

    ems = sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text)
    return ems * size / 72


def to_svg(fig: Figure) -> str:
    """Render a figure to deterministic SVG text (no date metadata, salted ids)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def series_styles(symbols: Sequence[str]) -> dict[str, dict[str, object]]:
    """Symbol -> line style keywords (colour, marker), unique per symbol, in the given order.

    The first ten symbols get a colour each and no marker; later ones reuse the colours with
    a marker (every 5th point), so no two series of a chart share colour and style.

    >>> styles = series_styles([f"S{i}" for i in range(12)])
    >>> styles["S0"]["color"] == styles["S10"]["color"], styles["S0"]["marker"], styles["S10"]["marker"]
    (True, '', 'o')
    """
    out: dict[str, dict[str, object]] = {}
    for i, symbol in enumerate(dict.fromkeys(symbols)):
        marker = MARKERS[(i // len(PALETTE)) % len(MARKERS)]
        color = PALETTE[i % len(PALETTE)]
        out[symbol] = {"color": color, "marker": marker, "markevery": 5, "markersize": 3.5}
    return out


def _styles(frame: pd.DataFrame, order: Sequence[str]) -> dict[str, dict[str, object]]:
    """:func:`series_styles` of ``order`` then the frame's other symbols: the same style in every chart."""
    return series_styles([*order, *frame["symbol"].astype(str)])


def _colors(frame: pd.DataFrame, order: Sequence[str]) -> dict[str, str]:
    """Symbol -> colour, ``order`` first, so a symbol has the same colour in every chart."""
    return {symbol: str(style["color"]) for symbol, style in _styles(frame, order).items()}


def series_label(symbol: str) -> str:
    """A symbol as a reader knows it: ``'SK Hynix (000660.KS)'``; the ticker alone when unregistered.

    >>> series_label("000660.KS"), series_label("7203.T")
    ('SK Hynix (000660.KS)', '7203.T')
    """
    from backtest.instruments import display_name

    name = display_name(symbol)
    return f"{name} ({symbol})" if name else symbol


def _by_symbol(part: pd.DataFrame, colors: Mapping[str, object]) -> list[tuple[str, pd.DataFrame]]:
    """(symbol, rows sorted by rel_day) in colour order, skipping symbols without rows."""
    symbols = part["symbol"].astype(str)
    out = []
    for symbol in colors:
        rows = part[symbols == symbol]
        if len(rows):
            out.append((symbol, rows.sort_values("rel_day", kind="stable")))
    return out


def _figure_legend(
    fig: Figure,
    colors: Mapping[str, Mapping[str, object]],
    frame: pd.DataFrame,
    styles: Sequence[tuple[str, str]] = (),
) -> None:
    """One legend under all panels: company and ticker per symbol style, then line styles (black)."""
    from matplotlib.lines import Line2D

    present = set(frame["symbol"].astype(str))
    handles = [
        Line2D([], [], lw=1.5, label=series_label(s), **{k: v for k, v in st.items() if k != "markevery"})
        for s, st in colors.items()
        if s in present
    ]
    handles += [Line2D([], [], color="0.15", lw=1.2, ls=ls, label=label) for ls, label in styles]
    ncols = min(len(handles), LEGEND_COLUMNS)
    fit_margins(fig, legend_rows=math.ceil(len(handles) / max(ncols, 1)))
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.02), ncols=ncols)


def _title(ax: Axes, text: str) -> None:
    ax.set_title(text, loc="left", parse_math=False)


def _empty(message: str) -> Figure:
    with _style():
        fig, (ax,) = _figure(1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center", parse_math=False)
        return fig


def as_svg(figure: Callable[..., Figure]) -> Callable[..., str]:
    """The SVG-text version of a chart builder: the report embeds text, a notebook shows the figure."""

    @functools.wraps(figure)
    def chart(*args: Any, **kwargs: Any) -> str:
        with _style():  # the SVG settings (hash salt, text as text) apply when saving
            return to_svg(figure(*args, **kwargs))

    return chart


def _event_order(frame: pd.DataFrame, names: Mapping[str, str]) -> list[str]:
    present = set(frame["event_id"].astype(str))
    return [e for e in names if e in present] + sorted(present - set(names))


def price_paths_figure(paths: pd.DataFrame, names: Mapping[str, str], symbols: Sequence[str] = ()) -> Figure:
    """Rebased close around each event (pre-event close = 100), one line per symbol.

    ``paths``: tidy ``event_id, symbol, rel_day, rebased``; ``names``: event_id -> name
    (also fixes the panel order).
    """
    if paths.empty:
        return _empty("no price paths")
    colors = _styles(paths, symbols)
    events = _event_order(paths, names)
    with _style():
        fig, axes = _figure(len(events))
        for ax, event_id in zip(axes, events, strict=True):
            part = paths[paths["event_id"].astype(str) == event_id]
            for symbol, rows in _by_symbol(part, colors):
                ax.plot(rows["rel_day"], rows["rebased"], lw=1.3, label=symbol, **colors[symbol])
            ax.axhline(100.0, color="0.4", lw=0.8, ls="--")
            ax.axvline(0, color="0.4", lw=0.8, ls=":")
            _title(ax, names.get(event_id, event_id))
            ax.set_xlabel("sessions from reaction session (day 0)")
            ax.set_ylabel("close, pre-event close = 100")
        _figure_legend(fig, colors, paths)
        return fig


def car_band(abnormal_returns: pd.DataFrame, z: float = 1.96) -> pd.DataFrame:
    """CAR with a ±z band per event x symbol: adds ``car_lo``, ``car_hi`` (see module notes).

    >>> ar = pd.DataFrame({"event_id": ["e"] * 2, "symbol": ["X"] * 2, "rel_day": [0, 1],
    ...                    "car": [0.01, 0.03], "ar_se": [0.03, 0.04]})
    >>> car_band(ar, z=1.0)["car_hi"].round(4).tolist()   # 0.01+0.03, 0.03+sqrt(0.03²+0.04²)
    [0.04, 0.08]
    """
    frame = abnormal_returns.sort_values(["event_id", "symbol", "rel_day"], kind="stable").copy()
    variance = frame["ar_se"].astype(float) ** 2
    cum_var = variance.groupby([frame["event_id"], frame["symbol"]], sort=False).cumsum()
    half = z * np.sqrt(cum_var.to_numpy())
    frame["car_lo"] = frame["car"].to_numpy() - half
    frame["car_hi"] = frame["car"].to_numpy() + half
    return frame


def car_figure(
    abnormal_returns: pd.DataFrame, names: Mapping[str, str], symbols: Sequence[str] = ()
) -> Figure:
    """CAR path per event with a 95 % band, one line per symbol (fractions shown in %)."""
    if abnormal_returns.empty:
        return _empty("no abnormal returns")
    from matplotlib.ticker import PercentFormatter

    frame = car_band(abnormal_returns)
    colors = _styles(frame, symbols)
    events = _event_order(frame, names)
    with _style():
        fig, axes = _figure(len(events))
        for ax, event_id in zip(axes, events, strict=True):
            part = frame[frame["event_id"].astype(str) == event_id]
            for symbol, rows in _by_symbol(part, colors):
                ax.fill_between(
                    rows["rel_day"], rows["car_lo"], rows["car_hi"], color=colors[symbol]["color"],
                    alpha=0.12, lw=0,
                )  # fmt: skip
                ax.plot(rows["rel_day"], rows["car"], lw=1.3, label=str(symbol), **colors[symbol])
            ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
            ax.axvline(0, color="0.4", lw=0.8, ls=":")
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            _title(ax, names.get(event_id, event_id))
            ax.set_xlabel("sessions from reaction session (day 0)")
            ax.set_ylabel("CAR (95 % band)")
        _figure_legend(fig, colors, frame)
        return fig


def recovery_figure(
    table: pd.DataFrame, names: Mapping[str, str], horizon: int, symbols: Sequence[str] = ()
) -> Figure:
    """Sessions until the close is back at the pre-event close, per event x symbol.

    ``table``: ``RecoveryResult.table`` (rows with ``path == "price"`` are drawn).
    For a relief event (``direction == "give_back"``) "back" means the jump was given
    back. Hatched grey bars did not get back within the sessions seen (``last_rel_day``,
    at most ``horizon``); the label is the row's status (:mod:`backtest.recovery.status`)
    with the day it came back, and the largest move against the pre-event close.
    """
    rows = table[table["path"] == "price"] if "path" in table else table
    if rows.empty:
        return _empty("no recovery results")
    events = _event_order(rows, names)
    colors = _colors(rows, symbols)
    with _style():
        fig, axes = _figure(len(events))
        for ax, event_id in zip(axes, events, strict=True):
            part = rows[rows["event_id"].astype(str) == event_id]
            ordered = [r for _symbol, r in _by_symbol(part.assign(rel_day=0), colors)]
            part = pd.concat(ordered).reset_index(drop=True)
            labels = part["symbol"].astype(str).tolist()
            y = np.arange(len(part))
            for i, row in part.iterrows():
                width, style = _bar(row, horizon, colors[labels[i]])
                ax.barh(y[i], width, height=0.6, **style)
                ax.text(
                    0.6,
                    y[i],
                    _bar_label(row, horizon),
                    va="center",
                    ha="left",
                    fontsize=8.5,
                    parse_math=False,
                    bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.0},
                )
            ax.set_yticks(y, [series_label(label) for label in labels])
            ax.invert_yaxis()
            ax.set_xlim(0, max(horizon, 1))
            _title(ax, names.get(event_id, event_id))
            ax.set_xlabel("sessions after day 0 until back at the pre-event close (relief: jump given back)")
        longest = max((text_inches(t.get_text()) for ax in axes for t in ax.get_yticklabels()), default=0)
        fit_margins(fig, left=longest + 0.3)
        return fig


def _status(row: pd.Series) -> str:
    value = row.get("status")
    return value if isinstance(value, str) and value else recovery_status(row)


def _back_day(row: pd.Series) -> float | None:
    """Relative day the path came back (after its extreme when the move came after day 0); None if not."""
    status = _status(row)
    if moved_later(status):
        sessions = row.get("recovery_from_trough_sessions")
        if sessions is None or pd.isna(sessions):
            return None
        return float(row["trough_rel_day"]) + float(sessions)
    if status.startswith(("recovered", "given back")):
        return float(row["recovery_sessions"])
    return None


def _sessions_seen(row: pd.Series, horizon: int) -> int:
    value = row.get("last_rel_day")
    if value is not None and pd.notna(value):
        return int(max(0, min(float(value), horizon)))
    return int(horizon)


def _bar(row: pd.Series, horizon: int, color: str) -> tuple[float, dict[str, object]]:
    if not timed(_status(row)):
        return 0.0, {"color": color}
    back = _back_day(row)
    if back is not None:
        return back, {"color": color}
    return float(_sessions_seen(row, horizon)), {"color": "0.85", "edgecolor": "0.45", "hatch": "///"}


def _bar_label(row: pd.Series, horizon: int) -> str:
    """The row's status (the words of every output), then when it came back or how far it was seen."""
    text = _status(row)
    if not timed(text):
        return text
    back = _back_day(row)
    if back is not None:
        text += f" on day +{back:g}"
    else:
        text += f", {_sessions_seen(row, horizon)} sessions seen"
    move = row.get("max_drawdown")
    if move is not None and pd.notna(move):
        word = "largest run-up" if row.get("direction") == "give_back" else "max drawdown"
        text += f"  ({word} {format_percent(move, digits=1, signed=True)})"
    return text


def equity_figure(
    equity: pd.DataFrame,
    names: Mapping[str, str],
    combo_label: str | Mapping[str, str],
    symbols: Sequence[str] = (),
) -> Figure:
    """Strategy value (solid) vs buy-and-hold (dashed), each rebased to 100 at its first day.

    ``combo_label``: the parameters shown, one text for all panels or one per event_id.
    """
    if equity.empty:
        return _empty("no equity curves")
    colors = _styles(equity, symbols)
    events = _event_order(equity, names)
    with _style():
        fig, axes = _figure(len(events))
        for ax, event_id in zip(axes, events, strict=True):
            part = equity[equity["event_id"].astype(str) == event_id]
            for symbol, rows in _by_symbol(part, colors):
                for column, style, label in (
                    ("strategy_value", "-", f"{symbol} strategy"),
                    ("buy_hold_value", "--", f"{symbol} buy & hold"),
                ):
                    values = rows[column].astype(float).to_numpy()
                    first = values[np.isfinite(values)][:1]
                    if first.size and first[0] != 0:
                        ax.plot(
                            rows["rel_day"], values / first[0] * 100.0, ls=style, lw=1.2, label=label,
                            **colors[symbol],
                        )  # fmt: skip
            ax.axhline(100.0, color="0.4", lw=0.8, ls=":")
            label = combo_label if isinstance(combo_label, str) else combo_label.get(event_id, "")
            _title(ax, f"{names.get(event_id, event_id)}\n{label}")
            ax.set_xlabel("sessions from reaction session (day 0)")
            ax.set_ylabel("value, start = 100")
        styles = (("-", "strategy"), ("--", "buy & hold"))
        _figure_legend(fig, colors, equity, styles)
        return fig


price_paths_chart = as_svg(price_paths_figure)
car_chart = as_svg(car_figure)
recovery_chart = as_svg(recovery_figure)
equity_chart = as_svg(equity_figure)
