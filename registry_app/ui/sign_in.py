"""The sign-in dialog: the first thing the desktop shows on a registry with users."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from ..services import RegistryError, ServiceContext
from ..services.auth import sign_in
from ..services.demo.generate import demo_accounts
from .ops import report_unexpected, runner_for
from .style import set_role


class SignInDialog(QDialog):
    def __init__(self, ctx: ServiceContext, username: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Sign in — Exosome & PN lot registry")
        self.username = QLineEdit(username, objectName="username")
        self.password = QLineEdit(objectName="password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel(objectName="signInError")
        set_role(self.error, "error")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setText("&Sign in")
        buttons.accepted.connect(self.attempt)
        self.password.returnPressed.connect(self.attempt)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&User name", self.username)
        form.addRow("&Password", self.password)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Registry: {ctx.db.display_name}"))
        accounts = demo_accounts(ctx.db)
        if accounts:  # a demo registry: its documented accounts, so a first try needs no README
            self.demo_hint = QLabel(
                "This is a demo registry. Sign in as one of:\n"
                + "\n".join(
                    f"   {name}  /  {password}   ({role.replace('_', ' ')})" for name, role, password in accounts
                ),
                objectName="demoAccounts",
            )
            self.demo_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(self.demo_hint)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        (self.password if username else self.username).setFocus()

    def attempt(self) -> None:
        """Sign in through the op runner: signing in writes to the audit trail, which may wait for another
        window's write; Sign in stays disabled meanwhile (Enter in the password field is ignored too)."""
        if not self.sign_in_button.isEnabled():
            return
        ctx, username, password = self.ctx, self.username.text(), self.password.text()

        def refused(error: BaseException) -> None:
            if not isinstance(error, RegistryError):
                report_unexpected(self, error)
                return
            self.error.setText(str(error))
            self.password.clear()
            self.password.setFocus()

        runner_for(self).run(
            self,
            lambda _progress: sign_in(ctx, username, password),
            lambda _actor: self.accept(),
            refused,
            title="Signing in",
            busy=[self.sign_in_button],
        )
