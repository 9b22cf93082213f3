"""What every catalogue editor shares: a form row whose error message sits beside the field, the banner,
and the role check that disables what the signed-in role may not do (with a tooltip saying why)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import label
from ...services import RegistryError, ServiceContext, ValidationError
from ..dialogs.forms import ErrorBanner, attempt_op, has_role, show_registry_error, wire_keyboard
from ..dialogs.undo import FormUndo
from ..ops import report_unexpected
from ..style import mark_invalid, set_role


def refusal(ctx: ServiceContext, roles: Iterable[str], what: str) -> str | None:
    """Why the signed-in user may not `what` (for a disabled control's tooltip), or None if they may."""
    allowed = tuple(roles)
    if has_role(ctx, allowed):
        return None
    who = " or ".join(label(r).lower() for r in allowed)
    article = "an" if who[:1] in tuple("aeiou") else "a"
    current = f"signed in as {label(ctx.actor.role).lower()}" if ctx.actor else "not signed in"
    return f"Only {article} {who} may {what} (you are {current})."


def deny(widget: QWidget, why: str | None) -> None:
    """Disable `widget` with the reason as its tooltip when `why` is given."""
    if why:
        widget.setEnabled(False)
        widget.setToolTip(why)


class EditorDialog(QDialog):
    """A banner, a form whose rows carry their own error line, and Save / Cancel (Ctrl+Return saves).

    `fields` maps a service's field name (FieldError.field) to its widget: a refused save outlines the
    widget and writes the message under it, and the banner lists every problem. Nothing typed is cleared."""

    def __init__(self, ctx: ServiceContext, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(title)
        self.fields: dict[str, QWidget] = {}
        self.field_errors: dict[str, QLabel] = {}
        self.outer = QVBoxLayout(self)
        self.banner = ErrorBanner()
        self.outer.addWidget(self.banner)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button: QAbstractButton = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.undo: FormUndo | None = None

    def watch_for_undo(self, extra: dict[str, QWidget] | None = None) -> None:
        """Ctrl+Z walks back the user's edits across the fields (dialogs/undo.py), from the values loaded
        (called once they are in the form, so loading is not an edit to undo)."""
        if self.undo is not None:
            return
        self.undo = FormUndo(self)
        for field, widget in {**self.fields, **(extra or {})}.items():
            # An editable combo's typed text lives in its line edit, not in its current index.
            target = widget.lineEdit() if isinstance(widget, QComboBox) and widget.isEditable() else widget
            self.undo.watch(target, field.replace("_", " "))

    def loaded_into_form(self) -> None:
        """The loaded values are in the form: undo starts from them (filling the form is not an edit)."""
        self.watch_for_undo()
        if self.undo is not None:
            self.undo.clear()

    def _load_failed(self, error: BaseException) -> None:
        """The record could not be read: say why and allow no save over what was not shown."""
        if not isinstance(error, RegistryError):
            report_unexpected(self, error)
            return
        self.banner.show_error(error.message)
        deny(self.save_button, error.message)

    def saved_cleanly(self) -> None:
        """After a save: no error shown, and no undo into the values before it (an amendment corrects)."""
        self.clear_errors()
        if self.undo is not None:
            self.undo.clear()

    def finish_layout(self) -> None:
        """Add the buttons last (after the subclass's form) and wire the keyboard."""
        self.outer.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.save_button)

    def add_row(
        self, form: QFormLayout, title: str, widget: QWidget, field: str | None = None, extra: QWidget | None = None
    ) -> QLabel:
        """A form row: the widget (and `extra`, e.g. a New… button), its error message under it."""
        caption = QLabel(title)
        caption.setBuddy(widget)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(widget, 1)
        if extra is not None:
            line.addWidget(extra)
        column.addLayout(line)
        if field is not None:
            message = QLabel(objectName=f"error:{field}")
            message.setWordWrap(True)
            set_role(message, "error")
            message.hide()
            column.addWidget(message)
            self.fields[field] = widget
            self.field_errors[field] = message
        form.addRow(caption, holder)
        return caption

    def clear_errors(self) -> None:
        for field, message in self.field_errors.items():
            message.clear()
            message.hide()
            mark_invalid(self.fields[field], False)
        self.banner.clear_message()

    def show_error(self, error: RegistryError) -> None:
        """The banner lists every problem; each named field gets a red outline and its message under it."""
        self.clear_errors()
        show_registry_error(self.banner, error, self.fields)
        if isinstance(error, ValidationError):
            for field, message in self.field_errors.items():
                found = error.for_field(field)
                if found:
                    message.setText("\n".join(found))
                    message.show()
        elif (field := getattr(error, "field", "") or "") in self.field_errors:
            self.field_errors[field].setText(error.message)
            self.field_errors[field].show()

    def save_op(self, call: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        """Run the service off the GUI thread (forms.attempt_op) with Save disabled meanwhile."""
        attempt_op(
            self, self.banner, call, on_done, busy=[self.buttons], on_refused=self._refused, title=self.windowTitle()
        )

    def _refused(self, error: RegistryError) -> None:
        self.show_error(error)

    def submit(self) -> None:
        raise NotImplementedError
