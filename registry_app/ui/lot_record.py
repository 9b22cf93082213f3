"""One lot's record: overview (editable), source, characterization against specification, regulatory status,
documents (open, attach), administrations, flags and history. The widgets only show what services return;
a save goes through services.lots.receiving.amend_lot, and a refused save keeps every value the user typed, with
each message next to its field."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QBrush, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..domain.exact import quantity_text
from ..domain.vocab import DocumentKind, label
from ..services import RegistryError, ServiceContext, ValidationError
from ..services.clock import site_clock
from ..services.context import DIRECTOR, STAFF
from ..services.flag_table import life_phrase
from ..services.queries.lot_record import EDITABLE_LOT_FIELDS, LotDetail, as_text, document_content, lot_detail
from .dialogs.forms import has_role
from .editors.common import deny, refusal
from .ops import Op, report_unexpected, runner_for
from .style import set_role, state_colour

FIELD_LABELS = {
    "lot_number": "Lot number",
    "serial": "Serial",
    "expiry_date": "Expiry date",
    "manufacture_date": "Manufactured",
    "received_date": "Received",
    "received_by": "Received by",
    "quantity_received": "Quantity received",
    "receipt_temperature_c": "Receipt temperature (°C)",
    "package_intact": "Package intact (yes/no)",
    "donor_eligibility_ref": "Donor eligibility ref.",
    "coa_ref": "Certificate of analysis ref.",
    "labelled_particles_per_ml": "Labelled particles/mL",
    "supplier": "Supplier",
}


def _table(headers: list[str], rows: list[list[Any]], name: str) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers), objectName=name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem(as_text(value))
            # Long cells (a before/after value, a reason) are cut at the column's width: hover shows them whole.
            if len(item.text()) > 24:
                item.setToolTip(item.text())
            table.setItem(r, c, item)
    return table


def _scrolled(page: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(page)
    return area


STATUS_HISTORY_ROWS = (
    ("released_on", "Released on"),
    ("rejected_on", "Rejected on"),
    ("recall_date", "Recalled from"),
    ("recall_reason", "Recall reason"),
    ("status_note", "Status note"),
)


class LotRecord(QWidget):
    """The record of one lot. `saved(lot_id)` after a successful amendment."""

    saved = Signal(int)

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.editors: dict[str, QLineEdit] = {}
        self.errors: dict[str, QLabel] = {}
        self.title = QLabel(objectName="lotTitle")
        set_role(self.title, "title")
        self.tabs = QTabWidget(objectName="lotTabs")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs)
        self.detail: LotDetail | None = None
        self.reload()

    def unsaved_changes(self) -> list[str]:
        """The fields typed into since the record was loaded or saved (their labels)."""
        if self.detail is None:
            return []
        changed = [
            FIELD_LABELS[name]
            for name, editor in self.editors.items()
            if editor.text() != as_text(self.detail.fields.get(name))
        ]
        return changed + (["Reason for change"] if changed and self.reason.text().strip() else [])

    # --- loading ----------------------------------------------------------------------------------------------
    def reload(self, keep_input: bool = False) -> None:
        detail = lot_detail(self.ctx, self.lot_id)
        self.clock = clock = site_clock(self.ctx)  # times in the site's zone, with the zone (issue 20.2)
        self.detail = detail
        self.title.setText(f"{detail.product} — lot {detail.fields['lot_number']}   [{label(detail.status)}]")
        current = self.tabs.currentIndex()
        typed = {k: e.text() for k, e in self.editors.items()} if keep_input else {}
        self.tabs.clear()
        # The long forms scroll: their rows must not set the window's minimum height (1024x700, issue 20.7).
        self.tabs.addTab(_scrolled(self._overview(detail, typed)), "&Overview")
        self.tabs.addTab(_scrolled(self._source(detail)), "&Source")
        self.tabs.addTab(self._characterization(detail), "&Characterization")
        self.tabs.addTab(self._regulatory(detail), "&Regulatory")
        self.tabs.addTab(self._documents(detail), "&Documents")
        self.tabs.addTab(
            _table(
                ["When", "Patient", "Route", "Body areas", "Quantity", "Practitioner", "Notified"],
                [
                    [
                        clock.show_local(a["administered_at"]),
                        a["patient_ref"],
                        label(a["route"]),
                        a["body_areas"],
                        a["quantity"],
                        a["practitioner"],
                        a["patient_notified_on"],
                    ]
                    for a in detail.administrations
                ],
                "administrationsTable",
            ),
            "&Administrations",
        )
        self.tabs.addTab(self._flags(detail), f"&Flags ({sum(not f['waived'] for f in detail.flags)})")
        self.tabs.addTab(
            _table(
                ["#", "When", "Who", "Action", "Field", "Before", "After", "Reason"],
                [
                    [e["seq"], e["when"], e["who"], e["action"], e["field"], e["before"], e["after"], e["reason"]]
                    for e in detail.history
                ],
                "historyTable",
            ),
            "&History",
        )
        if current >= 0:
            self.tabs.setCurrentIndex(current)

    def _overview(self, detail: LotDetail, typed: dict[str, str]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Product", QLabel(f"{detail.product} ({label(detail.product_type)})"))
        form.addRow("Status", QLabel(label(detail.status)))
        form.addRow("On hand", QLabel(f"{quantity_text(detail.on_hand)} {detail.extra.get('unit') or ''}"))
        # When and why the status last changed: what a reviewer asks first about a rejected or recalled lot.
        for key, caption in STATUS_HISTORY_ROWS:
            value = detail.extra.get(key)
            if value:
                form.addRow(caption, QLabel(as_text(value), objectName=f"status_{key}", wordWrap=True))
        self.editors, self.errors = {}, {}
        for name in (*EDITABLE_LOT_FIELDS, "supplier"):
            editor = QLineEdit(typed.get(name, as_text(detail.fields.get(name))), objectName=f"edit_{name}")
            error = QLabel(objectName=f"error_{name}")
            set_role(error, "error")
            error.hide()
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(1)
            cell_layout.addWidget(editor)
            cell_layout.addWidget(error)
            form.addRow(FIELD_LABELS[name], cell)
            self.editors[name], self.errors[name] = editor, error
        self.reason = QLineEdit(
            typed.get("__reason", ""), objectName="edit_reason", placeholderText="Why this correction (required)"
        )
        self.reason_error = QLabel(objectName="error_reason")
        set_role(self.reason_error, "error")
        self.reason_error.hide()
        form.addRow("Reason for change", self.reason)
        form.addRow("", self.reason_error)
        self.general_error = QLabel(objectName="error_general")
        set_role(self.general_error, "error")
        self.general_error.setWordWrap(True)
        self.save_button = QPushButton("&Save changes", objectName="saveLot")
        self.save_button.clicked.connect(self.save)
        form.addRow(self.general_error)
        form.addRow(self.save_button)
        # A role that may not amend sees why before typing, not a refusal after (issue 20.4): the fields are
        # read-only and Save is disabled, with the reason as tooltip.
        if why := refusal(self.ctx, STAFF, "correct a lot's fields"):
            deny(self.save_button, why)
            for editor in (*self.editors.values(), self.reason):
                editor.setReadOnly(True)
                editor.setToolTip(why)
        return page

    def _source(self, detail: LotDetail) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        for key, value in detail.source.items():
            form.addRow(
                label(key),
                QLabel(label(value) if isinstance(value, str) and "_" in value else as_text(value) or "not recorded"),
            )
        button = QPushButton("&Donor eligibility…", objectName="editLotSource")
        button.clicked.connect(lambda: self.open_editor("source"))
        form.addRow(button)
        return page

    def _characterization(self, detail: LotDetail) -> QWidget:
        rows = [
            [
                label(r.parameter) + (f" {r.marker.upper()}" if r.marker else ""),
                label(r.method),
                r.value if r.value is not None else label(r.result),
                r.unit,
                r.specification,
                {True: "in spec", False: "OUT OF SPEC", None: ""}[r.in_spec],
                label(r.measured_by),
                r.laboratory,
                r.tested_on,
            ]
            for r in detail.results
        ]
        table = _table(
            [
                "Parameter",
                "Method",
                "Result",
                "Unit",
                "Specification",
                "Assessment",
                "Measured by",
                "Laboratory",
                "Tested on",
            ],
            rows,
            "characterizationTable",
        )
        for r, result in enumerate(detail.results):
            if result.in_spec is False:
                for c in range(table.columnCount()):
                    table.item(r, c).setBackground(QBrush(state_colour("out_of_spec_fill")))
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(table)
        buttons = QHBoxLayout()
        for text, name, editor in (
            ("&Enter or void results…", "editCharacterization", "characterization"),
            ("Enter from a Co&A…", "enterFromCoa", "coa"),
            ("Temperature e&xcursions…", "editExcursions", "excursions"),
            ("Ad&verse events…", "editAdverseEvents", "adverse_events"),
        ):
            button = QPushButton(text, objectName=name)
            button.clicked.connect(lambda _=False, e=editor: self.open_editor(e))
            buttons.addWidget(button)
        buttons.addStretch()
        layout.addLayout(buttons)
        return page

    def _regulatory(self, detail: LotDetail) -> QWidget:
        rows = [
            [
                s["jurisdiction"] + (" (this site)" if s["current"] else ""),
                label(s["status"]),
                s["reference"],
                s["verified_on"],
                s["verified_by"],
            ]
            for s in detail.regulatory
        ]
        if not any(s["current"] for s in detail.regulatory):
            rows.insert(0, [f"{detail.jurisdiction} (this site)", "No status recorded", "", "", ""])
        return _table(["Jurisdiction", "Status", "Reference", "Verified on", "Verified by"], rows, "regulatoryTable")

    def _documents(self, detail: LotDetail) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.documents_table = _table(
            ["Kind", "File", "Reference", "Size", "Uploaded", "Of"],
            [
                [
                    label(d["kind"]),
                    d["file_name"],
                    d["reference"],
                    d["size_bytes"],
                    self.clock.show_utc(d["uploaded_at"]),
                    d["for"],
                ]
                for d in detail.documents
            ],
            "documentsTable",
        )
        self.documents_table.doubleClicked.connect(lambda index: self.open_document(index.row()))
        buttons = QHBoxLayout()
        open_button = QPushButton("&Open", objectName="openDocument")
        open_button.clicked.connect(lambda: self.open_document(self.documents_table.currentRow()))
        self.kind_choice = QComboBox(objectName="documentKind")
        for kind in DocumentKind:
            self.kind_choice.addItem(label(str(kind)), str(kind))
        self.attach_button = attach = QPushButton("A&ttach file…", objectName="attachDocument")
        attach.clicked.connect(self.choose_and_attach)
        if why := refusal(self.ctx, STAFF, "attach documents"):
            deny(attach, why)
            deny(self.kind_choice, why)
        for widget in (open_button, self.kind_choice, attach):
            buttons.addWidget(widget)
        buttons.addStretch()
        layout.addWidget(self.documents_table)
        layout.addLayout(buttons)
        return page

    def _flags(self, detail: LotDetail) -> QWidget:
        from .editors.fix_actions import FIXES, fix_refusal

        table = _table(
            ["Severity", "Code", "On", "Message", "Waived"],
            [
                [label(f["severity"]), f["code"], f"{f['subject_type']} {f['subject_id']}", f["message"], f["waived"]]
                for f in detail.flags
            ],
            "flagsTable",
        )
        table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.flags_table = table
        self.fix_button = QPushButton("Fi&x…", objectName="fixLotFlag")
        self.fix_button.clicked.connect(lambda: self.fix_flag(self.flags_table.currentRow()))
        self.waive_button = QPushButton("Wa&ive…", objectName="waiveLotFlag")
        self.waive_button.clicked.connect(lambda: self.waive_flag(self.flags_table.currentRow()))
        may_waive = has_role(self.ctx, DIRECTOR)

        def selected() -> None:
            row = table.currentRow()
            code = detail.flags[row]["code"] if 0 <= row < len(detail.flags) else None
            refusal = fix_refusal(self.ctx, code) if code else "Select a finding to fix."
            self.fix_button.setEnabled(refusal is None)
            self.fix_button.setToolTip(refusal or FIXES[str(code)].what)
            waived = code is not None and bool(detail.flags[row]["waived"])
            self.waive_button.setEnabled(may_waive and code is not None and not waived)
            self.waive_button.setToolTip(
                "Only a medical director may waive a finding."
                if not may_waive
                else "Waived already."
                if waived
                else "Accept this finding with a reason and your signature."
            )

        table.itemSelectionChanged.connect(selected)
        table.doubleClicked.connect(lambda index: self.fix_flag(index.row()))
        if detail.flags:
            table.selectRow(0)
        selected()
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(table)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fix_button)
        buttons.addWidget(self.waive_button)
        buttons.addStretch()
        layout.addLayout(buttons)
        layout.addWidget(QLabel("History of its flags: when each was raised and closed"))
        self.flag_history_table = _table(
            ["Severity", "Code", "On", "When", "Message"],
            [
                [
                    label(e["severity"]),
                    e["code"],
                    f"{e['subject_type']} {e['subject_id']}",
                    life_phrase(e["raised_at"], e["closed_at"], e["closed_by"], self.clock, e["due_on"]),
                    e["message"],
                ]
                for e in detail.extra.get("flag_history", [])
            ],
            "flagHistoryTable",
        )
        layout.addWidget(self.flag_history_table)
        return page

    # --- actions ----------------------------------------------------------------------------------------------
    def fix_flag(self, row: int) -> Any:
        """Open the editor that resolves the flag on `row` of the Flags tab; the record reloads when it closes."""
        from .editors.fix_actions import FixTarget, fix_flag

        if self.detail is None or not 0 <= row < len(self.detail.flags):
            return None
        flag = self.detail.flags[row]
        target = FixTarget(
            flag["code"],
            flag["subject_type"],
            int(flag["subject_id"]),
            self.lot_id,
            self.detail.product_id,
            self.detail.product,
        )
        return self._after_editor(fix_flag(self, self.ctx, target))

    def waive_flag(self, row: int) -> Any:
        """A medical director's signed waiver of the flag on `row` (the Flags page's dialog)."""
        from ..services.catalogue import Flag
        from .dialogs.waive import WaiveDialog

        if self.detail is None or not 0 <= row < len(self.detail.flags) or not has_role(self.ctx, DIRECTOR):
            return None
        found = self.detail.flags[row]
        flag = Flag(
            found["code"],
            found["severity"],
            found["subject_type"],
            int(found["subject_id"]),
            self.detail.product_id,
            self.detail.product,
            self.lot_id,
            self.detail.fields["lot_number"],
            found["message"],
            bool(found["waived"]),
        )
        dialog = WaiveDialog(self.ctx, flag, self)
        dialog.accepted.connect(lambda: self.reload(keep_input=True))
        dialog.open()
        self.editor_dialog = dialog
        return dialog

    def open_editor(self, editor: str) -> Any:
        """The lot editors (ui/editors): characterization, coa, source, excursions, adverse_events."""
        if editor in ("characterization", "coa"):
            from .editors.characterization import open_characterization

            opened: Any = open_characterization(self, self.ctx, self.lot_id, show_certificate=editor == "coa")
        elif editor == "source":
            from .editors.lot_source import open_lot_source

            opened = open_lot_source(self, self.ctx, self.lot_id)
        elif editor == "excursions":
            from .editors.excursion import open_excursions

            opened = open_excursions(self, self.ctx, self.lot_id)
        else:
            from .editors.adverse_event import open_adverse_events

            opened = open_adverse_events(self, self.ctx, self.lot_id)
        return self._after_editor(opened)

    def _after_editor(self, opened: Any) -> Any:
        if isinstance(opened, QDialog):  # what the editor saved shows here (and the flags) once it closes
            opened.finished.connect(lambda _result: self.reload(keep_input=True))
        self.editor_dialog = opened
        return opened

    def changed_values(self) -> dict[str, str]:
        assert self.detail is not None
        return {
            name: editor.text()
            for name, editor in self.editors.items()
            if editor.text() != as_text(self.detail.fields.get(name))
        }

    def save(self) -> Op | None:
        """Amend the lot with what changed, through the op runner (None: nothing changed). On refusal show each
        message by its field and keep the input."""
        from ..services.lots.receiving import amend_lot

        for widget in (*self.errors.values(), self.reason_error):
            widget.hide()
        self.general_error.clear()
        changes = self.changed_values()
        if not changes:
            self.general_error.setText("Nothing changed.")
            return None
        ctx, lot_id, reason = self.ctx, self.lot_id, self.reason.text()

        def refused(error: BaseException) -> None:
            if isinstance(error, ValidationError):
                self._show_errors(error)
            elif isinstance(error, RegistryError):
                self.general_error.setText(str(error))
            else:
                report_unexpected(self, error)

        return runner_for(self).run(
            self,
            lambda _progress: amend_lot(ctx, lot_id, changes, reason),
            lambda _result: self._saved(),
            refused,
            title="Saving the lot",
            busy=[self.save_button],
        )

    def _saved(self) -> None:
        self.reload()
        self.saved.emit(self.lot_id)

    def _show_errors(self, error: ValidationError) -> None:
        general = []
        for problem in error.errors:
            target = self.reason_error if problem.field == "reason" else self.errors.get(problem.field)
            if target is None:
                general.append(str(problem))
                continue
            target.setText(problem.message)
            target.show()
        self.general_error.setText("; ".join(general) or "Not saved: correct the fields marked in red.")
        first = next((self.editors[e.field] for e in error.errors if e.field in self.editors), None)
        if first is not None:
            first.setFocus()

    def open_document(self, row: int) -> None:
        if self.detail is None or not 0 <= row < len(self.detail.documents):
            return
        document = self.detail.documents[row]
        try:
            name, content, reference = document_content(self.ctx, document["id"])
        except RegistryError as error:
            QMessageBox.warning(self, "Open document", str(error))
            return
        if content is None:
            QMessageBox.information(self, "Document reference", f"This document is a reference only: {reference}")
            return
        folder = Path(tempfile.mkdtemp(prefix="registry-doc-"))
        path = folder / Path(name).name
        path.write_bytes(content)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def choose_and_attach(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach a document to this lot")
        if path:
            self.attach(path, self.kind_choice.currentData())

    def attach(self, path: str, kind: str) -> Op:
        """Attach the file to the lot through the op runner (reading and storing it may take a while)."""
        from ..services.lots.documents import attach_document

        ctx, lot_id = self.ctx, self.lot_id

        def refused(error: BaseException) -> None:
            if isinstance(error, RegistryError):
                QMessageBox(
                    QMessageBox.Icon.Warning, "Attach document", str(error), QMessageBox.StandardButton.Ok, self
                ).open()  # not exec(): no nested event loop inside an op's callback
            else:
                report_unexpected(self, error)

        return runner_for(self).run(
            self,
            lambda _progress: attach_document(ctx, kind, lot_id=lot_id, path=path),
            lambda _result: self.reload(keep_input=True),
            refused,
            title="Attaching the document",
            busy=[self.attach_button],
        )
