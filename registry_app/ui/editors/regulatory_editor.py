"""A product's regulatory status per jurisdiction: the table of what is recorded, and a form to add or change
one jurisdiction's status with its reference (IND number, MoCRA listing, MFDS registration …), the date it
was verified and its evidence (a document already attached to the product, or a file attached now, in the
same transaction as the status: `products.set_regulatory_status(evidence_path=...)`).

Opened from the product editor, or directly for one product and jurisdiction (the UNDOC-REGULATORY flag's
"Fix…"): `open_regulatory_status(parent, ctx, product_id, jurisdiction)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ...domain.vocab import RegulatoryStatus, label
from ...services import ServiceContext
from ...services.context import STAFF
from ...services.lots.documents import DocumentInfo, list_documents
from ...services.products import ProductInfo, get_product, set_regulatory_status
from ...services.sites import site_info
from ..dialogs.forms import date_or_none, optional_date_edit, set_combo_value, set_optional_date, vocab_combo
from ..ops import runner_for
from .common import EditorDialog, deny, refusal

COLUMNS = ("Jurisdiction", "Status", "Reference", "Evidence", "Verified on", "Verified by")


@dataclass(frozen=True)
class _Loaded:
    product: ProductInfo
    documents: list[DocumentInfo]
    site_jurisdiction: str


def _document_text(document: DocumentInfo) -> str:
    name = document.file_name or document.reference or f"document {document.id}"
    return f"{name} ({label(document.kind).lower()}, #{document.id})"


class RegulatoryStatusDialog(EditorDialog):
    """Stays open after a save (several jurisdictions are often entered together); `saved(jurisdiction)`."""

    saved = Signal(str)

    def __init__(
        self, ctx: ServiceContext, product_id: int, jurisdiction: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, "Regulatory status", parent)
        self.product_id = product_id
        self.wanted_jurisdiction = jurisdiction.strip().upper() if jurisdiction else None
        self.loaded: _Loaded | None = None
        self.resize(760, 600)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.outer.addWidget(self.heading)
        self.table = QTableWidget(0, len(COLUMNS), objectName="regulatoryTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.outer.addWidget(self.table, 1)
        self.note = QLabel(objectName="savedNote")
        self.outer.addWidget(self.note)

        form = QFormLayout()
        self.outer.addLayout(form)
        self.jurisdiction = QLineEdit(objectName="jurisdiction")
        self.jurisdiction.setPlaceholderText("ISO 3166 code (KR, US …) or EU")
        self.add_row(form, "&Jurisdiction", self.jurisdiction, "jurisdiction")
        self.status = vocab_combo(RegulatoryStatus, empty="— choose —")
        self.add_row(form, "&Status", self.status, "status")
        self.reference = QLineEdit(objectName="reference")
        self.reference.setPlaceholderText("IND number, MoCRA listing, registration or certificate number")
        self.add_row(form, "&Reference", self.reference, "reference")
        self.verified_on = optional_date_edit()
        self.add_row(form, "&Verified on", self.verified_on, "verified_on")
        self.evidence = QComboBox(objectName="evidence")
        self.attach_button = QPushButton("&Attach a file…")
        self.attach_button.clicked.connect(self.choose_file)
        self.add_row(form, "&Evidence", self.evidence, "evidence", extra=self.attach_button)
        self.reason = QLineEdit(objectName="reason")
        self.reason.setPlaceholderText("Why the status is recorded or changed (optional)")
        self.add_row(form, "Rea&son", self.reason, "reason")
        self.save_button.setText("&Save status")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Close")
        self.finish_layout()
        why = refusal(ctx, STAFF, "record a regulatory status")
        if why:
            deny(self.save_button, why)
            deny(self.attach_button, why)
            self.banner.show_warning(why)
        self.load()
        self.jurisdiction.setFocus()

    # ------------------------------------------------------------------------------------------ load
    def load(self) -> None:
        ctx, product_id = self.ctx, self.product_id

        def work(_progress: Any) -> _Loaded:
            return _Loaded(
                get_product(ctx, product_id), list_documents(ctx, product_id=product_id), site_info(ctx)["jurisdiction"]
            )

        runner_for(self).run(
            self, work, self._loaded, self._load_failed, title="Loading the regulatory status", busy=[self.save_button]
        )

    def _loaded(self, loaded: _Loaded) -> None:
        first = self.loaded is None
        self.loaded = loaded
        product = loaded.product
        self.setWindowTitle(f"Regulatory status — {product.name}")
        self.heading.setText(
            f"<b>{product.name}</b> ({label(product.product_type).lower()}); this site's "
            f"jurisdiction is <b>{loaded.site_jurisdiction}</b>."
        )
        names = {d.id: _document_text(d) for d in loaded.documents}
        self.table.setRowCount(0)
        for row in product.regulatory:
            at = self.table.rowCount()
            self.table.insertRow(at)
            evidence = row.get("evidence_document_id")
            verified = row.get("verified_on")
            cells = (
                row["jurisdiction"],
                label(row["status"]),
                row.get("reference") or "",
                names.get(evidence, f"document #{evidence}") if evidence else "",
                verified.isoformat() if verified else "",
                row.get("verified_by") or "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row)
                self.table.setItem(at, column, item)
        self.table.resizeColumnsToContents()
        chosen_path = self.evidence.currentData() if isinstance(self.evidence.currentData(), str) else None
        self.evidence.clear()
        self.evidence.addItem("— none —", None)
        for document in loaded.documents:
            self.evidence.addItem(_document_text(document), document.id)
        if chosen_path:  # a file chosen but refused with the status stays chosen
            self._add_file_choice(chosen_path)
        if first:
            self.show_jurisdiction(self.wanted_jurisdiction or loaded.site_jurisdiction)
        self.loaded_into_form()

    def show_jurisdiction(self, code: str) -> None:
        """Put `code` in the form, with what is recorded for it (if anything) to change."""
        for at in range(self.table.rowCount()):
            row = self.table.item(at, 0).data(Qt.ItemDataRole.UserRole)
            if row["jurisdiction"] == code:
                self.table.selectRow(at)  # fills the form (_row_selected)
                return
        self.table.clearSelection()
        self.jurisdiction.setText(code)

    def _row_selected(self) -> None:
        items = self.table.selectedItems()
        if not items:
            return
        row = items[0].data(Qt.ItemDataRole.UserRole)
        self.jurisdiction.setText(row["jurisdiction"])
        set_combo_value(self.status, row["status"])
        self.reference.setText(row.get("reference") or "")
        set_optional_date(self.verified_on, row.get("verified_on"))
        set_combo_value(self.evidence, row.get("evidence_document_id"))

    # ------------------------------------------------------------------------------------------ behaviour
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Evidence of the regulatory status",
            "",
            "Documents (*.pdf *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)",
        )
        if path:
            self._add_file_choice(path)

    def _add_file_choice(self, path: str) -> None:
        """A file to attach with the status (as the product's regulatory certificate) when it is saved."""
        index = self.evidence.findData(path)
        if index < 0:
            self.evidence.addItem(f"Attach on save: {Path(path).name}", path)
            index = self.evidence.count() - 1
        self.evidence.setCurrentIndex(index)

    def submit(self) -> None:
        self.note.clear()
        ctx, product_id = self.ctx, self.product_id
        jurisdiction, status = self.jurisdiction.text().strip(), self.status.currentData() or ""
        reference, verified, reason = self.reference.text(), date_or_none(self.verified_on), self.reason.text()
        chosen = self.evidence.currentData()
        document_id = chosen if isinstance(chosen, int) else None
        path = chosen if isinstance(chosen, str) else None
        # Empty means the site's jurisdiction (the service's default); say which one in the note after saving.
        saved_as = (jurisdiction or (self.loaded.site_jurisdiction if self.loaded else "")).upper()

        def call() -> int:
            return set_regulatory_status(
                ctx,
                product_id,
                status,
                jurisdiction,
                reference,
                document_id,
                verified,
                reason.strip() or None,
                evidence_path=path,
            )

        self.save_op(call, lambda _id: self._saved(saved_as))

    def _saved(self, jurisdiction: str) -> None:
        self.saved_cleanly()
        self.evidence.setCurrentIndex(0)  # the attached file is now one of the product's documents
        self.reason.clear()
        self.wanted_jurisdiction = jurisdiction
        self.loaded = None
        self.load()
        self.note.setText(f"Saved the status for {jurisdiction}.")
        self.saved.emit(jurisdiction)


def open_regulatory_status(
    parent: QWidget | None, ctx: ServiceContext, product_id: int, jurisdiction: str | None = None
) -> RegulatoryStatusDialog:
    """Open the product's regulatory status with the form on `jurisdiction` (None: the site's). For the
    UNDOC-REGULATORY flag's "Fix…" and the product editor."""
    dialog = RegulatoryStatusDialog(ctx, product_id, jurisdiction, parent)
    dialog.open()
    return dialog
