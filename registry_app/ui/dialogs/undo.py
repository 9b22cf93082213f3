"""Undo and redo for a form's edits until it is saved or signed (QUndoStack).

A `FormUndo` watches the fields of one dialog: each change becomes a command holding the field's value
before and after, so Ctrl+Z walks back through the user's edits in order across fields (a line edit's own
undo only knows itself). Typing in one field merges into one command. Values filled in together (a barcode
scan) are one macro, so one Ctrl+Z takes the whole scan back. Once the record is saved or signed the stack
is cleared: a signed record is corrected by an amendment with a reason, never by undo.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDoubleSpinBox,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

_MERGE_ID = 0x5EED


def read_value(widget: QWidget) -> Any:
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    if isinstance(widget, QComboBox):
        return widget.currentIndex()
    if isinstance(widget, QDateTimeEdit):
        return widget.dateTime().toMSecsSinceEpoch()
    if isinstance(widget, QDoubleSpinBox | QSpinBox):
        return widget.value()
    if isinstance(widget, QCheckBox):
        return widget.checkState().value
    if isinstance(widget, QListWidget):
        return tuple(widget.item(i).checkState().value for i in range(widget.count()))
    raise TypeError(f"no undo support for {type(widget).__name__}")


def write_value(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QLineEdit):
        widget.setText(value)
    elif isinstance(widget, QPlainTextEdit):
        widget.setPlainText(value)
    elif isinstance(widget, QComboBox):
        widget.setCurrentIndex(value)
    elif isinstance(widget, QDateTimeEdit):
        widget.setDateTime(QDateTime.fromMSecsSinceEpoch(value))
    elif isinstance(widget, QDoubleSpinBox | QSpinBox):
        widget.setValue(value)
    elif isinstance(widget, QCheckBox):
        widget.setCheckState(Qt.CheckState(value))
    elif isinstance(widget, QListWidget):
        for i, state in enumerate(value):
            widget.item(i).setCheckState(Qt.CheckState(state))


class FieldEdit(QUndoCommand):
    """One field going from one value to another."""

    def __init__(self, form: FormUndo, widget: QWidget, name: str, before: Any, after: Any) -> None:
        super().__init__(f"edit {name}")
        self.form, self.widget, self.before, self.after = form, widget, before, after
        self._first_redo = True

    def id(self) -> int:
        # Only free-text typing merges: each combo or checkbox change is its own step.
        return _MERGE_ID if isinstance(self.widget, QLineEdit | QPlainTextEdit) else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, FieldEdit) or other.widget is not self.widget:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        if self._first_redo:  # the user already made this edit; pushing must not re-apply it
            self._first_redo = False
            return
        self.form.apply(self.widget, self.after)

    def undo(self) -> None:
        self.form.apply(self.widget, self.before)


class FormUndo(QObject):
    """The undo history of one form. `watch(widget, name)` each field; `clear()` once saved or signed."""

    def __init__(self, owner: QWidget) -> None:
        super().__init__(owner)
        self.stack = QUndoStack(self)
        self._values: dict[int, Any] = {}
        self._names: dict[int, str] = {}
        self._applying = False
        self.undo_action = self.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            owner.addAction(action)

    def watch(self, widget: QWidget, name: str) -> None:
        self._values[id(widget)] = read_value(widget)
        self._names[id(widget)] = name
        signal = {
            QLineEdit: "textChanged",
            QPlainTextEdit: "textChanged",
            QComboBox: "currentIndexChanged",
            QDateTimeEdit: "dateTimeChanged",
            QDoubleSpinBox: "valueChanged",
            QSpinBox: "valueChanged",
            QCheckBox: "checkStateChanged",
            QListWidget: "itemChanged",
        }
        for kind, name_of_signal in signal.items():
            if isinstance(widget, kind):
                getattr(widget, name_of_signal).connect(lambda *_, w=widget: self._changed(w))
                break
        if isinstance(widget, QLineEdit | QPlainTextEdit | QAbstractSpinBox):
            # Their own Ctrl+Z would undo only inside the field; the form's history goes first.
            widget.installEventFilter(self)

    def _changed(self, widget: QWidget) -> None:
        if self._applying:
            return
        key = id(widget)
        before, after = self._values.get(key), read_value(widget)
        if before == after:
            return
        self._values[key] = after
        self.stack.push(FieldEdit(self, widget, self._names.get(key, "field"), before, after))

    def apply(self, widget: QWidget, value: Any) -> None:
        self._applying = True
        try:
            write_value(widget, value)
            self._values[id(widget)] = value
        finally:
            self._applying = False

    @contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Changes made inside are one step of undo (a scan filling four fields)."""
        self.stack.beginMacro(text)
        try:
            yield
        finally:
            self.stack.endMacro()

    def clear(self) -> None:
        self.stack.clear()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and isinstance(event, QKeyEvent):
            for sequence, run in (
                (QKeySequence.StandardKey.Undo, self.stack.undo),
                (QKeySequence.StandardKey.Redo, self.stack.redo),
            ):
                if event.matches(sequence):
                    if event.type() == QEvent.Type.KeyPress:
                        run()
                    event.accept()
                    return True
        return super().eventFilter(watched, event)
