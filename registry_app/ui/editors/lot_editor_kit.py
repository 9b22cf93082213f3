"""Small pieces the lot editors share (characterization, source, adverse events, excursions): a role gate
that disables what the role may not do and says why, a reason prompt, and opening a dialog non-modally."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import label
from ...services import ServiceContext
from ..dialogs.forms import ErrorBanner, attempt_op, has_role, wire_keyboard

D = TypeVar("D", bound=QDialog)


def who_may(roles: Iterable[str]) -> str:
    return " or ".join(label(r).lower() for r in roles)


def gate(ctx: ServiceContext, roles: Iterable[str], widgets: Iterable[QWidget], action: str) -> bool:
    """Disable `widgets` unless the signed-in role may `action` (the services' @changing roles), with a
    tooltip saying why, so nobody fills in a form that would be refused. Returns whether the role may."""
    roles = tuple(roles)
    allowed = has_role(ctx, roles)
    if not allowed:
        role = label(ctx.actor.role).lower() if ctx.actor else "not signed in"
        why = f"Only a {who_may(roles)} may {action} (you are signed in as {role})."
        for widget in widgets:
            widget.setEnabled(False)
            widget.setToolTip(why)
    return allowed


def notes_edit(placeholder: str, height: int = 80) -> QPlainTextEdit:
    """A few lines of free text in a form; Tab moves on to the next field rather than typing a tab."""
    edit = QPlainTextEdit()
    edit.setTabChangesFocus(True)
    edit.setMaximumHeight(height)
    edit.setPlaceholderText(placeholder)
    return edit


def save_cancel_buttons(
    dialog: QDialog, layout: QVBoxLayout, submit: Callable[[], object]
) -> tuple[QDialogButtonBox, Any]:
    """Save and Cancel at the foot of `layout`: Save (Enter, Ctrl+Return) runs `submit`, Cancel (Esc) rejects."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
    save = buttons.button(QDialogButtonBox.StandardButton.Save)
    buttons.accepted.connect(submit)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    wire_keyboard(dialog, buttons, save)
    return buttons, save


def show_dialog(dialog: D) -> D:
    """Open a dialog window-modally without a nested event loop (the op runner's callbacks stay simple)."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


class ReasonDialog(QDialog):
    """Asks for a written reason, then runs `call(reason)` through the op runner; stays open on refusal."""

    def __init__(self, title: str, prompt: str, call: Callable[[str], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._call = call
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        text = QLabel(prompt)
        text.setWordWrap(True)
        layout.addWidget(text)
        self.reason_edit = QPlainTextEdit(objectName="reason")
        self.reason_edit.setTabChangesFocus(True)
        self.reason_edit.setMaximumHeight(90)
        self.reason_edit.setAccessibleName("Reason")
        layout.addWidget(self.reason_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.ok_button)
        self.reason_edit.setFocus()

    def submit(self) -> None:
        reason = self.reason_edit.toPlainText().strip()
        call = self._call
        attempt_op(
            self,
            self.banner,
            lambda: call(reason),
            lambda _result: self.accept(),
            {"reason": self.reason_edit},
            busy=[self.buttons],
        )
