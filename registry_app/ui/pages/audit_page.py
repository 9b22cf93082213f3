"""The audit trail page (issue 20.3): a readable, field-level history (when in the site's zone, who, action,
subject, field, before, after, reason) instead of raw JSON, a filter whose count says how many rows it keeps,
a fresh read each time the page is shown (sign-ins and exports are audited without changing anything, so the
window's change notification does not cover them), and "Verify the trail", which checks the hash chain off
the GUI thread and names the first broken entry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from ...services import RegistryError, ServiceContext
from ...services.audit import VerifyResult, verify_trail
from ...services.queries.audit_trail import audit_history
from ..ops import report_unexpected, runner_for
from .lists import ListPage

COLUMNS = [
    ("seq", "#"),
    ("when", "When"),
    ("who", "Who"),
    ("action", "Action"),
    ("subject", "Subject"),
    ("field", "Field"),
    ("before", "Before"),
    ("after", "After"),
    ("reason", "Reason"),
]
LIMIT = 1000  # newest entries read; each may give several rows (one per changed field)


def _rows(ctx: ServiceContext) -> list[dict[str, Any]]:
    return [asdict(row) for row in audit_history(ctx, limit=LIMIT)]


class AuditPage(ListPage):
    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, COLUMNS, lambda c, _t: _rows(c), "audit", parent)
        self.verify_result: VerifyResult | None = None
        self.filter.setPlaceholderText("Filter by user, action, lot, field or value")
        self.verify_button = self.add_button("&Verify the trail", self.verify, "auditVerify")
        self.verify_button.setToolTip(
            "Recompute the hash chain of every entry and name the first one that does "
            "not fit (altered, removed or inserted)"
        )
        self.verify_label = QLabel(objectName="auditVerifyResult")
        self.verify_label.setWordWrap(True)
        layout = self.layout()
        assert layout is not None  # ListPage's own
        layout.addWidget(self.verify_label)
        self._shown_once = False

    def showEvent(self, event: QShowEvent) -> None:
        # Shown again after other work: read the trail again (the first show follows the constructor's read).
        if self._shown_once:
            self.refresh()
        self._shown_once = True
        super().showEvent(event)

    def verify(self) -> None:
        ctx = self.ctx
        self.verify_label.setText("Verifying the audit trail…")
        runner_for(self).run(
            self,
            lambda _progress: verify_trail(ctx),
            self._verified,
            self._verify_failed,
            title="Verifying the audit trail",
            progress=True,
            busy=[self.verify_button],
        )

    def _verified(self, result: VerifyResult) -> None:
        self.verify_result = result
        if result.ok:
            self.verify_label.setText(f"✔ Intact: {result.entries_checked:,} entries, hash chain verified.")
        else:
            self.verify_label.setText(
                f"✘ Broken at entry {result.first_broken_seq}: {result.problem}. "
                "Entries before it are intact; keep the file and tell the administrator."
            )
        self.verify_label.setStyleSheet("" if result.ok else "color: #b00020; font-weight: bold")

    def _verify_failed(self, error: BaseException) -> None:
        if isinstance(error, RegistryError):
            self.verify_label.setText(error.message)
        else:
            report_unexpected(self, error)
