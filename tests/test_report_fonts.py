"""Charts draw Korean, Japanese, Chinese and emoji event names without missing-glyph warnings."""

from __future__ import annotations

import io
import warnings

import pytest

from backtest.report import charts
from backtest.report.fonts import BUNDLED, font_families

NAMES = "딥시크 충격 · ディープシーク · 深度求索 · 🚀📉"


def _draw(title: str) -> list[str]:
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure()
        fig.subplots().set_title(title)
        fig.savefig(io.BytesIO(), format="png")  # Agg lays out and rasterises every glyph
    return [str(w.message) for w in caught]


def test_default_font_alone_misses_the_glyphs():
    import matplotlib as mpl

    with mpl.rc_context({"font.family": ["DejaVu Sans"]}):
        assert any("missing from" in message for message in _draw(NAMES))


def test_chart_style_has_the_glyphs():
    assert font_families()[1:] == list(BUNDLED)  # both bundled fonts found
    with charts._style():
        assert _draw(NAMES) == []


@pytest.mark.parametrize(("family", "char"), [("Noto Sans CJK JP", "딥"), ("Noto Sans CJK JP", "デ"),
                                              ("Noto Sans CJK JP", "深"), ("Noto Emoji", "🚀")])
def test_bundled_fonts_hold_the_characters(family, char):
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font_families()
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert FT2Font(path).get_char_index(ord(char)) != 0
