"""The HTML report: event texts escaped, self-contained (nothing to load), header complete.

One small pipeline run per module (2 events x 2 symbols) whose events file carries
hostile text: a ``<script>`` name, markup in the description, a URL with quotes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from backtest import __version__
from backtest.pipeline import RunSettings, run_all
from backtest.report import write_report
from backtest.report.charts import price_paths_chart
from backtest.report.html import CSP, source_link

SCRIPT_NAME = "<script>alert(1)</script>"
HOSTILE_URL = 'https://example.com/a?q="><script>alert(2)</script>'
QUOTED_URL = HOSTILE_URL.replace('"', '""')  # CSV quoting
HOSTILE_DESCRIPTION = "<img src=x onerror=alert(3)> & <b>bold</b>"
REUTERS = "https://www.reuters.com/technology/deepseek-2025-01-27/"
EVENTS = (
    "event_id,name,announced_at,timezone,kind,description,source,symbols\n"
    f"deepseek_r1,DeepSeek R1 sell-off,2025-01-26T18:00:00-05:00,America/New_York,shock,R1,{REUTERS},\n"
    f"hostile,{SCRIPT_NAME},2025-04-02T16:00:00-04:00,America/New_York,shock,"
    f'"{HOSTILE_DESCRIPTION}","{QUOTED_URL}",\n'
)


class Collector(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, str]:
    base = tmp_path_factory.mktemp("html")
    events = base / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    run = run_all(RunSettings(events=str(events), symbols=("NVDA", "000660.KS"), grid=(("hold", (5, 10)),)))
    write_report(run, base / "out")
    return run, (base / "out" / "report.html").read_text(encoding="utf-8")


def test_event_texts_are_escaped(report: tuple[object, str]) -> None:
    _, page = report
    assert SCRIPT_NAME not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(3)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert re.search(r"<script", page, re.IGNORECASE) is None  # the page has no script at all
    tags = Collector()
    tags.feed(page)
    assert [t for t, _ in tags.tags if t in ("script", "iframe", "object", "embed", "link", "base")] == []
    assert all(not name.startswith("on") for _, attrs in tags.tags for name in attrs)


def test_nothing_is_loaded_from_outside(report: tuple[object, str]) -> None:
    _, page = report
    tags = Collector()
    tags.feed(page)
    sources = [attrs["src"] for _, attrs in tags.tags if "src" in attrs]
    assert len(sources) == 7  # price paths, CAR paths, placebo, recovery, Kaplan-Meier, equity, heatmap
    assert all(src.startswith("data:image/svg+xml;base64,") for src in sources)
    for attr in ("srcset", "poster", "data", "action", "formaction", "background"):
        assert all(attr not in attrs for _, attrs in tags.tags)
    links = [attrs.get("href") for tag, attrs in tags.tags if "href" in attrs]
    outside = [href for href in links if not href.startswith("#")]
    # the only outside links are the plain event source link, shown as <a> (followed on click, never loaded)
    assert outside == [REUTERS]
    assert all(tag == "a" for tag, attrs in tags.tags if attrs.get("href") in outside)
    css = "".join(tags.styles)
    assert "url(" not in css and "@import" not in css
    csp = [a for tag, a in tags.tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [{"http-equiv": "Content-Security-Policy", "content": CSP}]
    assert "default-src 'none'" in CSP and "img-src data:" in CSP


def test_hostile_source_url_is_text_not_a_link(report: tuple[object, str]) -> None:
    _, page = report
    assert "https://example.com/a?q=&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert 'href="https://example.com' not in page


def test_header_states_source_range_hash_version_and_every_setting(report: tuple[object, str]) -> None:
    run, page = report
    prov = run.provenance
    assert "snapshot" in page
    assert prov["price_sha256"] in page and re.fullmatch(r"[0-9a-f]{64}", prov["price_sha256"])
    first, last = prov["date_range"]
    assert f"{first} to {last}" in page
    # the run loads NVDA, 000660.KS and their benchmarks SPY, ^KS11; the snapshot starts 2024-01-02
    assert first == "2024-01-02" and prov["symbols_loaded"] == ["000660.KS", "NVDA", "SPY", "^KS11"]
    assert f"backtest {__version__}" in page
    for key in run.settings.to_dict():
        assert f"<dt>{key}</dt>" in page, key
    assert "hold = 5, 10" in page  # the grid that ran


def test_source_link_only_links_plain_http_urls() -> None:
    assert source_link("javascript:alert(1)") == "javascript:alert(1)"
    assert source_link("https://a.example/x?y=1&z=2").startswith('<a href="https://a.example/x?y=1&amp;z=2"')
    assert (
        source_link('https://a.example/"onmouseover=alert(1)')
        == "https://a.example/&quot;onmouseover=alert(1)"
    )
    assert source_link(float("nan")) == ""


def test_chart_titles_are_not_parsed_as_mathtext() -> None:
    # an unbalanced TeX group would make matplotlib's mathtext parser raise
    paths = pd.DataFrame({"event_id": ["e"] * 3, "symbol": ["X"] * 3, "rel_day": [-1, 0, 1],
                          "rebased": [100.0, 90.0, 95.0]})  # fmt: skip
    first = price_paths_chart(paths, {"e": r"Tariffs $\frac{1 costs $100bn"})
    second = price_paths_chart(paths, {"e": r"Tariffs $\frac{1 costs $100bn"})
    assert first.startswith("<?xml") and "<svg" in first
    assert first == second  # deterministic SVG: fixed hash salt, no date
    assert "<dc:date>" not in first


def test_report_file_written_next_to_the_tables(tmp_path: Path, report: tuple[object, str]) -> None:
    run, _ = report
    written = write_report(run, tmp_path / "again", html=True)
    names = {p.name for p in written}
    assert {"report.html", "results.json", "summary.md", "reactions.csv"} <= names
    for table in run.tables():
        assert {f"{table}.csv", f"{table}.md"} <= names


def _svg(page: str, alt: str) -> str:
    import base64

    found = re.search(rf'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="{alt}"', page)
    assert found is not None, alt
    return base64.b64decode(found.group(1)).decode("utf-8")


def test_heatmap_and_captions_use_human_labels_not_column_names(report: tuple[object, str]) -> None:
    _, page = report
    # the grid has one varying parameter (hold = 5, 10): the metric is the mean excess vs buy-and-hold
    # over all pairs (an untraded pair counts with minus buy-and-hold's return), not traded pairs only
    for raw in ("mean_excess_vs_buy_hold", "ar_se", "cross_sectional_t", "bmp_kp"):
        assert raw not in page, raw
    assert "<figcaption>Mean excess return vs buy-and-hold (per event x symbol), one cell per" in page
    assert "averaged over every event x symbol" in page
    heatmap = _svg(page, "parameter grid heatmap")
    assert "mean_excess" not in heatmap
    words = " ".join(re.findall(r">([^<>]+)</text>", heatmap))  # the title may wrap over two lines
    assert "Mean excess return vs buy-and-hold (per event x symbol), by parameter" in " ".join(words.split())
    # cell labels are signed percentages with one decimal
    cells = re.findall(r">([+-]?\d+\.\d %)<", heatmap)
    assert len(cells) == 2 and all(c[0] in "+-" or c == "0.0 %" for c in cells), cells
    assert "<th>cross-sectional t</th>" in page and "<th>BMP (Kolari-Pynnönen)</th>" in page


def test_heatmap_draws_one_panel_per_extra_parameter_instead_of_averaging() -> None:
    from backtest.report.heatmap import heatmap_chart

    # hold x threshold x stop; the (hold=1, threshold=0.05) cell is +10 % with stop=none and -10 %
    # with stop=0.08: averaging over stop would show 0.0 %, panels show both values.
    aggregate = pd.DataFrame(
        {
            "combo": ["a", "b", "c", "d"],
            "hold": [1, 1, 5, 5],
            "threshold": [0.05, 0.05, 0.05, 0.05],
            "stop": [float("nan"), 0.08, float("nan"), 0.08],
            "mean_excess_vs_buy_hold_traded": [0.10, -0.10, 0.02, -0.04],
        }
    )
    svg = heatmap_chart(aggregate, "hold", None, "mean_excess_vs_buy_hold_traded", "Excess", ["stop"])
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert "stop = none" in texts and "stop = 0.08" in texts  # one labelled panel per stop value
    for cell in ("+10.0 %", "-10.0 %", "+2.0 %", "-4.0 %"):
        assert cell in texts, cell
    assert "0.0 %" not in texts and "+3.0 %" not in texts  # no cell averaged over stop


def test_equity_chart_with_one_event_shows_the_in_sample_best_over_all_pairs_labelled_so() -> None:
    from backtest.report.figures import _equity_combo

    aggregate = pd.DataFrame(
        {
            "combo": ["hold=1 stop=none", "hold=5 stop=none", "hold=5 stop=0.08"],
            "hold": [1, 5, 5],
            "stop": [float("nan"), float("nan"), 0.08],
            "mean_excess_vs_buy_hold": [0.01, 0.03, float("nan")],
            "mean_excess_vs_buy_hold_traded": [0.01, 0.02, 0.5],  # a traded-only best is not chosen
        }
    )
    combo, label, why = _equity_combo(aggregate, ["hold", "stop"])
    assert combo == "hold=5 stop=none" and label == "hold = 5, stop = none"  # not "stop = nan"
    assert why.startswith("; in-sample: the combination with the highest mean excess vs buy-and-hold over")
    assert why.endswith("all pairs, +3.00 %")


def _section(page: str, anchor: str) -> str:
    found = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert found is not None, anchor
    return found.group(1)


def test_every_section_is_in_the_navigation_tests_and_kaplan_meier_included(report: tuple) -> None:
    _, page = report
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert nav is not None
    linked = re.findall(r'href="#([a-z_-]+)"', nav.group(1))
    sections = re.findall(r'<section id="([a-z_-]+)">', page)
    # the warnings section is linked from the findings
    assert set(sections) - {"warnings"} <= set(linked), set(sections) - set(linked)
    assert set(linked) <= set(sections)
    assert {"findings", "tests", "survival", "strategy", "settings"} <= set(sections)
    assert "<h2>Significance tests" in _section(page, "tests")
    # the page opens with the findings, before any table of numbers
    assert page.index('<section id="findings">') < page.index("<table")


def test_findings_name_each_events_largest_reaction_with_its_ar_and_p_value(report: tuple) -> None:
    run, page = report
    findings = _section(page, "findings")
    ar = run.study.abnormal_returns
    for event_id, name in run.event_names().items():
        day0 = ar[(ar["event_id"] == event_id) & (ar["rel_day"] == 0)].dropna(subset=["ar"])
        top = day0.loc[day0["ar"].abs().idxmax()]
        p = run.study.car.query("event_id == @event_id and symbol == @top.symbol and window == '[0,0]'")
        p_value = float(p["p_value"].iloc[0])
        # written out by hand: 2 decimals of percent with a sign, p with 3 decimals
        ar_text = f"{100 * top['ar']:+.2f} %"
        p_text = "p &lt; 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
        paragraph = re.search(rf"<strong>{re.escape(escape_html(name))} \(.*?</p>", findings, re.S)
        assert paragraph is not None, name
        assert ar_text in paragraph.group(0) and p_text in paragraph.group(0), (name, ar_text, p_text)
        assert "over all" in paragraph.group(0)  # what the strategy did over all pairs
    assert "SK Hynix (000660.KS)" in page and "NVIDIA Corporation (NVDA)" in page  # company names


def escape_html(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


def test_settings_folded_with_the_values_that_differ_from_the_defaults_named(report: tuple) -> None:
    _, page = report
    settings = _section(page, "settings")
    changed = re.search(r"<p>Settings that differ from the defaults: (.*?)\.</p>", settings)
    assert changed is not None
    names = [part.split(" = ")[0] for part in changed.group(1).split(", ") if " = " in part]
    # this run sets events, symbols and grid; everything else is at its default
    assert names == ["events", "grid", "symbols"], names
    assert "<details><summary>Every setting" in settings  # folded
    assert "<dd>default</dd>" not in settings  # a None setting says what it means


def test_the_values_behind_a_chart_are_readable_exactly(report: tuple[object, str]) -> None:
    run, page = report
    values = re.search(r'<details class="values" id="values-price_paths">(.*?)</details>', page, re.S)
    assert values is not None
    paths = run.recovery.paths
    row = paths[(paths["event_id"] == "deepseek_r1") & (paths["symbol"] == "NVDA") & (paths["rel_day"] == 0)]
    expected = f"{float(row['rebased'].iloc[0]):.2f}"  # rebased close on day 0, two decimals
    first_table = values.group(1).split("</table>")[0]
    day0 = re.search(r"<tr><td class=\"num\">0</td>(.*?)</tr>", first_table)
    assert day0 is not None and f">{expected}<" in day0.group(1)


def test_strategy_section_leads_with_all_pairs_and_leave_one_event_out(report: tuple[object, str]) -> None:
    run, page = report
    strategy = _section(page, "strategy")
    assert "Leave-one-event-out" in strategy
    assert strategy.index("Leave-one-event-out") < strategy.index("<th>parameters</th>")
    table = strategy.split("<h3>Every parameter")[1]
    headers = [" ".join(h.split()) for h in re.findall(r"<th>([^<]+)</th>", table)]
    assert headers.index("mean all pairs") < headers.index("mean traded")
    # the held-out figure: each event measured with the combo chosen on the other one (2 events)
    results = run.trade.results
    for event, other in (("deepseek_r1", "hostile"), ("hostile", "deepseek_r1")):
        other_rows = results[results["event_id"] == other]
        means = other_rows.groupby("combo", sort=False)["excess_vs_buy_hold"].mean()
        chosen = means.idxmax()
        held = results[(results["event_id"] == event) & (results["combo"] == chosen)]
        assert f"{100 * held['excess_vs_buy_hold'].mean():+.2f} %" in strategy


def test_no_two_series_share_colour_and_style() -> None:
    from backtest.report.charts import series_styles

    styles = series_styles([f"S{i}" for i in range(25)])
    keys = {(s["color"], s["marker"]) for s in styles.values()}
    assert len(keys) == 25


def test_results_have_short_reprs_and_summaries_as_text_and_escaped_html(report: tuple) -> None:
    run, _ = report
    assert repr(run).startswith("RunResult(events=2, symbols=2, model=market, strategy=buy_the_dip, combos=2")
    for result in (run, run.study, run.recovery, run.trade):
        assert len(repr(result)) < 200 and "\n" not in repr(result)
        summary = result.summary()
        text, html = str(summary), result._repr_html_()
        assert text == summary.as_text() and html == summary.as_html()
        assert max(len(line) for line in text.splitlines()) <= 100  # readable at COLUMNS=100
        assert "<table" in html and "<script" not in html
    # the hostile event name is escaped in the run's HTML summary (findings are notes there)
    assert SCRIPT_NAME not in run._repr_html_() and "&lt;script&gt;" in run._repr_html_()
    # the day-0 AR of NVDA in deepseek_r1, as a signed percent with two decimals (written out by hand)
    ar = run.study.abnormal_returns
    value = ar.query("event_id == 'deepseek_r1' and symbol == 'NVDA' and rel_day == 0")["ar"].item()
    assert f"{100 * value:+.2f} %" in str(run.study.summary())


def test_plot_returns_the_reports_charts_as_figures(report: tuple) -> None:
    from matplotlib.figure import Figure

    from backtest.errors import ParameterError
    from backtest.report.charts import _style, to_svg
    from backtest.report.figures import CHART_NAMES

    run, page = report
    alts = {"price_paths": "rebased price paths", "car_paths": "CAR paths with confidence bands",
            "survival": "Kaplan-Meier share recovered", "heatmap": "parameter grid heatmap"}  # fmt: skip
    for name, alt in alts.items():
        figure = run.plot(name)
        assert isinstance(figure, Figure)
        with _style():
            assert to_svg(figure) == _svg(page, alt), name  # byte for byte the report's chart
    assert set(alts) <= set(CHART_NAMES)
    assert isinstance(run.study.plot(), Figure) and isinstance(run.recovery.plot("survival"), Figure)
    assert isinstance(run.trade.plot("heatmap"), Figure)
    with pytest.raises(ParameterError, match="did you mean 'car_paths'"):
        run.plot("car_path")


def test_findings_word_recovery_in_the_recovery_vocabulary_without_contradictions() -> None:
    from backtest.report.findings import recovery_sentence

    # NVDA rose on day 0 and then fell 24.5 % (the case): not "back after 0 sessions"
    table = pd.DataFrame(
        {
            "event_id": ["e"] * 3, "symbol": ["NVDA", "MU", "AMD"], "path": ["price"] * 3,
            "direction": ["drawdown"] * 3, "measurable": [True] * 3, "moved": [True, True, False],
            "recovered": [True, True, True], "recovery_sessions": [0, 7, 0], "relapsed": [True, False, False],
            "recovered_after_trough": [False, True, True], "trough_censored_by": ["horizon", None, None],
            "censored_by": [None] * 3, "max_drawdown": [-0.245, -0.10, 0.0],
        }
    )  # fmt: skip
    text = recovery_sentence("e", table, 40)
    nvda = "NVIDIA Corporation (NVDA): fell after day 0, not recovered (horizon) (-24.5 % at the trough)"
    assert nvda in text
    assert "Micron Technology (MU): recovered (back after 7 sessions)" in text
    assert "Advanced Micro Devices (AMD): no move" in text and "after 0 sessions" not in text
    assert "within 40 sessions" in text


def test_charts_still_drawing_are_put_in_the_page_last_and_the_last_first(report: tuple) -> None:
    from backtest.report.figures import build_figures
    from backtest.report.html import render_html

    run, page = report
    figures = build_figures(run)
    asked = []

    def later(name: str, svg: str):
        def draw() -> str:
            asked.append(name)
            return svg
        return draw

    drawing = {name: dict(fig, svg=later(name, fig["svg"]) if fig["svg"] else "")
               for name, fig in figures.items()}
    # the same page, and each chart asked for once the page is made, the last first
    assert render_html(run, run.display_tables, drawing) == page
    assert render_html(run, run.display_tables, figures) == page
    assert asked == [name for name, fig in reversed(figures.items()) if fig["svg"]]
