"""Temperature excursions on a lot (USE-TEMPERATURE): record one as a logger shows it (from, to, lowest and
highest reading; services.lots.excursions.record_excursion keeps the reading furthest outside the storage range and
the span as the duration) and resolve it with a disposition (use with a justification, quarantine, destroy),
electronically signed: the password typed again, as at release.

Openers: `open_excursions(parent, ctx, lot_id)` (the lot's excursions, the first open one selected for Resolve…)
and `open_record_excursion(parent, ctx, lot_id)`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import ExcursionResolution, label
from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.lots.excursions import ExcursionView, list_excursions, record_excursion, sign_excursion_resolution
from ...services.lots.receiving import LotInfo, get_lot
from ...services.queries.lot_record import as_text
from ..dialogs.forms import ErrorBanner, attempt_op, number_or_none, optional_number, vocab_combo, wire_keyboard
from ..dialogs.signature import SignaturePanel
from ..dialogs.undo import FormUndo
from ..ops import report_unexpected, runner_for
from ..wording import count_phrase
from .lot_editor_kit import gate, notes_edit, save_cancel_buttons, show_dialog


def _date_time(value: datetime) -> QDateTimeEdit:
    edit = QDateTimeEdit(QDateTime(value))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    return edit


class RecordExcursionDialog(QDialog):
    """`excursion_id` is set once saved."""

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.excursion_id: int | None = None
        self.setWindowTitle("Record a temperature excursion")
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        form = QFormLayout()
        now = datetime.now().replace(second=0, microsecond=0)
        self.started = _date_time(now - timedelta(hours=1))
        self.started.setObjectName("excursionFrom")
        self.ended = _date_time(now)
        self.ended.setObjectName("excursionTo")
        self.ended_known = QCheckBox("Ended at", objectName="excursionEndedKnown")
        self.ended_known.setChecked(True)
        self.ended_known.toggled.connect(self.ended.setEnabled)
        ended_row = QHBoxLayout()
        ended_row.addWidget(self.ended_known)
        ended_row.addWidget(self.ended, 1)
        self.lowest = optional_number(-273.0, 100.0, 1, " °C")
        self.lowest.setObjectName("excursionMin")
        self.highest = optional_number(-273.0, 100.0, 1, " °C")
        self.highest.setObjectName("excursionMax")
        self.notes = notes_edit("e.g. fridge door left open overnight; data logger 3", height=70)
        self.notes.setObjectName("excursionNotes")
        form.addRow("&From", self.started)
        form.addRow("&To", ended_row)
        form.addRow("&Lowest reading", self.lowest)
        form.addRow("&Highest reading", self.highest)
        form.addRow("&Notes", self.notes)
        layout.addLayout(form)
        self.buttons, self.save_button = save_cancel_buttons(self, layout, self.submit)
        self.fields: dict[str, QWidget] = {
            "occurred_at": self.started,
            "ended_at": self.ended,
            "min_c": self.lowest,
            "max_c": self.highest,
            "reading_c": self.highest,
            "duration_minutes": self.ended,
            "notes": self.notes,
        }
        self.can_edit = gate(
            ctx,
            STAFF,
            [self.started, self.ended, self.ended_known, self.lowest, self.highest, self.notes, self.save_button],
            "record temperature excursions",
        )
        self.undo = FormUndo(self)  # Ctrl+Z across the fields until saved
        for name, widget in (
            ("from", self.started),
            ("to", self.ended),
            ("lowest", self.lowest),
            ("highest", self.highest),
            ("notes", self.notes),
        ):
            self.undo.watch(widget, name)

    def submit(self) -> None:
        if not self.can_edit:
            return
        ctx, lot_id = self.ctx, self.lot_id
        started: datetime = self.started.dateTime().toPython()  # type: ignore[assignment]
        ended: datetime | None = self.ended.dateTime().toPython() if self.ended_known.isChecked() else None  # type: ignore[assignment]
        lowest, highest, notes = number_or_none(self.lowest), number_or_none(self.highest), self.notes.toPlainText()
        attempt_op(
            self,
            self.banner,
            lambda: record_excursion(ctx, lot_id, started, notes=notes, ended_at=ended, min_c=lowest, max_c=highest),
            self._saved,
            self.fields,
            busy=[self.buttons],
            title="Recording the excursion",
        )

    def _saved(self, excursion_id: int) -> None:
        self.excursion_id = excursion_id
        self.undo.clear()
        self.accept()


class ResolveExcursionDialog(QDialog):
    """The disposition, its justification and the signature. `signature_id` is set once signed and saved."""

    def __init__(self, ctx: ServiceContext, excursion: ExcursionView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.excursion = excursion
        self.signature_id: int | None = None
        self.setWindowTitle("Resolve a temperature excursion")
        self.resize(560, 460)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        duration = f" for {excursion.duration_minutes} min" if excursion.duration_minutes is not None else ""
        extremes = " – ".join(f"{v:g} °C" for v in (excursion.min_c, excursion.max_c) if v is not None)
        heading = QLabel(
            f"<b>{excursion.reading_c:g} °C</b> from {as_text(excursion.occurred_at)}{duration}"
            + (f" (readings {extremes})" if extremes else "")
            + (f"<br>{excursion.notes}" if excursion.notes else ""),
            wordWrap=True,
        )
        layout.addWidget(heading)
        explanation = QLabel(
            "Use: the lot stays as it is (say why, e.g. the manufacturer's stability data). "
            "Quarantine: the lot goes back to quarantine and needs a new release. Destroy: what is "
            "on hand is destroyed.",
            wordWrap=True,
        )
        layout.addWidget(explanation)
        form = QFormLayout()
        self.disposition = vocab_combo(ExcursionResolution, empty="— choose the disposition —")
        self.disposition.setObjectName("disposition")
        form.addRow("&Disposition", self.disposition)
        layout.addLayout(form)
        self.signature = SignaturePanel(ctx, "approved", reason_label="Justification")
        # Stored with the meaning "approved"; what the signer approves, in words:
        self.signature.meaning_label.setText("I approve this disposition of the lot after the excursion.")
        layout.addWidget(self.signature)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.sign_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_button.setText("&Sign and resolve")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.sign_button)
        self.fields: dict[str, QWidget] = {"resolution": self.disposition, "note": self.signature.reason_edit}
        self.can_edit = gate(
            ctx, STAFF, [self.disposition, self.signature, self.sign_button], "resolve temperature excursions"
        )
        self.undo = FormUndo(self)  # the disposition and justification, until signed (never after)
        self.undo.watch(self.disposition, "disposition")
        self.undo.watch(self.signature.reason_edit, "justification")
        if not excursion.is_open:
            self.sign_button.setEnabled(False)
            self.banner.show_warning(f"Resolved already: {label(excursion.resolution).lower()}.")
        self.disposition.setFocus()

    def submit(self) -> None:
        if not self.can_edit or not self.excursion.is_open:
            return
        missing = self.signature.missing()
        if missing:
            self.banner.show_error("\n".join(missing))
            self.signature.password_edit.setFocus()
            return
        ctx, excursion_id = self.ctx, self.excursion.id
        resolution, note, password = (
            self.disposition.currentData() or "",
            self.signature.reason(),
            self.signature.password(),
        )
        attempt_op(
            self,
            self.banner,
            lambda: sign_excursion_resolution(ctx, excursion_id, resolution, note, password),
            self._signed,
            self.fields,
            busy=[self.buttons],
            on_refused=lambda _error: self.signature.clear_password(),
            title="Resolving the excursion",
        )

    def _signed(self, signature_id: int) -> None:
        self.signature_id = signature_id
        self.undo.clear()
        self.accept()


class ExcursionsDialog(QDialog):
    """The lot's excursions, newest first: record one, resolve the selected open one."""

    COLUMNS = (
        "Began",
        "Ended",
        "Reading",
        "Lowest – highest",
        "Duration (min)",
        "Notes",
        "Disposition",
        "Resolved",
        "Justification",
    )
    DISPOSITION = COLUMNS.index("Disposition")

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.excursions: list[ExcursionView] = []
        self.child: QDialog | None = None
        self.setWindowTitle("Temperature excursions")
        self.resize(1040, 420)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.heading = QLabel(objectName="excursionsHeading", wordWrap=True)
        layout.addWidget(self.heading)
        self.table = QTableWidget(0, len(self.COLUMNS), objectName="excursionsTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        self.record_button = QPushButton("&Record an excursion…", objectName="recordExcursion")
        self.record_button.clicked.connect(lambda: self.record())
        self.resolve_button = QPushButton("Re&solve…", objectName="resolveExcursion")
        self.resolve_button.clicked.connect(lambda: self.resolve_selected())
        row.addWidget(self.record_button)
        row.addWidget(self.resolve_button)
        row.addStretch()
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.can_record = gate(ctx, STAFF, [self.record_button], "record temperature excursions")
        self.can_resolve = gate(ctx, STAFF, [self.resolve_button], "resolve temperature excursions")
        self.reload()

    def reload(self) -> None:
        ctx, lot_id = self.ctx, self.lot_id

        def failed(error: BaseException) -> None:
            if isinstance(error, RegistryError):
                self.banner.show_error(error.message)
            else:
                report_unexpected(self, error)

        runner_for(self).run(
            self,
            lambda _p: (get_lot(ctx, lot_id), list_excursions(ctx, lot_id)),
            lambda found: self._show(*found),
            failed,
            title="Reading the excursions",
        )

    def _show(self, lot: LotInfo, excursions: list[ExcursionView]) -> None:
        self.excursions = excursions
        still_open = sum(e.is_open for e in excursions)
        self.heading.setText(
            f"<b>{lot.product_name}</b>, lot <b>{lot.lot_number}</b> ({label(lot.status).lower()})"
            f" — {count_phrase(still_open, 'open excursion')}: USE-TEMPERATURE stays until each is "
            "resolved."
            if still_open
            else f"<b>{lot.product_name}</b>, lot <b>{lot.lot_number}</b> "
            f"({label(lot.status).lower()}) — no open excursion."
        )
        self.table.setRowCount(len(excursions))
        for r, e in enumerate(excursions):
            extremes = " – ".join(f"{v:g} °C" for v in (e.min_c, e.max_c) if v is not None)
            cells = (
                e.occurred_at,
                e.ended_at,
                f"{e.reading_c:g} °C",
                extremes,
                e.duration_minutes,
                e.notes,
                label(e.resolution) if e.resolution else "OPEN",
                e.resolved_at,
                e.resolution_note,
            )
            for c, value in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(as_text(value)))
        first_open = next((r for r, e in enumerate(excursions) if e.is_open), 0 if excursions else -1)
        if first_open >= 0:
            self.table.selectRow(first_open)
        self._selection_changed()

    def selected(self) -> ExcursionView | None:
        row = self.table.currentRow()
        return self.excursions[row] if 0 <= row < len(self.excursions) else None

    def _selection_changed(self) -> None:
        if self.can_resolve:
            excursion = self.selected()
            self.resolve_button.setEnabled(excursion is not None and excursion.is_open)

    def record(self) -> RecordExcursionDialog | None:
        if not self.can_record:
            return None
        dialog = open_record_excursion(self, self.ctx, self.lot_id)
        dialog.accepted.connect(self.reload)
        self.child = dialog
        return dialog

    def resolve_selected(self) -> ResolveExcursionDialog | None:
        excursion = self.selected()
        if excursion is None or not excursion.is_open or not self.can_resolve:
            return None
        dialog = show_dialog(ResolveExcursionDialog(self.ctx, excursion, self))
        dialog.accepted.connect(self.reload)
        self.child = dialog
        return dialog


def open_excursions(parent: QWidget | None, ctx: ServiceContext, lot_id: int) -> ExcursionsDialog:
    return show_dialog(ExcursionsDialog(ctx, lot_id, parent))


def open_record_excursion(parent: QWidget | None, ctx: ServiceContext, lot_id: int) -> RecordExcursionDialog:
    return show_dialog(RecordExcursionDialog(ctx, lot_id, parent))
