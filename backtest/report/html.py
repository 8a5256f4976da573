"""One self-contained HTML report: opens offline, loads nothing, escapes every event text.

The page has no scripts, no external style sheets, fonts or images: charts are SVG
documents embedded as ``data:`` URIs and a Content-Security-Policy meta tag
(``default-src 'none'; img-src data:; style-src 'unsafe-inline'``) makes the browser
refuse any other load. Every string that comes from the events file (ids, names,
descriptions, source URLs) or from the settings passes through
:func:`html.escape`; an event source is a clickable link only when it is a plain
``http(s)`` URL (links are followed on click, never loaded with the page).

The header states what a reader needs to reproduce the numbers: data source, date
range, SHA-256 of the price data, events file and its SHA-256, package version and
every setting. There is no "generated at" time, so the same inputs give the same file.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from backtest.formatting import format_cell, format_percent
from backtest.report import charts, heatmap
from backtest.report.tables import Table, metric_label

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
NAV: tuple[tuple[str, str], ...] = (
    ("events", "Events"),
    ("alignment", "Alignment"),
    ("returns", "Returns"),
    ("reactions", "Reactions"),
    ("paths", "Price paths"),
    ("car", "CAR paths"),
    ("placebo", "Placebo"),
    ("recovery", "Recovery"),
    ("strategy", "Strategy"),
)
# What the heatmap's metric means, for its caption.
HEATMAP_NOTES: dict[str, str] = {
    "mean_excess_vs_buy_hold_traded": "excess = the strategy's total return minus buy-and-hold's over "
    "the same window, averaged over the event x symbol pairs where the rule traded (pairs where it "
    "never fired are left out; — = no pair traded)",
    "mean_excess_vs_buy_hold": "excess = the strategy's total return minus buy-and-hold's over the same "
    "window, averaged over every event x symbol",
    "mean_return": "total return of the strategy over each window, averaged over every event x symbol",
}
#: Tables with more columns than this get the compact "wide" style.
WIDE_COLUMNS = 9
_LINK_RE = re.compile(r"^https?://[^\s\"'<>`]+$")

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
margin:0 auto;max-width:1180px;padding:0 1.2rem 3rem;color:#1d2430;line-height:1.45}
h1{font-size:1.6rem;margin:1.4rem 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;
border-bottom:1px solid #d8dde6;padding-bottom:.2rem}
.lead{color:#4a5568;margin:.2rem 0 1rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0;word-break:break-all}
nav a{margin-right:.9rem}
table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0 .6rem;display:block;overflow-x:auto}
table.wide{font-size:.74rem}table.wide th{white-space:normal;vertical-align:bottom}
table.wide th,table.wide td{padding:.2rem .4rem}table.wide td{white-space:nowrap}
th,td{padding:.22rem .55rem;border-bottom:1px solid #e3e7ee;text-align:left;vertical-align:top}
th{background:#f3f5f9;font-weight:600;white-space:nowrap}td.num{text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}
.note{font-size:.8rem;color:#4a5568;margin:.1rem 0 1rem}
figure{margin:.6rem 0 1.4rem}figure img{max-width:100%;height:auto;display:block;border:1px solid #eef1f5}
figcaption{font-size:.8rem;color:#4a5568;margin-top:.3rem}
.warnings li{font-size:.85rem;color:#7a4b00}
details summary{cursor:pointer;font-weight:600;margin:.5rem 0}
code{font-size:.82rem}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def table_html(table: Table) -> str:
    """A :class:`Table` as an HTML table (every cell escaped)."""
    cells = table.formatted()
    head = "".join(f"<th>{_e(table.header(c))}</th>" for c in cells.columns)
    numeric = [table.is_numeric(c) for c in cells.columns]
    rows = []
    for values in cells.itertuples(index=False):
        tds = "".join(
            f'<td class="num">{_e(v)}</td>' if num else f"<td>{_e(v)}</td>"
            for v, num in zip(values, numeric, strict=True)
        )
        rows.append(f"<tr>{tds}</tr>")
    # many numeric columns (e.g. one per significance test): smaller type, wrapped headers, so the
    # table fits the page instead of scrolling sideways
    wide = ' class="wide"' if len(cells.columns) > WIDE_COLUMNS else ""
    parts = [f"<table{wide}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"]
    if table.note:
        parts.append(f'<p class="note">{_e(table.note)}</p>')
    return "\n".join(parts)


def figure_html(svg: str, alt: str, caption: str) -> str:
    """An SVG document embedded as a ``data:`` image with an escaped caption."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<figure><img class="chart" src="data:image/svg+xml;base64,{data}" alt="{_e(alt)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def source_link(url: object) -> str:
    """A link for a plain http(s) URL, escaped text for anything else.

    >>> source_link('https://example.com/a?b=1&c=2')
    '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">https://example.com/a?b=1&amp;c=2</a>'
    >>> source_link('javascript:alert(1)')
    'javascript:alert(1)'
    """
    text = "" if url is None or (isinstance(url, float) and pd.isna(url)) else str(url).strip()
    if _LINK_RE.match(text):
        return f'<a href="{_e(text)}" rel="noopener noreferrer nofollow">{_e(text)}</a>'
    return _e(text)


def _meta_list(items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f'<dl class="meta">{rows}</dl>'


def _setting_text(value: object) -> str:
    if value is None:
        return "default"
    if isinstance(value, dict):
        return "; ".join(f"{k} = {_setting_text(v)}" for k, v in value.items()) or "default"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, list | tuple) for v in value):
            return ", ".join("[" + ", ".join(_setting_text(i) for i in v) + "]" for v in value)
        return ", ".join(_setting_text(v) for v in value)
    return str(value)


