"""Build resources/fonts/NotoSansCJKkr-Subset.ttf from Debian's fonts-noto-cjk (SIL Open Font License 1.1).

Run once by a developer (`python3 resources/packaging/make_cjk_font.py`, needs fonttools and the
fonts-noto-cjk package); the result is committed. The subset keeps every Hangul syllable and jamo, the kana,
the hanja of KS X 1001 and the kanji of JIS X 0208, Latin and general punctuation (about 19,800 characters,
8 MB instead of 19 MB), so Korean and Japanese product names render in the reports whatever fonts the machine
has. The CFF outlines are converted to TrueType (quadratic) ones: Qt's PDF writer embeds TrueType as
a CID font with a ToUnicode map, so the text stays searchable and extractable (pdftotext finds it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TARGET = Path(__file__).resolve().parents[1] / "fonts" / "NotoSansCJKkr-Subset.ttf"
KOREAN_FACE = "Noto Sans CJK KR"


def _ideographs_of(codec: str, leads: range) -> set[int]:
    """The CJK ideographs a legacy double-byte national character set holds (KS X 1001, JIS X 0208)."""
    found = set()
    for lead in leads:
        for trail in range(0xA1, 0xFF):
            try:
                char = bytes([lead, trail]).decode(codec)
            except UnicodeDecodeError:
                continue
            if 0x4E00 <= ord(char) <= 0x9FFF:
                found.add(ord(char))
    return found


def characters() -> set[int]:
    wanted = set(range(0x20, 0x7F)) | set(range(0xA0, 0x250)) | set(range(0x2000, 0x2070)) | set(range(0x2100, 0x2200))
    wanted |= set(range(0x1100, 0x1200)) | set(range(0x3130, 0x3190)) | set(range(0xAC00, 0xD7A4))  # Hangul
    wanted |= set(range(0x3000, 0x3100)) | set(range(0xFF00, 0xFFF0))  # CJK punctuation, kana, full width
    return wanted | _ideographs_of("euc_kr", range(0xA1, 0xFF)) | _ideographs_of("euc_jp", range(0xB0, 0xF5))


def _to_truetype(font: TTFont) -> None:
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
        "maxComponentDepth",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    font.sfntVersion = "\x00\x01\x00\x00"
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font["head"].glyphDataFormat = 0


def main() -> int:
    font = next(face for face in TTCollection(str(SOURCE)).fonts if face["name"].getDebugName(4) == KOREAN_FACE)
    options = subset.Options()
    options.layout_features, options.name_IDs = ["*"], ["*"]
    options.notdef_outline, options.desubroutinize, options.hinting = True, True, False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=characters())
    subsetter.subset(font)
    _to_truetype(font)
    font.save(str(TARGET))
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
