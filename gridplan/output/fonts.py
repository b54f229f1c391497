"""A Chinese (CJK) font for matplotlib output: report charts and printed notice boards.

Matplotlib's default font has no Chinese glyphs and draws empty boxes ("tofu") instead. The
font is looked up among the fonts matplotlib knows, by family name first, then by file name;
nothing global is changed (callers pass the font to the texts they draw, or use it in a
``matplotlib.rc_context``).

Example
-------
>>> font = cjk_font()                                         # doctest: +SKIP
>>> font.get_name() if font else "none: " + CJK_FONT_ADVICE   # doctest: +SKIP
'WenQuanYi Zen Hei'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

__all__ = ["CJK_FONTS", "CJK_FONT_ADVICE", "cjk_font"]

#: Font families with Chinese glyphs, in order of preference.
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)

#: What to install when no Chinese font is found (said in every such message).
CJK_FONT_ADVICE = (
    "install a Chinese font: on Debian/Ubuntu `apt-get install fonts-wqy-zenhei` (or "
    "fonts-noto-cjk), on Fedora `dnf install wqy-zenhei-fonts`, on macOS and Windows one ships "
    "with the system; then remove matplotlib's font cache (~/.cache/matplotlib) so it is seen"
)

_FILE_HINTS = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "simhei", "msyh", "pingfang")


def cjk_font() -> FontProperties | None:
    """A FontProperties for a Chinese font on this machine, or ``None`` when there is none.

    Returns
    -------
    matplotlib.font_manager.FontProperties or None
        The first of :data:`CJK_FONTS` matplotlib knows, else the first system font whose file
        name looks like a CJK font; ``None`` when neither exists (see :data:`CJK_FONT_ADVICE`).
    """
    from matplotlib import font_manager

    known = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in known:
            return font_manager.FontProperties(fname=known[name])
    for path in sorted(font_manager.findSystemFonts()):
        if any(h in Path(path).name.lower().replace("-", "") for h in _FILE_HINTS):
            return font_manager.FontProperties(fname=path)
    return None