def events_html(events: pd.DataFrame) -> str:
    """The events table: id, name, announcement, kind, description, source (all escaped)."""
    rows = []
    for _, event in events.iterrows():
        announced = pd.Timestamp(event["announced_at"])
        local = announced.tz_convert(str(event.get("timezone") or "UTC"))
        symbols = event.get("symbols") or ()
        rows.append(
            "<tr>"
            f"<td><code>{_e(event['event_id'])}</code></td>"
            f"<td>{_e(event['name'])}</td>"
            f"<td>{_e(format_cell(local, 'datetime'))}<br>"
            f"<small>{_e(format_cell(announced, 'datetime'))}</small></td>"
            f"<td>{_e(event['kind'])}</td>"
            f"<td>{_e(' '.join(symbols) or 'default targets')}</td>"
            f"<td>{_e(event.get('description') or '')}</td>"
            f"<td>{source_link(event.get('source'))}</td>"
            "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("id", "name", "announced", "kind", "symbols", "description", "source")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{_e(anchor)}"><h2>{_e(title)}</h2>\n' + "\n".join(parts) + "\n</section>"


def _placebo_parts(run: Any, fig: Any) -> list[str]:
    inference = getattr(run, "inference", None)
    if inference is None or inference.placebo.empty:
        return ['<p class="note">No placebo inference in this run.</p>']
    from backtest.study.inference_text import placebo_lines

    lines = "".join(f"<li>{_e(line.strip())}</li>" for line in placebo_lines(inference.placebo))
    return [fig("placebo", "placebo distribution of the day-0 CAAR with the event marked"),
            f"<ul>{lines}</ul>"]


def render_html(
    run: Any,
    tables: Mapping[str, Table],
    figures: Mapping[str, tuple[str, str]],
) -> str:
    """The report page for a :class:`~backtest.pipeline.RunResult`.

    ``tables``: display tables by name (``alignment``, ``reactions``, ``tests``,
    ``recovery``, ``strategy``); ``figures``: name -> (svg, caption) for
    ``price_paths``, ``car_paths``, ``recovery``, ``equity``, ``heatmap``; an empty svg
    means "no chart": its caption is shown as a one-line note instead.
    """
    prov = run.provenance
    settings = run.settings.to_dict()
    header = _meta_list(
        [
            ("Data source", prov.get("source", "")),
            ("Date range", " to ".join(prov.get("date_range", []))),
            ("Price data SHA-256", prov.get("price_sha256", "")),
            ("Symbols loaded", ", ".join(prov.get("symbols_loaded", []))),
            ("Events file", prov.get("events_file", "")),
            ("Events file SHA-256", prov.get("events_sha256", "")),
            ("Package version", f"backtest {prov.get('package_version', '')}"),
        ]
    )
    settings_list = _meta_list((key, _setting_text(settings[key])) for key in sorted(settings))
    grid_text = _setting_text(run.grid) if run.grid else "strategy defaults"
    nav = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in NAV)

    def fig(name: str, alt: str) -> str:
        svg, caption = figures[name]
        return figure_html(svg, alt, caption) if svg else f'<p class="note">{_e(caption)}</p>'

    body = [
        "<header>",
        "<h1>Market-event backtest report</h1>",
        '<p class="lead">Event study, recovery and strategy backtest around market events, '
        "each symbol against its own market benchmark and exchange calendar.</p>",
        header,
        f"<details open><summary>Settings (grid run: {_e(grid_text)})</summary>{settings_list}</details>",
        f"<nav>{nav}</nav>",
        "</header>",
    ]
    if run.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in run.warnings)
        body.append(_section("warnings", "Warnings", f'<ul class="warnings">{items}</ul>'))
    body += [
        _section("events", "Events", events_html(run.events)),
        _section("alignment", tables["alignment"].title, table_html(tables["alignment"])),
        _section(
            "returns",
            tables["raw_returns"].title,
            table_html(tables["raw_returns"]),
            f"<h3>{_e(tables['scoreboard'].title)}</h3>",
            table_html(tables["scoreboard"]),
        ),
        _section(
            "reactions",
            tables["reactions"].title,
            table_html(tables["reactions"]),
            table_html(tables["tests"]),
        ),
        _section("paths", "Price paths around each event", fig("price_paths", "rebased price paths")),
        _section("car", "Cumulative abnormal returns", fig("car_paths", "CAR paths with confidence bands"),
                 robustness_html(run.study)),
        _section("placebo", "How unusual was day 0? Placebo inference", *_placebo_parts(run, fig)),
        _section(
            "recovery",
            tables["recovery"].title,
            fig("recovery", "recovery chart"),
            table_html(tables["recovery"]),
            table_html(tables["recovery_summary"]),
        ),
        _section(
            "strategy",
            tables["strategy"].title,
            table_html(tables["strategy"]),
            fig("equity", "strategy equity curves against buy-and-hold"),
            fig("heatmap", "parameter grid heatmap"),
        ),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>backtest report</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def robustness_html(study: Any) -> str:
    """The headline CARs under each normal-return model (empty when the study has none)."""
    robust = getattr(study, "robustness", None)
    if robust is None:
        return ""
    from backtest.report.tables import generic_table
    from backtest.study.robustness import robustness_table

    wide = robustness_table(robust)
    table = generic_table("robustness", "CARs under each normal-return model", wide)
    note = ("Does the conclusion depend on the model? 'yes' where the CAR's sign or its 5 % "
            "significance differs across the models (the market model extrapolates the "
            "estimation window's intercept; market-adjusted assumes alpha 0, beta 1).")
    return f"<h3>{_e(table.title)}</h3>" + table_html(table) + f'<p class="note">{_e(note)}</p>'


def build_figures(run: Any) -> dict[str, tuple[str, str]]:
    """Render every chart of a run: name -> (svg, caption)."""
    names = run.event_names()
    symbols = list(dict.fromkeys(run.symbol_alignment["symbol"].astype(str)))
    study = run.study
    rec = run.recovery
    trade = run.trade
    figures = {
        "price_paths": (
            charts.price_paths_chart(rec.paths, names, symbols),
            "Close rebased to 100 at the pre-event close (day -1), one line per symbol; day 0 is "
            "each exchange's reaction session.",
        ),
        "car_paths": (
            charts.car_chart(study.abnormal_returns, names, symbols),
            "Cumulative abnormal return from the start of the event window, with a 95 % band: "
            "±1.96 standard errors of the CAR (the daily abnormal-return variances summed, "
            "abnormal returns taken as uncorrelated).",
        ),
        "recovery": (
            charts.recovery_chart(rec.table, names, int(run.settings.horizon), symbols),
            "Sessions after day 0 until the close is back at the pre-event close; hatched = not "
            "recovered within the data seen.",
        ),
    }
    inference = getattr(run, "inference", None)
    if inference is not None and not inference.placebo_draws.empty:
        from backtest.study.inference_text import placebo_figure

        ids = [e for e in names if e in set(inference.placebo_draws["event_id"])]
        figures["placebo"] = (
            charts.to_svg(placebo_figure(inference.placebo_draws, ids, "[0,0]")),
            "Day-0 CAAR of the same instruments on every eligible non-event date of their history "
            "(model re-fitted on each date's own estimation window; other events' windows left out); "
            "red: the event. Its rank among them is the placebo p-value, which needs no independence "
            "or normality across instruments.",
        )
    else:
        figures["placebo"] = ("", "No placebo inference in this run.")
    combo, label, why = _equity_combo(trade.aggregate, list(run.grid))
    equity = trade.equity if combo is None else trade.equity[trade.equity["combo"] == combo]
    figures["equity"] = (
        charts.equity_chart(equity, names, label, symbols),
        f"Strategy {run.settings.strategy} ({label}{why}) vs buy-and-hold from the same start, "
        "both rebased to 100.",
    )
    x, y, facets, metric = _heatmap_axes(trade.aggregate, list(run.grid))
    if len(trade.aggregate) < 2:
        reason = (
            "it takes no parameters"
            if len(trade.combos.columns) == 1
            else "give --grid with two or more values to compare parameters"
        )
        figures["heatmap"] = (
            "",
            f"No parameter heatmap: {run.settings.strategy} ran with one parameter combination ({reason}).",
        )
        return figures
    label = metric_label(metric)
    panels = f"; one panel per value of {', '.join(facets)}" if facets else ""
    figures["heatmap"] = (
        heatmap.heatmap_chart(trade.aggregate, x, y, metric, f"{label}, by parameter", facets),
        f"{label}, one cell per parameter combination"
        + ("" if y is not None else f" (one varying parameter: {x})")
        + panels
        + (f"; {HEATMAP_NOTES[metric]}" if metric in HEATMAP_NOTES else "")
        + ". In-sample: the best cell is not an out-of-sample forecast.",
    )
    return figures


#: The combination whose equity curves are drawn: the best by this aggregate column.
EQUITY_PICK = "mean_excess_vs_buy_hold_traded"


def _equity_combo(aggregate: pd.DataFrame, params: list[str]) -> tuple[object | None, str, str]:
    """(combo, label with its parameter values, why it was chosen) for the equity chart.

    The combination with the highest mean excess over buy-and-hold across the pairs where it
    traded (:data:`EQUITY_PICK`; the first in grid order on a tie); the first combination when
    none traded; ``None`` when there is nothing to choose from.
    """
    if "combo" not in aggregate or aggregate.empty:
        return None, "default parameters", ""
    why = ""
    position = 0
    if len(aggregate) > 1:
        scores = aggregate[EQUITY_PICK].astype(float) if EQUITY_PICK in aggregate else None
        if scores is not None and scores.notna().any():
            position = int(scores.fillna(-np.inf).to_numpy().argmax())  # first of equals
            why = (
                "; the combination with the highest mean excess vs buy-and-hold over traded pairs, "
                + format_percent(scores.iloc[position], digits=2, signed=True)
            )
        else:
            why = "; no combination traded, the first one is shown"
    row = aggregate.iloc[position]
    shown = [p for p in params if p in aggregate]
    if not shown:
        return row["combo"], "default parameters" if row["combo"] == "defaults" else f"{row['combo']}", why
    values = [row[p] for p in shown]
    label = ", ".join(f"{p} = {_param_text(v)}" for p, v in zip(shown, values, strict=True))
    return row["combo"], label, why


def _param_text(value: object) -> str:
    """A grid value as the user typed it: a missing optional parameter (NaN) is ``none``.

    >>> _param_text(float("nan")), _param_text(0.08), _param_text(5.0)
    ('none', '0.08', '5')
    """
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return "none"
    return f"{value:g}" if isinstance(value, float | int | np.number) else str(value)


def _heatmap_axes(aggregate: pd.DataFrame, grid_params: list[str]) -> tuple[str, str | None, list[str], str]:
    """(x, y, facets, metric): the first two varying grid parameters, the others as panels."""
    varying = [p for p in grid_params if p in aggregate and aggregate[p].nunique(dropna=False) > 1]
    params = varying or [p for p in grid_params if p in aggregate]
    metric = next(
        (
            m
            for m in (
                "mean_excess_vs_buy_hold_traded",
                "mean_excess_vs_buy_hold",
                "excess_vs_buy_hold",
                "mean_total_return",
                "total_return",
            )
            if m in aggregate
        ),
        next((c for c in aggregate.columns if "return" in c), ""),
    )
    x = params[0] if params else "combo"
    y = params[1] if len(params) > 1 else None
    return x, y, params[2:], metric
