"""An electronic signature as 21 CFR 11 asks it: the signer's name, what the signature means, a reason where
one is needed, and the password typed again at each signing.

`SignaturePanel` sits inside a workflow dialog (release, waive, override) so the whole action is one screen;
`SignatureDialog` wraps it for callers that need a signature on its own.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...services import ServiceContext
from .forms import ErrorBanner, wire_keyboard

MEANING_TEXT = {
    "released": "I release this lot for use on patients.",
    "waived": "I accept this finding on this record, for the reason given.",
    "overridden": "I override this guard rail and take responsibility for this administration.",
    "approved": "I approve this record.",
    "recalled": "I recall this lot.",
    "rejected": "I reject this lot: it is never to be used.",
    "destroyed": "I destroy what is on hand of this lot.",
}


class SignaturePanel(QGroupBox):
    """Name (read-only), meaning, optional reason and password. `changed` fires as the user types."""

    changed = Signal()

    def __init__(
        self,
        ctx: ServiceContext,
        meaning: str,
        *,
        needs_reason: bool = False,
        reason_label: str = "Reason",
        show_reason: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        """`show_reason=False` for a dialog that asks its reason in its own fields (reject, destroy)."""
        super().__init__("Electronic signature", parent)
        self.meaning = meaning
        self.needs_reason = needs_reason
        layout = QFormLayout(self)
        signer = ctx.actor.display_name if ctx.actor else "(nobody signed in)"
        role = ctx.actor.role.replace("_", " ") if ctx.actor else ""
        self.signer_label = QLabel(f"<b>{signer}</b> ({role})")
        layout.addRow("Signed by", self.signer_label)
        self.meaning_label = QLabel(MEANING_TEXT.get(meaning, meaning))
        self.meaning_label.setWordWrap(True)
        layout.addRow("Meaning", self.meaning_label)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setTabChangesFocus(True)
        self.reason_edit.setPlaceholderText("Required" if needs_reason else "Optional")
        self.reason_edit.setMaximumHeight(70)
        self.reason_edit.setAccessibleName(reason_label)
        self.reason_edit.textChanged.connect(self.changed)
        reason_title = QLabel(f"&{reason_label}")
        reason_title.setBuddy(self.reason_edit)
        layout.addRow(reason_title, self.reason_edit)
        layout.setRowVisible(self.reason_edit, show_reason)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Your password")
        self.password_edit.setPlaceholderText("Type your password again to sign")
        self.password_edit.textChanged.connect(self.changed)
        password_title = QLabel("&Password")
        password_title.setBuddy(self.password_edit)
        layout.addRow(password_title, self.password_edit)

    def reason(self) -> str:
        return self.reason_edit.toPlainText().strip()

    def password(self) -> str:
        return self.password_edit.text()

    def is_complete(self) -> bool:
        return bool(self.password()) and (bool(self.reason()) or not self.needs_reason)

    def missing(self) -> list[str]:
        problems = []
        if self.needs_reason and not self.reason():
            problems.append("Reason: write the reason for signing (it is kept with the signature).")
        if not self.password():
            problems.append("Password: type your password again to sign.")
        return problems

    def clear_password(self) -> None:
        """After a failed attempt the password is never kept around."""
        self.password_edit.clear()
        self.password_edit.setFocus(Qt.FocusReason.OtherFocusReason)


class SignatureDialog(QDialog):
    """A signature on its own: open(), then read password() and reason() once accepted."""

    def __init__(
        self,
        ctx: ServiceContext,
        meaning: str,
        subject: str,
        *,
        needs_reason: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sign")
        layout = QVBoxLayout(self)
        subject_label = QLabel(subject)
        subject_label.setWordWrap(True)
        layout.addWidget(subject_label)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.panel = SignaturePanel(ctx, meaning, needs_reason=needs_reason)
        layout.addWidget(self.panel)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.sign_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_button.setText("&Sign")
        self.buttons.accepted.connect(self._sign)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.sign_button)
        self.panel.reason_edit.setFocus() if needs_reason else self.panel.password_edit.setFocus()

    def _sign(self) -> None:
        missing = self.panel.missing()
        if missing:
            self.banner.show_error("\n".join(missing))
            return
        self.accept()

    def password(self) -> str:
        return self.panel.password()

    def reason(self) -> str:
        return self.panel.reason()
