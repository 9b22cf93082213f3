"""The lot decisions after receipt: release (medical director), reject or destroy (with a reason), each with
an electronic signature (../shared/cli.md: the lot lifecycle is signed). The lot's open findings are shown
first, so the director signs knowing what is missing; each open critical or high finding has its own
acknowledgement box, and the release is signed only when every one is ticked (the service refuses otherwise
and records the acknowledged codes with the signature).

A decision the user cannot take (wrong role, or a lot already released, rejected or destroyed) has its button
disabled with the reason as tooltip and in the banner, before anyone types a password (issue 20.4).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...domain.exact import quantity_text
from ...domain.vocab import DestroyReason, label
from ...services import RegistryError, ServiceContext
from ...services.catalogue import RULES, Flag
from ...services.context import DIRECTOR, STAFF
from ...services.errors import AcknowledgementRequired
from ...services.lots.lifecycle import destroy_lot, findings_to_acknowledge, lifecycle_refusal, reject_lot, release_lot
from ...services.lots.receiving import LotInfo, get_lot
from ..wording import count_phrase
from .flag_list import FlagTable
from .flags_of import open_flags_of_lot
from .forms import ErrorBanner, attempt, attempt_op, has_role, vocab_combo, wire_keyboard
from .signature import SignaturePanel
from .undo import FormUndo


class _LotDecisionDialog(QDialog):
    """The lot heading, its findings, then the decision's own fields and one button."""

    title = ""
    button_text = ""
    action = ""  # release | reject | destroy: the lifecycle step, for the service's own refusal message
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
                f"{quantity_text(self.lot.quantity_on_hand)} on hand"
            )
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
        self.refusal = self._refusal()
        if self.refusal:
            self.banner.show_warning(self.refusal)
        self.update_action()

    def _refusal(self) -> str | None:
        """Why this user cannot take this decision on this lot at all, or None."""
        if not has_role(self.ctx, self.roles):
            who = " or ".join(label(r).lower() for r in self.roles)
            return f"Only a {who} may do this."
        if self.lot is None:
            return "The lot could not be read."
        refusal = lifecycle_refusal(self.action, self.lot.status, self.lot.lot_number)
        return refusal[:1].upper() + refusal[1:] + "." if refusal else None

    def blocker(self) -> str | None:
        """Why the button cannot be pressed yet (subclasses add what is still to do), or None."""
        return self.refusal

    def update_action(self) -> None:
        why = self.blocker()
        self.action_button.setEnabled(why is None)
        self.action_button.setToolTip(why or "")

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
    action = "release"
    roles = DIRECTOR

    def build(self, layout: QVBoxLayout) -> None:
        note = (
            ("Releasing makes the lot available for patients. Findings above stay open until resolved or waived.")
            if self.findings.rowCount()
            else "Releasing makes the lot available for patients."
        )
        explanation = QLabel(note)
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        self.acknowledge_box = QGroupBox("Acknowledge the open critical and high findings")
        self.acknowledge_layout = QVBoxLayout(self.acknowledge_box)
        self.acknowledge_checks: dict[str, QCheckBox] = {}
        layout.addWidget(self.acknowledge_box)
        self.signature = SignaturePanel(self.ctx, "released", reason_label="Release note")
        layout.addWidget(self.signature)
        self.signature.password_edit.setFocus()
        self.signature_id: int | None = None
        to_acknowledge = []
        if self.lot is not None:
            try:
                to_acknowledge = findings_to_acknowledge(self.ctx, self.lot_id)
            except RegistryError as error:
                self.banner.show_error(error.message)
        self._set_acknowledgements(to_acknowledge)

    def _set_acknowledgements(self, findings: list[Flag]) -> None:
        """One box per open critical or high finding code (the service checks codes), the message as text."""
        for check in self.acknowledge_checks.values():
            check.deleteLater()
        self.acknowledge_checks = {}
        for flag in findings:
            if flag.code in self.acknowledge_checks:
                continue
            # The rule's short title keeps the dialog narrow; the full message is in the table above and on hover.
            check = QCheckBox(f"I acknowledge {flag.code} ({flag.severity}): {RULES[flag.code].title}")
            check.setToolTip(flag.message)
            check.toggled.connect(lambda _on: self.update_action())
            self.acknowledge_layout.addWidget(check)
            self.acknowledge_checks[flag.code] = check
        self.acknowledge_box.setVisible(bool(self.acknowledge_checks))
        self.acknowledge_box.setTitle(
            f"Acknowledge the {count_phrase(len(self.acknowledge_checks), 'open critical or high finding')} "
            "(they stay open after the release)"
        )
        if hasattr(self, "action_button"):
            self.update_action()

    def acknowledged(self) -> list[str]:
        return [code for code, check in self.acknowledge_checks.items() if check.isChecked()]

    def blocker(self) -> str | None:
        if self.refusal:
            return self.refusal
        left = len(self.acknowledge_checks) - len(self.acknowledged())
        if left:
            return f"Tick the acknowledgement of {count_phrase(left, 'finding')} first."
        return None

    def submit(self) -> None:
        missing = self.signature.missing()
        if missing:
            self.banner.show_error("\n".join(missing))
            return
        # Widgets are read here, on the GUI thread; the op's thread only calls the service.
        ctx, lot_id, password, note = self.ctx, self.lot_id, self.signature.password(), self.signature.reason() or None
        acknowledged = self.acknowledged()
        attempt_op(
            self,
            self.banner,
            lambda: release_lot(ctx, lot_id, password, note, acknowledged),
            self._released,
            busy=[self.buttons],
            on_refused=self._refused,
        )

    def _refused(self, error: RegistryError) -> None:
        self.signature.clear_password()
        if isinstance(error, AcknowledgementRequired):
            # A finding appeared since the dialog opened: show the current list, to be acknowledged again.
            self._set_acknowledgements(findings_to_acknowledge(self.ctx, self.lot_id))

    def _released(self, signature_id: int) -> None:
        self.signature_id = signature_id
        self._finish()


