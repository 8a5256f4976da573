"""One self-contained HTML report: opens offline, loads nothing, escapes every event text.

The layout is the Jinja2 template ``templates/report.html.j2`` (one block per section, the
navigation listing them all); this module prepares what it shows. The page has no scripts,
no external style sheets, fonts or images: charts are SVG documents embedded as ``data:``
URIs and a Content-Security-Policy meta tag (``default-src 'none'; img-src data:;
style-src 'unsafe-inline'``) makes the browser refuse any other load. Every string that
comes from the events file (ids, names, descriptions, source URLs) or from the settings is
escaped (the template autoescapes); an event source is a clickable link only when it is a plain
``http(s)`` URL (links are followed on click, never loaded with the page).

The settings section states what a reader needs to reproduce the numbers: data source, date
range, SHA-256 of the price data, events file and its SHA-256, package version and
every setting (folded, with the values that differ from the defaults named first). There is no
"generated at" time, so the same inputs give the same file.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from html import escape
from typing import Any

import pandas as pd
from markupsafe import Markup

from backtest.formatting import format_cell
from backtest.report import charts
from backtest.report.findings import holdout_sentence, key_findings
from backtest.report.tables import Table
from backtest.report.views import holdout_table

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
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
nav{margin:.4rem 0 .8rem;line-height:1.9}nav a{margin-right:.9rem;white-space:nowrap}
p.finding{margin:.35rem 0 .7rem;max-width:72rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
h4{font-size:.85rem;margin:.6rem 0 .2rem}details.values summary{font-weight:400;font-size:.85rem}
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


def table_view(table: Table, title: str = "") -> dict[str, Any]:
    """What the template's ``table`` macro shows: title, headers, rows of (text, numeric), note."""
    cells = table.formatted()
    numeric = [table.is_numeric(c) for c in cells.columns]
    rows = [list(zip(values, numeric, strict=True)) for values in cells.itertuples(index=False)]
    # many numeric columns (e.g. one per significance test): smaller type, wrapped headers, so the
    # table fits the page instead of scrolling sideways
    return {
        "title": title or table.title,
        "headers": [table.header(c) for c in cells.columns],
        "rows": rows,
        "note": table.note,
        "wide": len(cells.columns) > WIDE_COLUMNS,
        "id": "",
    }


def svg_uri(svg: str) -> str:
    """An SVG document as a ``data:`` URI (the only kind of image the page's CSP allows)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def source_link(url: object) -> Markup:
    """A link for a plain http(s) URL, escaped text for anything else.

    >>> str(source_link('https://example.com/a?b=1&c=2'))
    '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">https://example.com/a?b=1&amp;c=2</a>'
    >>> str(source_link('javascript:alert(1)'))
    'javascript:alert(1)'
    """
    text = "" if url is None or (isinstance(url, float) and pd.isna(url)) else str(url).strip()
    if _LINK_RE.match(text):
        return Markup(f'<a href="{_e(text)}" rel="noopener noreferrer nofollow">{_e(text)}</a>')
    return Markup(_e(text))


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


#: What a setting left at ``None`` means, in words (instead of "default").
NONE_MEANS: dict[str, str] = {
    "events": "./events.csv, else the packaged copy",
    "event_ids": "every event of the file",
    "symbols": "each event's own symbols, else NVDA 000660.KS 005930.KS 285A.T",
    "csv_dir": "none (not a csv source)",
    "cache_dir": "the user cache directory",
    "path": "none (not a parquet dataset source)",
    "closures": "the packaged closures.csv",
    "benchmarks": "the registry's market benchmark per symbol (SPY, ^KS11, ^N225)",
    "factors": "none",
    "grid": "the strategy's default grid",
}


def settings_items(settings: Mapping[str, object]) -> tuple[list[tuple[str, str]], list[str]]:
    """(every setting as (name, value in words), names of those that differ from the defaults)."""
    from backtest.pipeline import RunSettings

    defaults = RunSettings().to_dict()
    items, changed = [], []
    for key in sorted(settings):
        value = settings[key]
        text = NONE_MEANS.get(key, "default") if value is None else _setting_text(value)
        items.append((key, text))
        if value != defaults.get(key):
            changed.append(key)
    return items, changed


def events_rows(events: pd.DataFrame) -> list[dict[str, object]]:
    """The events table's rows: id, name, local and UTC announcement, kind, symbols, text, source."""
    rows = []
    for _, event in events.iterrows():
        announced = pd.Timestamp(event["announced_at"])
        local = announced.tz_convert(str(event.get("timezone") or "UTC"))
        symbols = event.get("symbols") or ()
        rows.append(
            {
                "id": event["event_id"],
                "name": event["name"],
                "local": format_cell(local, "datetime"),
                "utc": format_cell(announced, "datetime"),
                "kind": event["kind"],
                "symbols": ", ".join(charts.series_label(s) for s in symbols) or "default targets",
                "description": event.get("description") or "",
                "source": source_link(event.get("source")),
            }
        )
    return rows


