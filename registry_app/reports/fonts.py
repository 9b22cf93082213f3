"""The fonts the reports embed, shipped in resources/fonts: DejaVu Sans (Latin, Greek, Cyrillic) and a subset
of Noto Sans CJK KR (Hangul, kana, common hanja and kanji), both registered with Qt from the package.

A report then renders a Korean product name ("엑소좀 앰플") as real, extractable text on any machine, not only
on one that happens to have a CJK font installed; QPdfWriter embeds just the glyphs used.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..packaged import resource_files

REPORT_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "NotoSansCJKkr-Subset.ttf")
# Qt looks for a glyph in each family in turn: Latin text in DejaVu, Korean and Japanese in Noto.
REPORT_FAMILIES = ("DejaVu Sans", "Noto Sans CJK KR")


@cache
def register_report_fonts() -> tuple[str, ...]:
    """Add the packaged fonts to Qt's font database once per process; the families that were added."""
    from PySide6.QtGui import QFontDatabase

    families: list[str] = []
    folder = resource_files().joinpath("fonts")
    for name in REPORT_FONT_FILES:
        data = folder.joinpath(name).read_bytes()
        font_id = QFontDatabase.addApplicationFontFromData(data)
        if font_id < 0:
            raise RuntimeError(f"the packaged font {name} could not be loaded")
        families.extend(QFontDatabase.applicationFontFamilies(font_id))
    return tuple(dict.fromkeys(families))


def report_font(point_size: float | None = None, pixel_size: int | None = None, bold: bool = False) -> Any:
    """A QFont over the report families (Any: this module's callers import Qt lazily too)."""
    from PySide6.QtGui import QFont

    register_report_fonts()
    font = QFont()
    font.setFamilies(list(REPORT_FAMILIES))
    if point_size is not None:
        font.setPointSizeF(point_size)
    if pixel_size is not None:
        font.setPixelSize(pixel_size)
    font.setBold(bold)
    return font