class RejectLotDialog(_LotDecisionDialog):
    title = "Reject a lot"
    button_text = "&Reject lot"
    action = "reject"

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
        self.signature = SignaturePanel(self.ctx, "rejected", show_reason=False)
        layout.addWidget(self.signature)
        self.reason.setFocus()

    def submit(self) -> None:
        text = self.reason.toPlainText().strip()
        if not text:
            self.banner.show_error("Reason: say why the lot is rejected; the reason is kept in the lot's history.")
            self.reason.setFocus()
            return
        if missing := self.signature.missing():
            self.banner.show_error("\n".join(missing))
            return
        ctx, lot_id, password = self.ctx, self.lot_id, self.signature.password()
        attempt_op(
            self,
            self.banner,
            lambda: reject_lot(ctx, lot_id, text, password=password),
            lambda _result: self._finish(),
            {"reason": self.reason},
            busy=[self.buttons],
            on_refused=lambda _error: self.signature.clear_password(),
        )


class DestroyLotDialog(_LotDecisionDialog):
    title = "Destroy a lot"
    button_text = "&Destroy what is on hand"
    action = "destroy"

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
        self.signature = SignaturePanel(self.ctx, "destroyed", show_reason=False)
        layout.addWidget(self.signature)
        self.reason.setFocus()
        self.destroyed_quantity: float | None = None

    def submit(self) -> None:
        if missing := self.signature.missing():
            self.banner.show_error("\n".join(missing))
            return
        ctx, lot_id, reason, note = self.ctx, self.lot_id, self.reason.currentData(), self.note.toPlainText().strip()
        password = self.signature.password()
        attempt_op(
            self,
            self.banner,
            lambda: destroy_lot(ctx, lot_id, reason, note or None, password=password),
            self._destroyed,
            {"reason": self.reason, "note": self.note},
            busy=[self.buttons],
            on_refused=lambda _error: self.signature.clear_password(),
        )

    def _destroyed(self, amount: float) -> None:
        self.destroyed_quantity = amount
        self._finish()
