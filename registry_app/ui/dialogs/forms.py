"""Pieces every workflow dialog shares: vocabulary pickers, the error banner, keyboard wiring, role checks.

Dialogs never touch a session: they call services and show a RegistryError's message where the user is
looking (a banner at the top and a red outline on the field it names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QWidget,
)
from shiboken6 import isValid

from ...domain.vocab import label
from ...services import RegistryError, ServiceContext, ValidationError
from ..ops import Op, report_unexpected, runner_for
from ..style import mark_invalid, set_role
from .date_field import DateField

T = TypeVar("T")

# Ctrl+Return (and Ctrl+Enter on the keypad) saves in every dialog; Esc cancels (QDialog's own).
SAVE_SHORTCUTS = ("Ctrl+Return", "Ctrl+Enter")


def has_role(ctx: ServiceContext, roles: Iterable[str]) -> bool:
    return ctx.actor is not None and ctx.actor.role in set(roles)


def vocab_combo(vocab: type[StrEnum] | Sequence[str], *, empty: str | None = "— not recorded —") -> QComboBox:
    """A combo of vocabulary labels whose item data is the machine value; `empty` adds a None first item."""
    combo = QComboBox()
    if empty is not None:
        combo.addItem(empty, None)
    for value in (m.value for m in vocab) if isinstance(vocab, type) else vocab:
        combo.addItem(label(value), value)
    return combo


def set_combo_value(combo: QComboBox, value: Any) -> bool:
    index = combo.findData(value)
    if index < 0:
        return False
    combo.setCurrentIndex(index)
    return True


def checklist(values: Iterable[str]) -> QListWidget:
    """A keyboard-friendly multi-choice list (Space toggles the current item)."""
    widget = QListWidget()
    for value in values:
        item = QListWidgetItem(label(value))
        item.setData(Qt.ItemDataRole.UserRole, value)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        widget.addItem(item)
    widget.setMaximumHeight(110)
    return widget


def checked_values(widget: QListWidget) -> list[str]:
    return [
        widget.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.CheckState.Checked
    ]


def set_checked(widget: QListWidget, values: Iterable[str]) -> None:
    wanted = set(values)
    for i in range(widget.count()):
        item = widget.item(i)
        checked = item.data(Qt.ItemDataRole.UserRole) in wanted
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)


def optional_number(minimum: float, maximum: float, decimals: int = 1, suffix: str = "") -> QDoubleSpinBox:
    """A number box whose lowest value reads "not recorded" (spin boxes have no empty state)."""
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(minimum - 10 ** (-decimals), maximum)
    box.setSpecialValueText("not recorded")
    box.setValue(box.minimum())
    if suffix:
        box.setSuffix(suffix)
    return box


def number_or_none(box: QDoubleSpinBox) -> float | None:
    return None if box.value() == box.minimum() and box.specialValueText() else box.value()


def date_edit(value: date | None = None) -> DateField:
    """A required date, today unless given."""
    return DateField(value or date.today())


def optional_date_edit() -> DateField:
    """A date that may be left empty: "not recorded"."""
    return DateField(optional=True)


def date_or_none(edit: DateField) -> date | None:
    return edit.value()


def set_optional_date(edit: DateField, value: date | None) -> None:
    edit.setDate(value)


class ScanEdit(QLineEdit):
    """A field a barcode scanner types into. Its trailing Enter looks the scan up and stops there: it must
    never reach the dialog's default button and save a half-filled form."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            event.accept()


class ErrorBanner(QLabel):
    """Where a dialog says what went wrong, in words the user can act on; read by screen readers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setAccessibleName("Problems")
        self.hide()

    def show_error(self, text: str) -> None:
        set_role(self, "banner-error")
        self.setText(text)
        self.show()

    def show_warning(self, text: str) -> None:
        set_role(self, "banner-warning")
        self.setText(text)
        self.show()

    def clear_message(self) -> None:
        self.clear()
        self.hide()


def show_registry_error(banner: ErrorBanner, error: RegistryError, fields: dict[str, QWidget] | None = None) -> None:
    """Put the error in the banner and outline each field a ValidationError names."""
    fields = fields or {}
    for widget in fields.values():
        mark_invalid(widget, False)
    lines = [error.message]
    if isinstance(error, ValidationError):
        lines = [str(e) if e.field else e.message for e in error.errors]
        first: QWidget | None = None
        for problem in error.errors:
            widget = fields.get(problem.field)
            if widget is not None:
                mark_invalid(widget, True)
                widget.setToolTip(problem.message)
                first = first or widget
        if first is not None:
            first.setFocus()
    elif (widget := fields.get(getattr(error, "field", "") or "")) is not None:
        # A refusal that names its input (a duplicate name, a change an admin may not make to themself).
        mark_invalid(widget, True)
        widget.setToolTip(error.message)
        widget.setFocus()
    banner.show_error("\n".join(lines))


def attempt(banner: ErrorBanner, fn: Callable[[], T], fields: dict[str, QWidget] | None = None) -> T | None:
    """Run a service call; on an expected failure show it and return None (nothing was written)."""
    try:
        result = fn()
    except RegistryError as error:
        show_registry_error(banner, error, fields)
        return None
    banner.clear_message()
    return result


def attempt_op(
    widget: QWidget,
    banner: ErrorBanner,
    call: Callable[[], T],
    on_done: Callable[[T], None],
    fields: dict[str, QWidget] | None = None,
    *,
    busy: Iterable[QWidget] = (),
    on_refused: Callable[[RegistryError], None] | None = None,
    title: str = "",
) -> Op:
    """`attempt` through the widget's op runner: the service call runs off the GUI thread (a writer waiting for
    the database's lock must not freeze the window) while the `busy` buttons are disabled (no double submit).

    On success the banner clears and `on_done(result)` runs; on an expected failure the message shows beside
    the field as `attempt` does, then `on_refused(error)` (e.g. clear a password). What the user typed stays."""

    def failed(error: BaseException) -> None:
        if not isValid(banner):
            return
        if isinstance(error, RegistryError):
            show_registry_error(banner, error, fields)
            if on_refused is not None:
                on_refused(error)
        else:
            report_unexpected(widget, error)

    def done(result: T) -> None:
        if isValid(banner):
            banner.clear_message()
            on_done(result)

    return runner_for(widget).run(widget, lambda _progress: call(), done, failed, title=title, busy=busy)


def add_save_shortcut(dialog: QWidget, press: Callable[[], object]) -> None:
    """Ctrl+Return (and Ctrl+Enter) anywhere in the dialog runs `press`."""
    for sequence in SAVE_SHORTCUTS:
        shortcut = QShortcut(QKeySequence(sequence), dialog)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(press)


def wire_keyboard(dialog: QDialog, buttons: QDialogButtonBox, save: QAbstractButton | None = None) -> None:
    """Enter/Ctrl+Return press the save button, Esc cancels (QDialog's own), buttons show their mnemonics."""
    target = save or buttons.button(QDialogButtonBox.StandardButton.Ok)
    if target is None:
        return
    if hasattr(target, "setDefault"):
        target.setDefault(True)
    add_save_shortcut(dialog, lambda: target.click() if target.isEnabled() and target.isVisible() else None)
    target.setToolTip(f"{target.toolTip()} (Ctrl+Return)".strip())
