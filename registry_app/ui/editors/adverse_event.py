"""Adverse events after an administration: record one (event kind, onset, severity, notes) and report it
(status, reference, date, or why it is not reportable), which closes AE-UNREPORTED.

Openers: `open_adverse_events(parent, ctx, lot_id)` (the lot's administrations and events),
`open_record_adverse_event(parent, ctx, administration_id)` and `open_adverse_event_report(parent, ctx,
adverse_event_id)`; `add_adverse_event_action(page)` puts "Record an adverse event…" on the Administrations list.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import AdverseEventSeverity, AdverseEventType, ReportStatus, label
from ...services import RegistryError, ServiceContext
from ...services.adverse_events import (
    AdverseEventView,
    get_adverse_event,
    list_adverse_events,
    record_adverse_event,
    update_adverse_event_report,
)
from ...services.context import STAFF
from ...services.flags import flags_for_subject
from ...services.queries.lot_record import LotDetail, as_text, lot_detail
from ..dialogs.forms import (
    ErrorBanner,
    attempt_op,
    date_edit,
    date_or_none,
    optional_date_edit,
    set_combo_value,
    vocab_combo,
)
from ..dialogs.undo import FormUndo
from ..ops import report_unexpected, runner_for
from .lot_editor_kit import gate, notes_edit, save_cancel_buttons, show_dialog


def _failed(widget: QWidget, banner: ErrorBanner) -> Any:
    def failed(error: BaseException) -> None:
        if isinstance(error, RegistryError):
            banner.show_error(error.message)
        else:
            report_unexpected(widget, error)

    return failed


class RecordAdverseEventDialog(QDialog):
    """`event_id` is set once saved."""

    def __init__(
        self, ctx: ServiceContext, administration_id: int, parent: QWidget | None = None, heading: str = ""
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.administration_id = administration_id
        self.event_id: int | None = None
        self.setWindowTitle("Record an adverse event")
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        layout.addWidget(QLabel(heading or f"After administration {administration_id}", wordWrap=True))
        form = QFormLayout()
        self.event_type = vocab_combo(AdverseEventType, empty="— choose the event —")
        self.event_type.setObjectName("eventType")
        self.onset = optional_date_edit()
        self.onset.setObjectName("onsetDate")
        self.severity = vocab_combo(AdverseEventSeverity)
        self.severity.setObjectName("severity")
        self.notes = notes_edit("What was seen, treatment given, outcome")
        self.notes.setObjectName("notes")
        for text, widget in (
            ("&Event", self.event_type),
            ("&Onset", self.onset),
            ("Se&verity", self.severity),
            ("&Notes", self.notes),
        ):
            form.addRow(text, widget)
        layout.addLayout(form)
        self.buttons, self.save_button = save_cancel_buttons(self, layout, self.submit)
        self.fields: dict[str, QWidget] = {
            "event_type": self.event_type,
            "onset_date": self.onset,
            "severity": self.severity,
            "description": self.notes,
        }
        self.can_edit = gate(ctx, STAFF, [*self.fields.values(), self.save_button], "record adverse events")
        self.undo = FormUndo(self)  # Ctrl+Z across the fields until saved
        for name, widget in self.fields.items():
            self.undo.watch(widget, name)
        self.event_type.setFocus()

    def submit(self) -> None:
        if not self.can_edit:
            return
        ctx, administration_id = self.ctx, self.administration_id
        event_type = self.event_type.currentData() or ""
        onset, severity, notes = date_or_none(self.onset), self.severity.currentData(), self.notes.toPlainText()
        attempt_op(
            self,
            self.banner,
            lambda: record_adverse_event(
                ctx, administration_id, event_type, onset_date=onset, severity=severity, description=notes
            ),
            self._saved,
            self.fields,
            busy=[self.buttons],
            title="Recording the adverse event",
        )

    def _saved(self, event_id: int) -> None:
        self.event_id = event_id
        self.undo.clear()
        self.accept()


class AdverseEventReportDialog(QDialog):
    """Where the event was reported, or why it is not reportable. `saved` once the report is recorded."""

    def __init__(self, ctx: ServiceContext, adverse_event_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.adverse_event_id = adverse_event_id
        self.saved = False
        self.setWindowTitle("Report an adverse event")
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.heading = QLabel(objectName="eventHeading", wordWrap=True)
        layout.addWidget(self.heading)
        self.finding = QLabel(objectName="eventFinding", wordWrap=True)
        layout.addWidget(self.finding)
        form = QFormLayout()
        self.status = vocab_combo(ReportStatus, empty=None)
        self.status.setObjectName("reportStatus")
        self.reference = QLineEdit(objectName="reportReference", placeholderText="e.g. MedWatch or complaint number")
        self.reported_on = date_edit()
        self.reported_on.setObjectName("reportedOn")
        self.reason = notes_edit("Why the event is not reportable")
        self.reason.setObjectName("notReportableReason")
        for text, widget in (
            ("Report &status", self.status),
            ("&Reference", self.reference),
            ("Reported &on", self.reported_on),
            ("Why not re&portable", self.reason),
        ):
            form.addRow(text, widget)
        layout.addLayout(form)
        self.buttons, self.save_button = save_cancel_buttons(self, layout, self.submit)
        self.fields: dict[str, QWidget] = {
            "report_status": self.status,
            "report_reference": self.reference,
            "reported_on": self.reported_on,
            "not_reportable_reason": self.reason,
        }
        self.status.currentIndexChanged.connect(self._status_changed)
        self.can_edit = gate(ctx, STAFF, [*self.fields.values(), self.save_button], "report adverse events")
        self.event: AdverseEventView | None = None
        self.reload()

    def reload(self) -> None:
        ctx, event_id = self.ctx, self.adverse_event_id
        runner_for(self).run(
            self,
            lambda _p: (get_adverse_event(ctx, event_id), flags_for_subject(ctx, "adverse_event", event_id)),
            lambda found: self._show(*found),
            _failed(self, self.banner),
            title="Reading the event",
        )

    def _show(self, event: AdverseEventView, flags: list[Any]) -> None:
        self.event = event
        self.heading.setText(
            f"<b>{label(event.event_type)}</b>{' (' + label(event.severity).lower() + ')' if event.severity else ''}"
            f" after {event.product_name}, lot {event.lot_number}, patient {event.patient_ref or '?'}, "
            f"administered {as_text(event.administered_at)}; recorded {as_text(event.recorded_at)}."
        )
        open_flags = [f for f in flags if not f.waived]
        self.finding.setText(
            "\n".join(f"{f.code}: {f.message}" for f in open_flags)
            or f"Report status: {label(event.report_status).lower()}."
        )
        if not self.saved:
            set_combo_value(
                self.status, event.report_status if event.report_status != "not_reported" else "reported_manufacturer"
            )
            self.reference.setText(event.report_reference or "")
        self._status_changed()

    def _status_changed(self, *_: object) -> None:
        # Which fields the chosen status uses (the service decides what is required; this only guides).
        status = self.status.currentData()
        reported = status in ("reported_manufacturer", "reported_regulator")
        if self.can_edit:
            self.reference.setEnabled(reported)
            self.reported_on.setEnabled(reported)
            self.reason.setEnabled(status == "not_reportable")

    def submit(self) -> None:
        if not self.can_edit:
            return
        ctx, event_id, status = self.ctx, self.adverse_event_id, self.status.currentData()
        reference, reason = self.reference.text(), self.reason.toPlainText()
        reported_on = self.reported_on.date().toPython() if self.reported_on.isEnabled() else None
        attempt_op(
            self,
            self.banner,
            lambda: update_adverse_event_report(
                ctx, event_id, status, report_reference=reference, not_reportable_reason=reason, reported_on=reported_on
            ),
            lambda _r: self._saved(),
            self.fields,
            busy=[self.buttons],
            title="Saving the report",
        )

    def _saved(self) -> None:
        self.saved = True
        self.accept()


class AdverseEventsDialog(QDialog):
    """The lot's administrations (record an event after one) and its adverse events (report one)."""

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.detail: LotDetail | None = None
        self.events: list[AdverseEventView] = []
        self.child: QDialog | None = None
        self.setWindowTitle("Adverse events")
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.heading = QLabel(wordWrap=True)
        layout.addWidget(self.heading)
        layout.addWidget(QLabel("Administrations of this lot"))
        self.administrations = self._table(
            ["When", "Patient", "Route", "Quantity", "Practitioner"], "aeAdministrations"
        )
        layout.addWidget(self.administrations)
        self.record_button = QPushButton("&Record an adverse event…", objectName="recordAdverseEvent")
        self.record_button.clicked.connect(lambda: self.record_for_selected())
        layout.addWidget(self.record_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(QLabel("Adverse events"))
        self.events_table = self._table(
            ["Recorded", "Patient", "Event", "Severity", "Onset", "Report status", "Reference"], "aeEvents"
        )
        layout.addWidget(self.events_table)
        row = QHBoxLayout()
        self.report_button = QPushButton("Re&port…", objectName="reportAdverseEvent")
        self.report_button.clicked.connect(lambda: self.report_selected())
        row.addWidget(self.report_button)
        row.addStretch()
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        gate(ctx, STAFF, [self.record_button], "record adverse events")
        gate(ctx, STAFF, [self.report_button], "report adverse events")
        self.reload()

    @staticmethod
    def _table(headers: list[str], name: str) -> QTableWidget:
        table = QTableWidget(0, len(headers), objectName=name)
        table.setHorizontalHeaderLabels(headers)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().hide()
        table.horizontalHeader().setStretchLastSection(True)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        return table

    def reload(self) -> None:
        ctx, lot_id = self.ctx, self.lot_id
        runner_for(self).run(
            self,
            lambda _p: (lot_detail(ctx, lot_id), list_adverse_events(ctx, lot_id=lot_id)),
            lambda found: self._show(*found),
            _failed(self, self.banner),
            title="Reading the lot",
        )

    def _show(self, detail: LotDetail, events: list[AdverseEventView]) -> None:
        self.detail, self.events = detail, events
        self.heading.setText(f"<b>{detail.product}</b>, lot <b>{detail.fields['lot_number']}</b>")
        self.administrations.setRowCount(len(detail.administrations))
        for r, a in enumerate(detail.administrations):
            for c, value in enumerate(
                (a["administered_at"], a["patient_ref"], label(a["route"]), a["quantity"], a["practitioner"])
            ):
                self.administrations.setItem(r, c, QTableWidgetItem(as_text(value)))
        if detail.administrations:
            self.administrations.selectRow(0)
        self.events_table.setRowCount(len(events))
        for r, e in enumerate(events):
            for c, value in enumerate(
                (
                    e.recorded_at,
                    e.patient_ref,
                    label(e.event_type),
                    label(e.severity),
                    e.onset_date,
                    label(e.report_status),
                    e.report_reference,
                )
            ):
                self.events_table.setItem(r, c, QTableWidgetItem(as_text(value)))
        unreported = next((r for r, e in enumerate(events) if e.report_status == "not_reported"), 0 if events else -1)
        if unreported >= 0:
            self.events_table.selectRow(unreported)

    def record_for_selected(self) -> RecordAdverseEventDialog | None:
        row = self.administrations.currentRow()
        if self.detail is None or not 0 <= row < len(self.detail.administrations) or not self.record_button.isEnabled():
            return None
        administration = self.detail.administrations[row]
        dialog = open_record_adverse_event(self, self.ctx, administration["id"])
        dialog.accepted.connect(self.reload)
        self.child = dialog
        return dialog

    def report_selected(self) -> AdverseEventReportDialog | None:
        row = self.events_table.currentRow()
        if not 0 <= row < len(self.events) or not self.report_button.isEnabled():
            return None
        dialog = open_adverse_event_report(self, self.ctx, self.events[row].id)
        dialog.accepted.connect(self.reload)
        self.child = dialog
        return dialog


def open_adverse_events(parent: QWidget | None, ctx: ServiceContext, lot_id: int) -> AdverseEventsDialog:
    return show_dialog(AdverseEventsDialog(ctx, lot_id, parent))


def open_record_adverse_event(
    parent: QWidget | None, ctx: ServiceContext, administration_id: int
) -> RecordAdverseEventDialog:
    return show_dialog(RecordAdverseEventDialog(ctx, administration_id, parent))


def open_adverse_event_report(
    parent: QWidget | None, ctx: ServiceContext, adverse_event_id: int
) -> AdverseEventReportDialog:
    return show_dialog(AdverseEventReportDialog(ctx, adverse_event_id, parent))


def add_adverse_event_action(page: Any) -> QAction:
    """ "Record an adverse event…" on the Administrations list (context menu, Ctrl+Shift+E) for the row selected:
    `page` is a ListPage whose rows carry the administration's id."""
    action = QAction("Record an adverse &event…", page.table)
    action.setObjectName("recordAdverseEventFromList")
    action.setShortcut(QKeySequence("Ctrl+Shift+E"))
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def run() -> None:
        index = page.table.currentIndex()
        if not index.isValid():
            return
        source = page.proxy.mapToSource(index)
        row = page.model.item(source.row(), 0).data(Qt.ItemDataRole.UserRole + 1)
        page.adverse_event_dialog = open_record_adverse_event(page, page.ctx, int(row["id"]))

    action.triggered.connect(run)
    page.table.addAction(action)
    page.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    gate(page.ctx, STAFF, [action], "record adverse events")  # type: ignore[list-item]
    return action
