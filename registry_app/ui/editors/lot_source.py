"""Source and donor eligibility of one lot (UNDOC-DONOR): the product's biological source as recorded, the
donor use (autologous lots need no donor eligibility), the lot's donor-eligibility reference, and the donor
records attached to the lot. Saving goes through services.lots.donor.record_donor_eligibility with a reason;
a document through services.lots.documents.attach_document (kind donor_eligibility).

Open it with `open_lot_source(parent, ctx, lot_id)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import DonorUse, label
from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.lots.documents import attach_document
from ...services.lots.donor import record_donor_eligibility
from ...services.queries.lot_record import LotDetail, lot_detail
from ..dialogs.documents import DOCUMENT_FILTER
from ..dialogs.forms import ErrorBanner, attempt_op, set_combo_value, vocab_combo, wire_keyboard
from ..ops import report_unexpected, runner_for
from .lot_editor_kit import gate, show_dialog

SOURCE_ROWS = (
    ("manufacturer", "Manufacturer"),
    ("biological_source", "Biological source"),
    ("source_description", "Source description"),
    ("human_derived", "Human-derived"),
    ("isolation_method", "Isolation method"),
    ("pn_species", "Source species"),
)


def _shown(key: str, value: Any) -> str:
    if key == "human_derived":
        return {True: "yes", False: "no"}.get(value, "not recorded")
    if value is None or value == "":
        return "not recorded"
    return label(value) if key in ("biological_source", "isolation_method", "pn_species") else str(value)


class LotSourceEditor(QDialog):
    """`changed` holds what the last save changed (empty until a save)."""

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.detail: LotDetail | None = None
        self.changed: dict[str, Any] = {}
        self.setWindowTitle("Source and donor eligibility")
        self.resize(620, 560)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.heading = QLabel(objectName="sourceHeading")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.status = QLabel(objectName="donorStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        source_box = QGroupBox("Source (recorded on the product)")
        self.source_form = QFormLayout(source_box)
        self.source_labels: dict[str, QLabel] = {}
        for key, caption in SOURCE_ROWS:
            self.source_labels[key] = QLabel(objectName=f"source_{key}", wordWrap=True)
            self.source_form.addRow(caption, self.source_labels[key])
        layout.addWidget(source_box)

        donor_box = QGroupBox("Donor eligibility")
        form = QFormLayout(donor_box)
        self.donor_use = vocab_combo(DonorUse)
        self.donor_use.setObjectName("donorUse")
        self.donor_use.setToolTip(
            "Applies to every lot of the product. Autologous (the patient's own cells) needs "
            "no donor eligibility (21 CFR 1271.90(a)(1))."
        )
        form.addRow("Donor &use", self.donor_use)
        self.reference = QLineEdit(
            objectName="donorReference", placeholderText="e.g. the supplier's donor eligibility determination no."
        )
        form.addRow("Eligibility &reference", self.reference)
        self.reason = QLineEdit(objectName="donorReason", placeholderText="Why this change (required)")
        form.addRow("Reason for &change", self.reason)
        layout.addWidget(donor_box)

        documents_box = QGroupBox("Donor-eligibility records attached to the lot")
        documents_layout = QVBoxLayout(documents_box)
        self.documents = QListWidget(objectName="donorDocuments")
        self.documents.setMaximumHeight(90)
        documents_layout.addWidget(self.documents)
        row = QHBoxLayout()
        self.attach_button = QPushButton("A&ttach a donor record…", objectName="attachDonorRecord")
        self.attach_button.clicked.connect(self.choose_document)
        row.addWidget(self.attach_button)
        row.addStretch()
        documents_layout.addLayout(row)
        layout.addWidget(documents_box)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.save_button)
        self.fields: dict[str, QWidget] = {
            "donor_use": self.donor_use,
            "reference": self.reference,
            "reason": self.reason,
        }
        self.can_edit = gate(
            ctx,
            STAFF,
            [self.donor_use, self.reference, self.reason, self.save_button, self.attach_button],
            "record donor eligibility",
        )
        self.reload()

    def reload(self) -> None:
        ctx, lot_id = self.ctx, self.lot_id
        runner_for(self).run(
            self, lambda _p: lot_detail(ctx, lot_id), self._show, self._failed, title="Reading the lot"
        )

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, RegistryError):
            self.banner.show_error(error.message)
        else:
            report_unexpected(self, error)

    def _show(self, detail: LotDetail) -> None:
        self.detail = detail
        self.heading.setText(f"<b>{detail.product}</b>, lot <b>{detail.fields['lot_number']}</b>")
        for key, widget in self.source_labels.items():
            widget.setText(_shown(key, detail.source.get(key)))
        set_combo_value(self.donor_use, detail.source.get("donor_use"))
        self.reference.setText(detail.fields.get("donor_eligibility_ref") or "")
        self.documents.clear()
        for document in detail.documents:
            if document["kind"] == "donor_eligibility":
                self.documents.addItem(document["file_name"] or f"Reference {document['reference']}")
        donor_flag = next((f for f in detail.flags if f["code"] == "UNDOC-DONOR" and not f["waived"]), None)
        self.status.setText(
            f"UNDOC-DONOR: {donor_flag['message']}" if donor_flag else "No donor-eligibility finding on this lot."
        )

    def save(self) -> None:
        if not self.can_edit or self.detail is None:
            return
        ctx, lot_id = self.ctx, self.lot_id
        donor_use, reference, reason = self.donor_use.currentData(), self.reference.text(), self.reason.text()
        attempt_op(
            self,
            self.banner,
            lambda: record_donor_eligibility(ctx, lot_id, donor_use=donor_use, reference=reference, reason=reason),
            self._saved,
            self.fields,
            busy=[self.buttons],
            title="Saving donor eligibility",
        )

    def _saved(self, changed: dict[str, Any]) -> None:
        self.changed = changed
        if not changed:
            self.banner.show_warning("Nothing changed.")
            return
        self.reason.clear()
        self.reload()
        self.banner.show_warning("Saved.")

    def choose_document(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach the donor-eligibility record", "", DOCUMENT_FILTER)
        if path:
            self.attach(path)

    def attach(self, path: str | Path) -> None:
        ctx, lot_id, reference = self.ctx, self.lot_id, self.reference.text().strip() or None
        attempt_op(
            self,
            self.banner,
            lambda: attach_document(ctx, "donor_eligibility", lot_id=lot_id, path=str(path), reference=reference),
            lambda _id: self.reload(),
            {"file": self.attach_button},
            busy=[self.attach_button],
            title="Attaching the donor record",
        )


def open_lot_source(parent: QWidget | None, ctx: ServiceContext, lot_id: int) -> LotSourceEditor:
    return show_dialog(LotSourceEditor(ctx, lot_id, parent))