@cache
def environment() -> Any:
    """The Jinja2 environment of the report's templates (autoescaping, strict about names)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("backtest.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt name in the template fails loudly, not as blank
        keep_trailing_newline=True,
    )


def _template() -> Any:
    return environment().get_template("report.html.j2")


def _placebo_lines(run: Any) -> list[str]:
    inference = getattr(run, "inference", None)
    if inference is None or inference.placebo.empty:
        return []
    from backtest.study.inference_text import placebo_lines

    return [line.strip() for line in placebo_lines(inference.placebo)]


def render_html(
    run: Any,
    tables: Mapping[str, Table],
    figures: Mapping[str, Mapping[str, Any]],
) -> str:
    """The report page for a :class:`~backtest.pipeline.RunResult` (template ``report.html.j2``).

    ``tables``: display tables by name (``alignment``, ``reactions``, ``tests``,
    ``recovery``, ``strategy``); ``figures``: name -> ``{"svg", "caption", "alt", "values"}``
    (:func:`build_figures`) for ``price_paths``, ``car_paths``, ``recovery``, ``survival``,
    ``equity``, ``heatmap``; an empty svg means "no chart": its caption is shown as a note.
    An svg may be a function that gives it: it is called once the rest of the page is made,
    the last chart first (a second process may still be drawing the first ones).
    """
    prov = run.provenance
    names = run.event_names()
    settings, changed = settings_items(run.settings.to_dict())
    views = {name: table_view(table) for name, table in tables.items()}
    robust = robustness_table(run.study)
    views["robustness"] = table_view(robust) if robust is not None else None
    holdout = run.trade.holdout
    views["holdout"] = table_view(holdout_table(holdout, names)) if len(holdout) else None
    drawing = {name: fig["svg"] for name, fig in figures.items() if callable(fig["svg"])}
    # where a chart still being drawn goes until it is: a token no text of the page can hold
    token = f"drawing-{secrets.token_hex(16)}-{{}}"
    figure_views = {
        name: {
            "svg_uri": token.format(name) if name in drawing else svg_uri(fig["svg"]) if fig["svg"] else "",
            "alt": fig["alt"],
            "caption": fig["caption"],
            "points": [table_view(t) for t in fig.get("values", ())],
            "points_id": f"values-{name}",
        }
        for name, fig in figures.items()
    }
    changed_text = ", ".join(f"{key} = {dict(settings)[key]}" for key in changed)
    context = {
        "csp": CSP,
        "style": Markup(STYLE),
        "lead": f"{len(names)} event{'s' if len(names) != 1 else ''}, "
        f"{run.symbol_alignment['symbol'].nunique()} symbols, each against its own market benchmark and "
        f"exchange calendar; {prov.get('source', '')} prices {' to '.join(prov.get('date_range', []))}; "
        f"strategy {run.settings.strategy}.",
        "findings": key_findings(run),
        "holdout_sentence": holdout_sentence(
            run.settings.strategy, run.trade.results, run.trade.aggregate, holdout
        ),
        "warnings": run.warnings,
        "placebo_lines": _placebo_lines(run),
        "events": events_rows(run.events),
        "tables": views,
        "figures": figure_views,
        "settings": settings,
        "changed_sentence": (
            f"Settings that differ from the defaults: {changed_text}." if changed
            else "Every setting is at its default (backtest run with no options)."
        ),
        "grid_text": _setting_text(run.grid) if run.grid else "strategy defaults",
        "provenance": [
            ("Data source", prov.get("source", "")),
            ("Date range", " to ".join(prov.get("date_range", []))),
            ("Price data SHA-256", prov.get("price_sha256", "")),
            ("Symbols loaded", ", ".join(prov.get("symbols_loaded", []))),
            ("Events file", prov.get("events_file", "")),
            ("Events file SHA-256", prov.get("events_sha256", "")),
            ("Package version", f"backtest {prov.get('package_version', '')}"),
        ],
    }
    page = _template().render(**context)
    for name, draw in reversed(drawing.items()):
        page = page.replace(token.format(name), svg_uri(draw()), 1)
    return page


def robustness_table(study: Any) -> Table | None:
    """The headline CARs under each normal-return model (None when the study has none)."""
    robust = getattr(study, "robustness", None)
    if robust is None:
        return None
    from backtest.report.tables import generic_table
    from backtest.study.robustness import robustness_table as wide_robustness

    table = generic_table("robustness", "CARs under each normal-return model", wide_robustness(robust))
    note = ("Does the conclusion depend on the model? 'yes' where the CAR's sign or its 5 % "
            "significance differs across the models (the market model extrapolates the "
            "estimation window's intercept; market-adjusted assumes alpha 0, beta 1).")
    return replace(table, note=note)
