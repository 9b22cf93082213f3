"""The characterization grid of one lot: every item the lot rules expect (MISEV items for exosomes, PN items,
safety tests), each row with method, value or result, unit, who measured it, the laboratory and the test date,
with the reading against the product's specification shown as the value is typed. Enter (or the row's Save)
records the row through results.add_characterization_result; a wrong result is voided with a reason.

"Enter from a CoA": the certificate of analysis is attached beside the grid and previewed (QtPdf's QPdfView
when the build has it, else its file name and an Open button); results saved while a certificate is shown
are linked to it.

Open it with `open_characterization(parent, ctx, lot_id)`, or `open_characterization(..., from_coa=True)`
to start by choosing the certificate.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import MeasuredBy, label
from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.lots.characterization import CharacterizationSheet, GridRow, ResultRow, assess, characterization_sheet
from ...services.lots.documents import attach_document, read_document_content
from ...services.lots.results import add_characterization_result, void_characterization_result
from ..dialogs.documents import DOCUMENT_FILTER
from ..dialogs.forms import (
    ErrorBanner,
    add_save_shortcut,
    attempt_op,
    date_or_none,
    optional_date_edit,
    set_optional_date,
    vocab_combo,
)
from ..ops import report_unexpected, runner_for
from ..style import mark_invalid, set_role
from .lot_editor_kit import ReasonDialog, gate, show_dialog

try:  # QtPdf ships in PySide6-Addons; a build without it shows the file name and an Open button instead.
    from PySide6.QtPdf import QPdfDocument
    from PySide6.QtPdfWidgets import QPdfView
except ImportError:  # pragma: no cover - depends on the installed wheels
    QPdfDocument = QPdfView = None  # type: ignore[assignment,misc]

# The assessment sits next to the value it reads, where the eye is while typing.
COLUMNS = (
    "Item",
    "Parameter",
    "Method",
    "Value / result",
    "Unit",
    "Assessment",
    "Measured by",
    "Laboratory",
    "Tested on",
    "",
)
C_ITEM, C_PARAM, C_METHOD, C_VALUE, C_UNIT, C_ASSESS, C_BY, C_LAB, C_DATE, C_ACTION = range(len(COLUMNS))


def _parameter_text(parameter: str, marker: str | None) -> str:
    return label(parameter) + (f" {marker.upper()}" if marker else "")


def _assessment_text(specification: str, ok: bool | None) -> str:
    if ok is None:
        return f"spec {specification}" if specification else ""
    return ("in spec" if ok else "OUT OF SPEC") + (f" ({specification})" if specification else "")


@dataclass
class EntryRow:
    """The widgets of one row still to be filled in."""

    grid: GridRow
    method: QComboBox
    value: QLineEdit | None  # a number in the unit...
    result: QComboBox | None  # ...or a qualitative result
    measured_by: QComboBox
    laboratory: QLineEdit
    tested_on: QDateEdit
    assessment: QLabel
    save: QPushButton

    @property
    def key(self) -> tuple[str, str | None]:
        return self.grid.parameter, self.grid.marker

    def fields(self) -> dict[str, QWidget]:
        found: dict[str, QWidget] = {
            "method": self.method,
            "measured_by": self.measured_by,
            "laboratory": self.laboratory,
            "tested_on": self.tested_on,
        }
        if self.value is not None:
            found["value"] = self.value
        if self.result is not None:
            found["result"] = self.result
        return found

    def typed(self) -> dict[str, Any]:
        return {
            "method": self.method.currentData(),
            "value": self.value.text() if self.value else None,
            "result": self.result.currentData() if self.result else None,
            "measured_by": self.measured_by.currentData(),
            "laboratory": self.laboratory.text(),
            "tested_on": date_or_none(self.tested_on),
        }

    def restore(self, typed: dict[str, Any]) -> None:
        for combo, value in (
            (self.method, typed["method"]),
            (self.measured_by, typed["measured_by"]),
            (self.result, typed["result"]),
        ):
            if combo is not None and value is not None:
                combo.setCurrentIndex(max(combo.findData(value), 0))
        if self.value is not None and typed["value"]:
            self.value.setText(typed["value"])
        self.laboratory.setText(typed["laboratory"] or "")
        set_optional_date(self.tested_on, typed["tested_on"])

    def is_blank(self) -> bool:
        typed = self.typed()
        return not (typed["value"] or typed["result"] or typed["laboratory"] or typed["tested_on"])


class CharacterizationEditor(QDialog):
    """The grid for one lot. `saved` counts the results recorded while it was open (for the caller)."""

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.sheet: CharacterizationSheet | None = None
        self.entries: list[EntryRow] = []
        self.void_buttons: dict[int, QPushButton] = {}
        self.saved = 0
        self._pdf_buffer: QBuffer | None = None
        self.previewed_id: int | None = None  # the certificate the PDF view shows
        self.setWindowTitle("Characterization results")
        self.resize(1320, 720)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.heading = QLabel(objectName="characterizationHeading")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.missing_label = QLabel(objectName="missingItems")
        self.missing_label.setWordWrap(True)
        layout.addWidget(self.missing_label)

        self.table = QTableWidget(0, len(COLUMNS), objectName="characterizationGrid")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(C_ITEM, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(C_ITEM, 160)
        self.table.setAccessibleName("Characterization results")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._certificate_pane())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([900, 0])  # the certificate pane opens when there is one to show
        layout.addWidget(self.splitter, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Ctrl+Return saves the row being typed in (Enter does too, in a value field).
        add_save_shortcut(self, self.save_focused_entry)
        self.can_edit = gate(
            ctx,
            STAFF,
            [self.attach_button, self.reference_edit, self.reference_button],
            "record characterization results",
        )
        if not self.can_edit:
            self.banner.show_warning("Read only: only a pharmacist or medical director may record or void results.")
        self.reload()

    # --- the certificate beside the grid -------------------------------------------------------------------
    def _certificate_pane(self) -> QWidget:
        box = QGroupBox("Certificate of analysis", objectName="certificatePane")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.certificate_combo = QComboBox(objectName="certificateChoice")
        self.certificate_combo.setAccessibleName("Certificate shown")
        self.certificate_combo.currentIndexChanged.connect(lambda _i: self.show_certificate())
        self.attach_button = QPushButton("Attach a &CoA…", objectName="attachCoa")
        self.attach_button.clicked.connect(self.choose_certificate)
        row.addWidget(self.certificate_combo, 1)
        row.addWidget(self.attach_button)
        layout.addLayout(row)
        # A certificate held on paper or in the supplier's portal: its number is enough for UNDOC-COA.
        reference_row = QHBoxLayout()
        self.reference_edit = QLineEdit(
            objectName="coaReference", placeholderText="or the certificate's number, when there is no file"
        )
        self.reference_button = QPushButton("Record &number", objectName="recordCoaReference")
        self.reference_button.clicked.connect(lambda: self.record_certificate_reference())
        self.reference_edit.returnPressed.connect(self.reference_button.click)
        reference_row.addWidget(self.reference_edit, 1)
        reference_row.addWidget(self.reference_button)
        layout.addLayout(reference_row)
        self.preview = QStackedWidget(objectName="certificatePreview")
        fallback = QWidget()
        fallback_layout = QVBoxLayout(fallback)
        self.certificate_name = QLabel("No certificate attached to this lot yet.", objectName="certificateName")
        self.certificate_name.setWordWrap(True)
        self.open_button = QPushButton("&Open", objectName="openCertificate")
        self.open_button.clicked.connect(self.open_certificate)
        fallback_layout.addWidget(self.certificate_name)
        fallback_layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        fallback_layout.addStretch()
        self.preview.addWidget(fallback)
        self.pdf_view: Any = None
        self.pdf_document: Any = None
        if QPdfView is not None:
            self.pdf_document = QPdfDocument(self)
            self.pdf_view = QPdfView(box)
            self.pdf_view.setObjectName("certificatePdf")
            self.pdf_view.setDocument(self.pdf_document)
            self.pdf_view.setPageMode(QPdfView.PageMode.MultiPage)
            self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
            self.preview.addWidget(self.pdf_view)
        layout.addWidget(self.preview, 1)
        note = QLabel("Results saved while a certificate is shown are linked to it.")
        note.setWordWrap(True)
        layout.addWidget(note)
        return box

    def _reveal_pane(self) -> None:
        if self.splitter.sizes()[1] == 0:
            self.splitter.setSizes([800, 500])

    def open_certificate_pane(self) -> None:
        self._reveal_pane()
        (self.attach_button if self.attach_button.isEnabled() else self.certificate_combo).setFocus()

    def current_certificate(self) -> dict[str, Any] | None:
        document_id = self.certificate_combo.currentData()
        if self.sheet is None or document_id is None:
            return None
        return next((c for c in self.sheet.certificates if c["id"] == document_id), None)

    def show_certificate(self) -> None:
        certificate = self.current_certificate()
        if certificate is not None and certificate["id"] == self.previewed_id:
            return  # the same certificate after a save: keep the preview (and its scroll position) as it is
        self.previewed_id = None
        self.preview.setCurrentIndex(0)
        if certificate is None:
            self.certificate_name.setText("No certificate attached to this lot yet.")
            self.open_button.setEnabled(False)
            return
        name = certificate["file_name"] or f"Reference {certificate['reference']}"
        self.certificate_name.setText(name)
        self.open_button.setEnabled(bool(certificate["has_content"]))
        self._reveal_pane()  # not the focus: the user may be typing in the grid
        if (
            certificate["has_content"]
            and self.pdf_view is not None
            and (certificate["media_type"] == "application/pdf" or str(name).lower().endswith(".pdf"))
        ):
            ctx, document_id = self.ctx, certificate["id"]
            runner_for(self).run(
                self,
                lambda _p: read_document_content(ctx, document_id),
                lambda content: self._show_pdf(content, document_id),
                self._read_failed,
                title="Reading the certificate",
            )

    def _show_pdf(self, content: bytes, document_id: int) -> None:
        self._pdf_buffer = QBuffer(self)
        self._pdf_buffer.setData(QByteArray(content))
        self._pdf_buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.pdf_document.load(self._pdf_buffer)
        if self.pdf_document.status() == QPdfDocument.Status.Ready:
            self.preview.setCurrentWidget(self.pdf_view)
            self.previewed_id = document_id

    def _read_failed(self, error: BaseException) -> None:
        if isinstance(error, RegistryError):
            self.banner.show_error(error.message)
        else:
            report_unexpected(self, error)

    def open_certificate(self) -> None:
        certificate = self.current_certificate()
        if certificate is None or not certificate["has_content"]:
            return
        ctx, document_id = self.ctx, certificate["id"]
        name = Path(str(certificate["file_name"] or f"certificate-{document_id}")).name

        def opened(content: bytes) -> None:
            path = Path(tempfile.mkdtemp(prefix="registry-coa-")) / name
            path.write_bytes(content)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

        runner_for(self).run(
            self,
            lambda _p: read_document_content(ctx, document_id),
            opened,
            self._read_failed,
            title="Opening the certificate",
        )

    def choose_certificate(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach the certificate of analysis", "", DOCUMENT_FILTER)
        if path:
            self.attach_certificate(path)

    def attach_certificate(self, path: str | Path) -> None:
        """Attach the file as the lot's certificate of analysis, then show it beside the grid."""
        ctx, lot_id = self.ctx, self.lot_id
        attempt_op(
            self,
            self.banner,
            lambda: attach_document(ctx, "coa", lot_id=lot_id, path=str(path)),
            lambda document_id: self.reload(select_certificate=document_id),
            busy=[self.attach_button],
            title="Attaching the certificate",
        )

    def record_certificate_reference(self) -> None:
        """Record the certificate by its number (a document without a file, kind CoA)."""
        ctx, lot_id, reference = self.ctx, self.lot_id, self.reference_edit.text()

        def recorded(document_id: int) -> None:
            self.reference_edit.clear()
            self.reload(select_certificate=document_id)

        attempt_op(
            self,
            self.banner,
            lambda: attach_document(ctx, "coa", lot_id=lot_id, reference=reference),
            recorded,
            {"file": self.reference_edit, "reference": self.reference_edit},
            busy=[self.reference_button],
            title="Recording the certificate",
        )

    # --- the grid ------------------------------------------------------------------------------------------
    def reload(self, select_certificate: int | None = None) -> None:
        ctx, lot_id = self.ctx, self.lot_id
        runner_for(self).run(
            self,
            lambda _p: characterization_sheet(ctx, lot_id),
            lambda sheet: self._show(sheet, select_certificate),
            self._read_failed,
            title="Reading the results",
        )

    def _show(self, sheet: CharacterizationSheet, select_certificate: int | None) -> None:
        # What is typed in rows not yet saved is read when the answer arrives, so nothing typed meanwhile is lost.
        typed = {e.key: e.typed() for e in self.entries if not e.is_blank()}
        self.sheet = sheet
        kind = label(sheet.product_type).lower()
        self.heading.setText(
            f"<b>{sheet.product_name}</b>, lot <b>{sheet.lot_number}</b> ({kind}): the items "
            "the flag rules expect, and any other result on file."
        )
        missing = sheet.missing
        self.missing_label.setText(
            "Missing for the rules: " + "; ".join(missing) if missing else "Every item the rules expect is on file."
        )
        set_role(self.missing_label, "error" if missing else "")
        chosen = select_certificate if select_certificate is not None else self.certificate_combo.currentData()
        self.certificate_combo.blockSignals(True)
        self.certificate_combo.clear()
        for certificate in sheet.certificates:
            self.certificate_combo.addItem(str(certificate["file_name"] or certificate["reference"]), certificate["id"])
        if chosen is not None and self.certificate_combo.findData(chosen) >= 0:
            self.certificate_combo.setCurrentIndex(self.certificate_combo.findData(chosen))
        self.certificate_combo.blockSignals(False)
        self.show_certificate()
        self._fill(sheet, typed)

    def _fill(self, sheet: CharacterizationSheet, typed: dict[tuple[str, str | None], dict[str, Any]]) -> None:
        self.table.setRowCount(0)
        self.entries, self.void_buttons = [], {}
        last_item = None
        for grid in sheet.rows:
            item_text = (
                ""
                if grid.item_title == last_item
                else (grid.item_title + ("" if grid.required or not grid.item else " (not required here)"))
            )
            last_item = grid.item_title
            for result in grid.current:
                self._result_row(grid, result, item_text)
                item_text = ""
            if not grid.current:
                entry = self._entry_row(grid, item_text)
                if entry.key in typed:
                    entry.restore(typed[entry.key])
        self.table.resizeRowsToContents()

    def _add_row(self, item_text: str, grid: GridRow) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, C_ITEM, QTableWidgetItem(item_text))
        self.table.setItem(row, C_PARAM, QTableWidgetItem(_parameter_text(grid.parameter, grid.marker)))
        self.table.setItem(row, C_UNIT, QTableWidgetItem(grid.unit or ""))
        return row

    def _result_row(self, grid: GridRow, result: ResultRow, item_text: str) -> None:
        row = self._add_row(item_text, grid)
        shown = f"{result.value:g}" if result.value is not None else label(result.result)
        for column, text in (
            (C_METHOD, label(result.method)),
            (C_VALUE, shown),
            (C_BY, label(result.measured_by)),
            (C_LAB, result.laboratory or result.source_ref or ""),
            (C_DATE, result.tested_on.isoformat() if result.tested_on else ""),
            (C_ASSESS, _assessment_text(result.specification, result.in_spec)),
        ):
            self.table.setItem(row, column, QTableWidgetItem(text))
        void = QPushButton("Void…", objectName=f"void_{result.id}")
        void.clicked.connect(lambda _=False, rid=result.id: self.void_result(rid))
        void.setEnabled(self.can_edit)
        if not self.can_edit:
            void.setToolTip("Only a pharmacist or medical director may void results.")
        self.table.setCellWidget(row, C_ACTION, void)
        self.void_buttons[result.id] = void

    def _entry_row(self, grid: GridRow, item_text: str) -> EntryRow:
        row = self._add_row(item_text, grid)
        name = f"{grid.parameter}{'_' + grid.marker if grid.marker else ''}"
        method = vocab_combo(grid.methods, empty="— method —")
        method.setObjectName(f"method_{name}")
        value = result = None
        if grid.unit is not None:
            value = QLineEdit(objectName=f"value_{name}", placeholderText=f"in {grid.unit}")
            value.setAccessibleName(f"{_parameter_text(grid.parameter, grid.marker)} value")
            editor: QWidget = value
        else:
            result = vocab_combo(grid.results, empty="— result —")
            result.setObjectName(f"result_{name}")
            editor = result
        measured_by = vocab_combo(MeasuredBy, empty="— who measured —")
        measured_by.setObjectName(f"by_{name}")
        laboratory = QLineEdit(objectName=f"lab_{name}", placeholderText="laboratory")
        tested_on = optional_date_edit()
        tested_on.setObjectName(f"tested_{name}")
        assessment = QLabel(objectName=f"assess_{name}")
        assessment.setWordWrap(True)
        save = QPushButton("Save", objectName=f"save_{name}")
        entry = EntryRow(grid, method, value, result, measured_by, laboratory, tested_on, assessment, save)
        for column, widget in (
            (C_METHOD, method),
            (C_VALUE, editor),
            (C_BY, measured_by),
            (C_LAB, laboratory),
            (C_DATE, tested_on),
            (C_ASSESS, assessment),
            (C_ACTION, save),
        ):
            self.table.setCellWidget(row, column, widget)
        save.clicked.connect(lambda _=False, e=entry: self.save_entry(e))
        if value is not None:
            value.textChanged.connect(lambda _text, e=entry: self.assess_entry(e))
            value.returnPressed.connect(lambda e=entry: self.save_entry(e))
        if result is not None:
            result.currentIndexChanged.connect(lambda _i, e=entry: self.assess_entry(e))
        gate(
            self.ctx,
            STAFF,
            [method, editor, measured_by, laboratory, tested_on, save],
            "record characterization results",
        )
        self.entries.append(entry)
        self.assess_entry(entry)
        return entry

    def entry(self, parameter: str, marker: str | None = None) -> EntryRow:
        return next(e for e in self.entries if e.key == (parameter, marker))

    def save_focused_entry(self) -> None:
        focused = self.focusWidget()
        for entry in self.entries:
            if focused is not None and any(w is focused or w.isAncestorOf(focused) for w in entry.fields().values()):
                self.save_entry(entry)
                return

    def assess_entry(self, entry: EntryRow) -> None:
        """Read what is typed against the specification (characterization.assess: the service's reading)."""
        if self.sheet is None:
            return
        grid = entry.grid
        value: float | None = None
        if entry.value is not None and entry.value.text().strip():
            try:
                value = float(entry.value.text().strip().replace(",", "."))
            except ValueError:
                entry.assessment.setText("not a number")
                set_role(entry.assessment, "error")
                return
        spec, ok = assess(
            self.sheet.specification,
            grid.parameter,
            value=value,
            result=entry.result.currentData() if entry.result else None,
            marker=grid.marker,
        )
        entry.assessment.setText(_assessment_text(spec, ok))
        set_role(entry.assessment, "error" if ok is False else "")

    def save_entry(self, entry: EntryRow) -> None:
        """Record the row's result; a refusal shows beside the row's fields and keeps what was typed."""
        if not self.can_edit:
            return
        fields = entry.fields()
        for widget in fields.values():
            mark_invalid(widget, False)
        certificate = self.current_certificate()
        ctx, lot_id, grid = self.ctx, self.lot_id, entry.grid
        typed = entry.typed()
        document_id = certificate["id"] if certificate else None

        def call() -> int:
            return add_characterization_result(
                ctx,
                lot_id,
                grid.parameter,
                value=typed["value"],
                result=typed["result"],
                method=typed["method"],
                marker=grid.marker,
                measured_by=typed["measured_by"],
                document_id=document_id,
                laboratory=typed["laboratory"] or None,
                tested_on=typed["tested_on"],
            )

        def refused(error: RegistryError) -> None:
            entry.assessment.setText(error.message)  # beside the fields, as well as in the banner
            set_role(entry.assessment, "error")

        attempt_op(
            self,
            self.banner,
            call,
            lambda _id: self._saved(),
            fields,
            busy=[entry.save],
            on_refused=refused,
            title="Saving the result",
        )

    def _saved(self) -> None:
        self.saved += 1
        self.reload()

    def void_result(self, result_id: int) -> ReasonDialog | None:
        if not self.can_edit:
            return None
        ctx = self.ctx
        dialog = ReasonDialog(
            "Void a result",
            "Say why this result is void (e.g. typed for the wrong lot). It stays "
            "on record, marked void, with your reason.",
            lambda reason: void_characterization_result(ctx, result_id, reason),
            self,
        )
        dialog.accepted.connect(lambda: self.reload())
        return show_dialog(dialog)


def open_characterization(
    parent: QWidget | None, ctx: ServiceContext, lot_id: int, *, from_coa: bool = False, show_certificate: bool = False
) -> CharacterizationEditor:
    """Open the lot's characterization grid. `show_certificate` opens the certificate pane beside it (with
    Attach a CoA… in focus); `from_coa` also asks at once for the certificate's file."""
    editor = show_dialog(CharacterizationEditor(ctx, lot_id, parent))
    if show_certificate or from_coa:
        editor.open_certificate_pane()
    if from_coa and editor.can_edit:
        editor.choose_certificate()
    return editor


__all__ = ["CharacterizationEditor", "open_characterization"]
