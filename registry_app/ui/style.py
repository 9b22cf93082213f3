"""The desktop's look from the packaged resources: the stylesheet, the application icon, the palette's colours.

Widgets ask for a look by a dynamic property (`set_role(label, "error")`, `mark_invalid(field, True)`) and
resources/style.qss says what each looks like, instead of a style sheet string per widget. The sheet is set
on the few widgets that take a role, not on the application: an application-wide sheet would put every
widget, the million-row lots table included, under Qt's slower style-sheet style.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QApplication, QWidget

from ..domain.palette import palette
from ..packaged import resource_files

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _resource(name: str) -> str:
    return str(resource_files().joinpath(name))


@cache
def stylesheet() -> str:
    return resource_files().joinpath("style.qss").read_text(encoding="utf-8")


def application_icon() -> QIcon:
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addFile(_resource(f"icons/registry-app-{size}.png"))
    return icon


def apply_application_style(app: QApplication) -> None:
    app.setWindowIcon(application_icon())


def _styled(widget: QWidget) -> None:
    if widget.styleSheet() != stylesheet():
        widget.setStyleSheet(stylesheet())
    # A dynamic property changes the look only once the widget is polished again.
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


def set_role(widget: QWidget, role: str) -> None:
    """Give `widget` the look resources/style.qss defines for [role="..."] (error, banner-error, title, card...)."""
    widget.setProperty("role", role)
    _styled(widget)


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    widget.setProperty("invalid", invalid)
    _styled(widget)


def severity_colour(severity: str | None) -> QColor:
    return QColor(palette().severity_colour(severity))


def severity_text_colour(severity: str | None) -> QColor:
    found = palette().severity.get(severity or "")
    return QColor(found.text if found else "#ffffff")


def state_colour(name: str) -> QColor:
    return QColor(palette().state[name])
