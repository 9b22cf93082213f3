"""Recalling a lot (medical director, signed) and its lookback: every patient who received it, each marked
notified as the clinic reaches them, exported to CSV or PDF for the recall file.

The lookback opens at once after the recall is signed; it can also be opened on any lot from the lot record
(and by an inspector, who sees the list and the exports but no action that changes records).
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QDateTime, QMarginsF, Qt, Signal
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
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

from ...domain.exact import quantity_text
from ...domain.vocab import label
from ...services import RegistryError, ServiceContext
from ...services.clock import site_clock
from ...services.context import DIRECTOR, STAFF
from ...services.formats import CSV_ENCODING, csv_cells
from ...services.group_recall import NotificationToMake, notifications_to_make
from ...services.lots.lifecycle import lifecycle_refusal
from ...services.outputs import output_target, publish, temporary_beside
from ...services.recalls import RecallResult, Trace, mark_patient_notified, recall_lot, trace_lot
from ..ops import report_unexpected, runner_for
from ..wording import count_phrase, sentence_case
from .date_field import date_problems
from .forms import ErrorBanner, attempt, attempt_op, date_edit, has_role, wire_keyboard
from .lots import LotPicker
from .signature import SignaturePanel

LOOKBACK_COLUMNS = ("Administered", "Patient", "Route", "Body areas", "Practitioner", "Quantity", "Notified on", "How")
TO_NOTIFY_COLUMNS = ("Site", "Product", "Lot", "Recalled from", "Administered", "Patient", "Practitioner")


class RecallDialog(QDialog):
    """Pick the lot, give the reason and the date, sign. `recalled` fires with the RecallResult."""

    recalled = Signal(object)

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None, *, lot_id: int | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.result: RecallResult | None = None
        self.lookback: LookbackDialog | None = None
        self.setWindowTitle("Recall a lot")
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        form = QFormLayout()
        self.lot_picker = LotPicker(ctx)
        lot_label = QLabel("&Lot (scan or number)")
        lot_label.setBuddy(self.lot_picker.scan_edit)
        form.addRow(lot_label, self.lot_picker)
        # A recall is a moment: from now unless the supplier's notice says otherwise (an administration earlier
        # today was made before it).
        # On the site's clock, as the moment is stored: a clinic in Seoul on a server in New York recalls at 9:00.
        site_now = QDateTime(site_clock(ctx).now().replace(second=0, microsecond=0))
        self.recall_date = QDateTimeEdit(site_now)
        self.recall_date.setCalendarPopup(True)
        self.recall_date.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.recall_date.setMaximumDateTime(site_now.addSecs(15 * 60))
        date_label = QLabel("Recalled &from")
        date_label.setBuddy(self.recall_date)
        form.addRow(date_label, self.recall_date)
        layout.addLayout(form)
        self.signature = SignaturePanel(ctx, "recalled", needs_reason=True, reason_label="Reason for the recall")
        layout.addWidget(self.signature)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.recall_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.recall_button.setText("&Sign and recall")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.recall_button)
        if not has_role(ctx, DIRECTOR):
            self.recall_button.setEnabled(False)
            self.recall_button.setToolTip("Only a medical director may recall a lot.")
            self.banner.show_warning("Only a medical director may recall a lot.")
        else:
            # A lot recalled already: say so before the director signs, not after (issue 20.4).
            self.lot_picker.lot_changed.connect(self._lot_changed)
        if lot_id is not None:
            self.lot_picker.select_lot(lot_id)
        self.lot_picker.scan_edit.setFocus()

    def _lot_changed(self, ref: object) -> None:
        status = getattr(ref, "status", None)
        why = lifecycle_refusal("recall", status, getattr(ref, "lot_number", "")) if status else None
        self.recall_button.setEnabled(why is None)
        self.recall_button.setToolTip(sentence_case(why) + "." if why else "")
        if why:
            self.banner.show_warning(sentence_case(why) + ".")
        else:
            self.banner.clear_message()

    def submit(self) -> None:
        lot_id = self.lot_picker.lot_id()
        problems = ([] if lot_id is not None else ["Lot: scan or type the lot to recall."]) + self.signature.missing()
        if problems:
            self.banner.show_error("\n".join(problems))
            return
        assert lot_id is not None
        ctx, reason, password = self.ctx, self.signature.reason(), self.signature.password()
        recalled_from: datetime = self.recall_date.dateTime().toPython().replace(second=0, microsecond=0)
        attempt_op(
            self,
            self.banner,
            lambda: recall_lot(ctx, lot_id, reason, password, recalled_from),
            self._recalled,
            {"reason": self.signature.reason_edit, "recall_date": self.recall_date},
            busy=[self.buttons],
            on_refused=lambda _error: self.signature.clear_password(),
        )

    def _recalled(self, result: RecallResult) -> None:
        self.result = result
        self.recalled.emit(result)
        self.accept()
        # The lookback list opens at once: the next job is telling the patients.
        self.lookback = LookbackDialog(self.ctx, result.lot_id, self.parentWidget())
        if result.also_recalled:
            self.lookback.banner.show_warning(
                f"The same lot (number and GTIN) was recalled at site {', '.join(result.also_recalled)} too: "
                "each site's staff see their patients under Lot > Patients to notify."
            )
        self.lookback.show()


class LookbackDialog(QDialog):
    """Every current administration of a lot, with notification status, Mark notified and exports."""

    def __init__(self, ctx: ServiceContext, lot_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.lot_id = lot_id
        self.trace: Trace | None = None
        self.setWindowTitle("Recall lookback")
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.table = QTableWidget(0, len(LOOKBACK_COLUMNS))
        self.table.setHorizontalHeaderLabels(LOOKBACK_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName("Patients who received the lot")
        layout.addWidget(self.table, 1)

        self.notify_box = QGroupBox("Mark the selected patients notified")
        notify_form = QFormLayout(self.notify_box)
        self.notified_on = date_edit(site_clock(ctx).now().date())  # the site's today
        notify_form.addRow(self._label("Notified &on", self.notified_on), self.notified_on)
        self.notified_how = QLineEdit()
        self.notified_how.setPlaceholderText("phone, letter, visit …")
        notify_form.addRow(self._label("&How", self.notified_how), self.notified_how)
        self.notify_button = QPushButton("&Mark notified")
        self.notify_button.clicked.connect(self.mark_selected_notified)
        self.notified_how.returnPressed.connect(self.notify_button.click)
        notify_form.addRow(self.notify_button)
        layout.addWidget(self.notify_box)
        if not has_role(ctx, STAFF):
            self.notify_box.hide()  # an inspector reads and exports, never changes

        row = QHBoxLayout()
        self.csv_button = QPushButton("Export &CSV…")
        self.csv_button.clicked.connect(lambda: self._export_to_chosen("csv"))
        self.pdf_button = QPushButton("Export &PDF…")
        self.pdf_button.clicked.connect(lambda: self._export_to_chosen("pdf"))
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.accept)
        row.addWidget(self.csv_button)
        row.addWidget(self.pdf_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout.addLayout(row)
        self.reload()
        self.table.setFocus()

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        title = QLabel(text)
        title.setBuddy(buddy)
        return title

    def reload(self) -> None:
        trace = attempt(self.banner, lambda: trace_lot(self.ctx, self.lot_id))
        if trace is None:
            return
        self.trace = trace
        waiting = len(trace.not_notified)
        # "recalled from <moment>" says the status once, not "recalled, recalled from <date>" (issue 20.7).
        state = label(trace.status).lower()
        if trace.recalled_from:
            state = (
                f"recalled from {trace.recalled_from}"
                if trace.status == "recalled"
                else f"{state}, recalled from {trace.recalled_from}"
            )
        self.heading.setText(
            f"<b>{trace.product_name}</b>, lot <b>{trace.lot_number}</b> ({state}): "
            f"{count_phrase(len(trace.administrations), 'administration')}, "
            f"{count_phrase(waiting, 'patient')} still to notify."
        )
        self.table.setRowCount(len(trace.administrations))
        for r, row in enumerate(self.rows()):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setData(Qt.ItemDataRole.UserRole, trace.administrations[r].id)
                self.table.setItem(r, c, item)

    def rows(self) -> list[list[str]]:
        assert self.trace is not None
        return [
            [
                a.when(sep=" "),
                a.patient_ref or "",
                label(a.route),
                (a.body_areas or "").replace(";", ", "),
                a.practitioner or "",
                "" if a.quantity is None else quantity_text(a.quantity),
                a.patient_notified_on.isoformat() if a.patient_notified_on else "",
                a.notified_how or "",
            ]
            for a in self.trace.administrations
        ]

    def selected_administration_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def mark_selected_notified(self) -> None:
        ids = self.selected_administration_ids()
        dates = date_problems(("notified on", self.notified_on))
        if dates:
            self.banner.show_error("\n".join(dates))
            return
        if not ids:
            self.banner.show_error("Select the patients (rows) who were notified first.")
            self.table.setFocus()
            return
        notified_on: date = self.notified_on.date().toPython()
        how, ctx = self.notified_how.text(), self.ctx

        def mark(_progress: object) -> None:
            for administration_id in ids:
                mark_patient_notified(ctx, administration_id, notified_on, how)

        def failed(error: BaseException) -> None:
            if not isinstance(error, RegistryError):
                report_unexpected(self, error)
                return
            self.reload()  # some may have been marked before this one failed
            self.banner.show_error(error.message)

        def done(_result: None) -> None:
            self.banner.clear_message()
            self.reload()

        runner_for(self).run(self, mark, done, failed, title="Marking patients notified", busy=[self.notify_button])

    def _export_to_chosen(self, kind: str) -> None:
        assert self.trace is not None
        default = f"lookback-{self.trace.lot_number}.{kind}"
        name, _ = QFileDialog.getSaveFileName(
            self, f"Export the lookback as {kind.upper()}", default, f"{kind.upper()} (*.{kind})"
        )
        if not name:
            return
        path = Path(name)
        try:
            (self.export_csv if kind == "csv" else self.export_pdf)(path)
        except RegistryError as error:  # a FIFO or device chosen, a full disk
            self.banner.show_error(str(error))
        except OSError as error:
            self.banner.show_error(f"{path}: {error.strerror or error}")

    def export_csv(self, path: Path) -> Path:
        """Write the lookback as CSV. The file dialog has asked before an existing file is chosen, so it is
        replaced; written like every output (services/outputs.py): beside the target, flushed, renamed."""
        assert self.trace is not None
        final = output_target(path, ".csv", replace=True)
        with temporary_beside(final) as temporary:
            # As every CSV the application writes (reports/exports.py): a BOM for Excel, formulas neutralised.
            with temporary.open("w", newline="", encoding=CSV_ENCODING) as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    ["product_name", "lot_number", *[c.lower().replace(" ", "_") for c in LOOKBACK_COLUMNS]]
                )
                for row in self.rows():
                    writer.writerow(csv_cells([self.trace.product_name, self.trace.lot_number, *row]))
            publish(temporary, final, replace=True)
        self.banner.show_warning(f"Saved {final}")
        return final

    def export_pdf(self, path: Path) -> Path:
        assert self.trace is not None
        trace = self.trace
        head = "".join(f"<th>{c}</th>" for c in LOOKBACK_COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{_html(cell)}</td>" for cell in row) + "</tr>" for row in self.rows())
        html = (
            f"<h2>Recall lookback: {_html(trace.product_name)}, lot {_html(trace.lot_number)}</h2>"
            f"<p>Status: {label(trace.status)}"
            + (f"; recalled from {trace.recalled_from}" if trace.recalled_from else "")
            + f". Printed {date.today().isoformat()}. "
            f"{count_phrase(len(trace.not_notified), 'patient')} still to notify.</p>"
            f"<table border='1' cellspacing='0' cellpadding='3'><tr>{head}</tr>{body}</table>"
        )
        writer = QPdfWriter(str(path))
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageOrientation(QPageLayout.Orientation.Landscape)
        writer.setPageMargins(QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter)
        writer.setResolution(96)
        writer.setTitle(f"Recall lookback {trace.lot_number}")
        document = QTextDocument()
        document.setHtml(html)
        document.print_(writer)
        del writer  # finishes the file
        if not path.is_file():
            raise OSError(f"the PDF could not be written to {path}")
        self.banner.show_warning(f"Saved {path}")
        return path


class NotificationsDialog(LookbackDialog):
    """The patients still to notify of every recalled lot at the user's site (a group role: every site's), or
    of one lot and the same lot at the other sites the user may see; marked notified as in the lookback. A
    patient of another site is not listed to a user of one site, and the service refuses to mark them."""

    def __init__(self, ctx: ServiceContext, lot_id: int | None = None, parent: QWidget | None = None) -> None:
        self.notifications: list[NotificationToMake] = []
        super().__init__(ctx, lot_id, parent)  # type: ignore[arg-type]  # None: every recalled lot
        self.setWindowTitle("Patients to notify of a recall")
        self.table.setAccessibleName("Patients still to notify of a recall")
        for button in (self.csv_button, self.pdf_button):
            button.hide()  # the lookback of each lot exports its own list for the recall file

    def reload(self) -> None:
        lot_id: int | None = self.lot_id
        found = attempt(self.banner, lambda: notifications_to_make(self.ctx, lot_id))
        if found is None:
            return
        self.notifications = found
        self.table.setColumnCount(len(TO_NOTIFY_COLUMNS))
        self.table.setHorizontalHeaderLabels(TO_NOTIFY_COLUMNS)
        patients = {(n.site_code, n.administration.patient_ref) for n in found}
        sites = sorted({n.site_code for n in found})
        where = f" at {', '.join(sites)}" if sites else ""
        self.heading.setText(
            f"{count_phrase(len(patients), 'patient')} still to notify of a recall{where} "
            f"({count_phrase(len(found), 'administration')})."
        )
        self.table.setRowCount(len(found))
        for r, row in enumerate(self.rows()):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setData(Qt.ItemDataRole.UserRole, found[r].administration.id)
                self.table.setItem(r, c, item)

    def rows(self) -> list[list[str]]:
        return [
            [
                n.site_code,
                n.administration.product_name,
                n.administration.lot_number,
                n.recalled_from,
                n.administration.when(sep=" "),
                n.administration.patient_ref or "",
                n.administration.practitioner or "",
            ]
            for n in self.notifications
        ]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
