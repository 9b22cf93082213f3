"""Screenshots on a real X server: Xvfb started here, the window rendered through the xcb platform plugin,
PNGs kept in REGISTRY_SCREENSHOT_DIR (default artifacts/screenshots), and checked to hold rendered text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.xvfb

ROOT = Path(__file__).resolve().parents[2]
XVFB = shutil.which("Xvfb") or "/usr/bin/Xvfb"


def _free_display() -> int:
    for number in range(91, 140):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    number = _free_display()
    server = subprocess.Popen(
        [XVFB, f":{number}", "-screen", "0", "1680x1050x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert server.poll() is None, "Xvfb exited"
        assert time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(10)


def _shots_dir() -> Path:
    return Path(os.environ.get("REGISTRY_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))


def _text_pixels(image: QImage, top: int, height: int, left: int = 0, width: int | None = None) -> tuple[int, int]:
    """(distinct colours, dark pixels) in a band: glyphs are dark and anti-aliased into many grey levels."""
    colours: set[int] = set()
    dark = 0
    right = image.width() if width is None else left + width
    for y in range(top, min(top + height, image.height())):
        for x in range(left, min(right, image.width()), 2):
            pixel = image.pixel(x, y)
            colours.add(pixel)
            red, green, blue = (pixel >> 16) & 255, (pixel >> 8) & 255, pixel & 255
            if red + green + blue < 200:
                dark += 1
    return len(colours), dark


def test_main_window_and_lot_record_render_real_text(display: str) -> None:
    out = _shots_dir()
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "tests.ui.screens", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "platform=xcb" in run.stdout, run.stdout
    for name in ("main-window.png", "lot-record.png", "dashboard.png"):
        image = QImage(str(out / name))
        assert not image.isNull() and image.width() >= 1000 and image.height() >= 600, name
        colours, dark = _text_pixels(image, 0, image.height())
        assert colours > 40 and dark > 500, f"{name} looks blank ({colours} colours, {dark} dark pixels)"
        # The navigation list holds the page names: rendered glyphs give dark, anti-aliased pixels there,
        # boxes (no font) give few colours and solid outlines.
        nav_colours, nav_dark = _text_pixels(image, 60, 300, 0, 180)
        assert nav_colours > 10 and 50 < nav_dark < 180 * 300 // 4, (name, nav_colours, nav_dark)
    # Issue 20: the dashboard, the lot record and the audit trail at the smallest and a large window size.
    for width, height in ((1024, 700), (1600, 1000)):
        for page in ("dashboard", "lot-record", "audit-trail"):
            name = f"{page}-{width}x{height}.png"
            image = QImage(str(out / name))
            assert not image.isNull() and (image.width(), image.height()) == (width, height), (name, image.size())
            colours, dark = _text_pixels(image, 0, image.height())
            assert colours > 40 and dark > 500, f"{name} looks blank ({colours} colours, {dark} dark pixels)"
            nav_colours, nav_dark = _text_pixels(image, 60, 300, 0, 180)
            assert nav_colours > 10 and nav_dark > 50, (name, nav_colours, nav_dark)
    # The lot editors (dialogs, smaller than the window) and the Flags page with Fix….
    for name in (
        "characterization.png",
        "lot-source.png",
        "adverse-event.png",
        "excursion.png",
        "excursion-resolve.png",
        "flags-fix.png",
    ):
        image = QImage(str(out / name))
        assert not image.isNull() and image.width() >= 400 and image.height() >= 250, name


def test_catalogue_editors_render_real_text(display: str) -> None:
    """screens.py also saves the catalogue, site and users editors (issue 19); run after the test above wrote
    them."""
    out = _shots_dir()
    if not (out / "product-editor.png").exists():
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-m", "tests.ui.screens", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-3000:]
    for name in ("product-editor.png", "regulatory-status.png", "site-settings.png", "users.png"):
        image = QImage(str(out / name))
        assert not image.isNull() and image.width() >= 400 and image.height() >= 200, name
        colours, dark = _text_pixels(image, 0, image.height())
        assert colours > 40 and dark > 300, f"{name} looks blank ({colours} colours, {dark} dark pixels)"
