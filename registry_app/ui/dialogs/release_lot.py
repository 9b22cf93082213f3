"""The lot decisions after receipt: release (medical director, electronic signature), reject or destroy (with
a reason). The lot's open findings are shown first, so the director signs knowing what is missing.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...domain.exact import quantity_text
from ...domain.vocab import DestroyReason, label
from ...services import RegistryError, ServiceContext
from ...services.context import DIRECTOR, STAFF
from ...services.receiving import LotInfo, destroy_lot, get_lot, reject_lot, release_lot
from .flag_list import FlagTable
from .flags_of import open_flags_of_lot
from .forms import ErrorBanner, attempt, attempt_op, has_role, vocab_combo, wire_keyboard
from .signature import SignaturePanel
from .undo import FormUndo


class _LotDecisionDialog(QDialog):
    """The lot heading, its findings, then the decision's own fields and one button."""

    title = ""
    button_text = ""
    roles: tuple[str, ...] = STAFF

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.done_ok = False
        self.setWindowTitle(self.title)
        self.resize(620, 520)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.findings = FlagTable()
        self.findings.setMaximumHeight(180)
        layout.addWidget(self.findings)
        self.lot: LotInfo | None = attempt(self.banner, lambda: get_lot(ctx, lot_id))
        if self.lot is not None:
            fields = self.lot.fields
            expiry = fields.get("expiry_date") or "no expiry recorded"
            self.heading.setText(
                f"<b>{self.lot.product_name}</b>, lot <b>{self.lot.lot_number}</b> — "
                f"{label(self.lot.status).lower()}, expiry {expiry}, "
                f"{quantity_text(self.lot.quantity_on_hand)} on hand")
            try:
                flags = open_flags_of_lot(ctx, lot_id, self.lot.product_id)
            except RegistryError as error:
                flags = []
                self.banner.show_error(error.message)
            self.findings.set_flags(flags)
            self.findings.setVisible(bool(flags))
        self.build(layout)
        # Undo (Ctrl+Z) for what is typed until the decision is saved; a signed decision is never undone.
        self.undo = FormUndo(self)
        for widget in self.findChildren(QPlainTextEdit) + self.findChildren(QComboBox):
            self.undo.watch(widget, widget.accessibleName() or "reason")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.action_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.action_button.setText(self.button_text)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.action_button)
        if not has_role(ctx, self.roles):
            self.action_button.setEnabled(False)
            who = " or ".join(label(r).lower() for r in self.roles)
            self.banner.show_warning(f"Only a {who} may do this.")
        elif self.lot is None:
            self.action_button.setEnabled(False)

    def build(self, layout: QVBoxLayout) -> None:
        raise NotImplementedError

    def submit(self) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        self.undo.clear()
        self.done_ok = True
        self.accept()


class ReleaseLotDialog(_LotDecisionDialog):
    title = "Release a lot"
    button_text = "&Sign and release"
    roles = DIRECTOR

    def build(self, layout: QVBoxLayout) -> None:
        note = ("Releasing makes the lot available for patients. Findings above stay open until resolved or "
                "waived.") if self.findings.rowCount() else "Releasing makes the lot available for patients."
        explanation = QLabel(note)
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        self.signature = SignaturePanel(self.ctx, "released", reason_label="Release note")
        layout.addWidget(self.signature)
        self.signature.password_edit.setFocus()
        self.signature_id: int | None = None

    def submit(self) -> None:
        missing = self.signature.missing()
        if missing:
            self.banner.show_error("\n".join(missing))
            return
        # Widgets are read here, on the GUI thread; the op's thread only calls the service.
        ctx, lot_id, password, note = self.ctx, self.lot_id, self.signature.password(), self.signature.reason() or None
        attempt_op(self, self.banner, lambda: release_lot(ctx, lot_id, password, note), self._released,
                   busy=[self.buttons], on_refused=lambda _error: self.signature.clear_password())

    def _released(self, signature_id: int) -> None:
        self.signature_id = signature_id
        self._finish()


class RejectLotDialog(_LotDecisionDialog):
    title = "Reject a lot"
    button_text = "&Reject lot"

    def build(self, layout: QVBoxLayout) -> None:
        form = QFormLayout()
        self.reason = QPlainTextEdit()
        self.reason.setTabChangesFocus(True)
        self.reason.setMaximumHeight(80)
        self.reason.setPlaceholderText("e.g. damaged on arrival, wrong product, documentation refused")
        title = QLabel("&Reason")
        title.setBuddy(self.reason)
        form.addRow(title, self.reason)
        layout.addLayout(form)
        self.reason.setFocus()

    def submit(self) -> None:
        text = self.reason.toPlainText().strip()
        if not text:
            self.banner.show_error("reason: say why the lot is rejected (it is kept in the lot's history)")
            self.reason.setFocus()
            return

        ctx, lot_id = self.ctx, self.lot_id
        attempt_op(self, self.banner, lambda: reject_lot(ctx, lot_id, text), lambda _result: self._finish(),
                   {"reason": self.reason}, busy=[self.buttons])


class DestroyLotDialog(_LotDecisionDialog):
    title = "Destroy a lot"
    button_text = "&Destroy what is on hand"

    def build(self, layout: QVBoxLayout) -> None:
        form = QFormLayout()
        self.reason = vocab_combo(DestroyReason, empty=None)
        title = QLabel("&Reason")
        title.setBuddy(self.reason)
        form.addRow(title, self.reason)
        self.note = QPlainTextEdit()
        self.note.setTabChangesFocus(True)
        self.note.setMaximumHeight(80)
        self.note.setPlaceholderText("Details (required when the reason is Other)")
        note_title = QLabel("&Note")
        note_title.setBuddy(self.note)
        form.addRow(note_title, self.note)
        layout.addLayout(form)
        self.reason.setFocus()
        self.destroyed_quantity: float | None = None

    def submit(self) -> None:
        ctx, lot_id, reason, note = self.ctx, self.lot_id, self.reason.currentData(), self.note.toPlainText().strip()
        attempt_op(self, self.banner, lambda: destroy_lot(ctx, lot_id, reason, note or None), self._destroyed,
                   {"reason": self.reason, "note": self.note}, busy=[self.buttons])

    def _destroyed(self, amount: float) -> None:
        self.destroyed_quantity = amount
        self._finish()
