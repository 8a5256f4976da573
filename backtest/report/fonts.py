"""Fonts for charts: a fallback chain that has the glyphs of Korean, Japanese, Chinese and emoji.

Event names come from users in Seoul and Tokyo. Matplotlib's DejaVu Sans has no Hangul, kana,
Han or emoji, so every such name drew boxes and printed a missing-glyph warning per
character. Matplotlib (>= 3.6) falls back glyph by glyph along ``font.family``; the chain is
DejaVu Sans (Latin text unchanged), Noto Sans CJK (one OpenType collection for all of CJK,
from the ``noto-cjk-sans-otc`` package) and Noto Emoji (monochrome outlines, from
``manimgx-fonts``). Both ship as package data, so a fresh ``pip install`` has them; fonts
of the same names installed on the system serve as well.

>>> font_families()[0]
'DejaVu Sans'
"""

from __future__ import annotations

import functools
from importlib import resources

#: family name -> (package, file inside it)
BUNDLED = {
    "Noto Sans CJK JP": ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),
    "Noto Emoji": ("manimgx_fonts", "NotoEmoji[wght].ttf"),
}


@functools.cache
def font_families() -> list[str]:
    """``font.family`` for charts: DejaVu Sans, then the CJK and emoji fonts that could be found."""
    from matplotlib import font_manager

    known = {entry.name for entry in font_manager.fontManager.ttflist}
    chain = ["DejaVu Sans"]
    for family, (package, filename) in BUNDLED.items():
        if family not in known:
            try:
                font_manager.fontManager.addfont(str(resources.files(package).joinpath(filename)))
            except (ImportError, OSError, RuntimeError):  # not installed: the chain is shorter
                continue
        chain.append(family)
    return chain
