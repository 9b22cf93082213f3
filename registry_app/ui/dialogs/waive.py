"""Waiving one flag on one subject (medical director): the finding as worded now, a written reason and an
electronic signature. The waiver stays visible in reports; it ends by itself if the data changes so the rule
says something different.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ...domain.vocab import label
from ...services import ServiceContext
from ...services.catalogue import RULES, Flag
from ...services.context import DIRECTOR
from ...services.flags import waive_flag
from .forms import ErrorBanner, attempt_op, has_role, wire_keyboard
from .signature import SignaturePanel
from .undo import FormUndo


def describe_subject(flag: Flag) -> str:
    what = label(flag.subject_type).lower()
    where = ", ".join(x for x in (flag.product_name, f"lot {flag.lot_number}" if flag.lot_number else None) if x)
    return f"{what} {flag.subject_id}" + (f" ({where})" if where else "")


class WaiveDialog(QDialog):
    """`waiver_id` is set once the waiver is signed and saved."""

    def __init__(self, ctx: ServiceContext, flag: Flag, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.flag = flag
        self.waiver_id: int | None = None
        self.setWindowTitle(f"Waive {flag.code}")
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        title = RULES[flag.code].title if flag.code in RULES else flag.code
        heading = QLabel(
            f"<b>{flag.code}</b> — {title} ({flag.severity})<br>on {describe_subject(flag)}<br><br>{flag.message}"
        )
        heading.setWordWrap(True)
        layout.addWidget(heading)
        note = QLabel(
            "The waiver keeps the finding in reports, marked waived with your name, the time and the "
            "reason. If the record changes so the finding reads differently, it opens again."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.signature = SignaturePanel(ctx, "waived", needs_reason=True, reason_label="Reason for the waiver")
        layout.addWidget(self.signature)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.waive_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.waive_button.setText("&Sign and waive")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.waive_button)
        if flag.waived:
            self.waive_button.setEnabled(False)
            self.banner.show_warning("This finding is waived already.")
        elif not has_role(ctx, DIRECTOR):
            self.waive_button.setEnabled(False)
            self.banner.show_warning("Only a medical director may waive a finding.")
        self.undo = FormUndo(self)
        self.undo.watch(self.signature.reason_edit, "reason")
        self.signature.reason_edit.setFocus()

    def submit(self) -> None:
        missing = self.signature.missing()
        if missing:
            self.banner.show_error("\n".join(missing))
            return
        ctx, flag, reason, password = self.ctx, self.flag, self.signature.reason(), self.signature.password()
        attempt_op(
            self,
            self.banner,
            lambda: waive_flag(ctx, flag.code, flag.subject_type, flag.subject_id, reason, password),
            self._waived,
            {"reason": self.signature.reason_edit},
            busy=[self.buttons],
            on_refused=lambda _error: self.signature.clear_password(),
        )

    def _waived(self, waiver_id: int) -> None:
        self.waiver_id = waiver_id
        self.undo.clear()
        self.accept()
