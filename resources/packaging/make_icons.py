"""Render resources/icons/registry-app.svg to the PNG sizes, a Windows .ico and a macOS .icns.

Run by a developer after changing the SVG (`QT_QPA_PLATFORM=offscreen python3 resources/packaging/make_icons.py`,
needs Pillow); the results are committed so that neither a user's install nor the bundle build renders SVG.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QImage painting needs one)
    renderer = QSvgRenderer(str(ICONS / "registry-app.svg"))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(ICONS / f"registry-app-{size}.png"))
    largest = Image.open(ICONS / "registry-app-512.png")
    largest.save(ICONS / "registry-app.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    largest.save(ICONS / "registry-app.icns")
    print("\n".join(sorted(path.name for path in ICONS.iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
