"""The Reports page: the compliance report (PDF), the inspection bundle (ZIP) and the exports (CSV/XLSX), for a
period picked from common choices or typed. The file is produced in the background with a progress dialog,
and the page then offers to open it (or its folder). Producing a report changes no record, so an inspector
has every action here; only a medical director may include the clinic's own patient references.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import Role
from ...services import RegistryError, ServiceContext, ValidationError
from ...services.formats import EXPORT_KINDS, FORMATS
from ...services.reports import OutputResult, bundle, compliance_report, export
from ..dialogs.date_field import date_problems
from ..dialogs.forms import ErrorBanner, add_save_shortcut, date_edit, has_role
from ..ops import Op, runner_for
from ..wording import count_phrase

OUTPUTS: tuple[tuple[str, str], ...] = (
    ("compliance", "Compliance report (PDF)"),
    ("bundle", "Inspection bundle (ZIP: report, exports, audit trail, manifest)"),
    *((f"export:{kind}", f"Export of {kind}") for kind in EXPORT_KINDS),
)
PERIODS = (
    "Last month",
    "This month",
    "Last quarter",
    "This quarter",
    "This year",
    "Last year",
    "Last 12 months",
    "Custom",
)


def period_for(choice: str, today: date) -> tuple[date, date]:
    """The first and last day of a named period, as a clinic means it (calendar months and quarters)."""
    first_of_month = today.replace(day=1)
    if choice == "This month":
        return first_of_month, today
    if choice == "Last month":
        end = first_of_month - timedelta(days=1)
        return end.replace(day=1), end
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if choice == "This quarter":
        return quarter_start, today
    if choice == "Last quarter":
        end = quarter_start - timedelta(days=1)
        return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    if choice == "This year":
        return date(today.year, 1, 1), today
    if choice == "Last year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    if choice == "Last 12 months":
        return today - timedelta(days=365) + timedelta(days=1), today
    raise ValueError(f"not a named period: {choice}")


def default_folder() -> Path:
    """The user's documents folder where there is one (a fresh account may not have it), else home."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(folder) if folder and Path(folder).is_dir() else Path.home()


class ReportsPage(QWidget):
    """`last_output` holds the latest OutputResult; `open_file()` opens it with the desktop's viewer."""

    title = "Reports"

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.task: Op | None = None
        self.last_output: OutputResult | None = None
        self.show_progress = True
        self._path_was_typed = False
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)

        what = QGroupBox("What")
        what_form = QFormLayout(what)
        self.output_combo = QComboBox()
        for key, text in OUTPUTS:
            self.output_combo.addItem(text, key)
        self.output_combo.currentIndexChanged.connect(self._output_changed)
        what_form.addRow(self._label("&Output", self.output_combo), self.output_combo)
        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(fmt.upper(), fmt)
        self.format_combo.currentIndexChanged.connect(self._suggest_path)
        self.format_label = self._label("&Format", self.format_combo)
        what_form.addRow(self.format_label, self.format_combo)
        layout.addWidget(what)

        when = QGroupBox("Period")
        when_form = QFormLayout(when)
        self.period_combo = QComboBox()
        self.period_combo.addItems(PERIODS)
        self.period_combo.currentTextChanged.connect(self._period_changed)
        when_form.addRow(self._label("&Period", self.period_combo), self.period_combo)
        dates = QHBoxLayout()
        self.from_edit = date_edit()
        self.to_edit = date_edit()
        for edit in (self.from_edit, self.to_edit):
            edit.dateChanged.connect(self._dates_typed)
        dates.addWidget(self._label("F&rom", self.from_edit))
        dates.addWidget(self.from_edit)
        dates.addWidget(self._label("&To", self.to_edit))
        dates.addWidget(self.to_edit)
        dates.addStretch(1)
        when_form.addRow(dates)
        self.whole_registry = QCheckBox("&Whole registry (exports only: every record, whatever its date)")
        self.whole_registry.toggled.connect(self._whole_toggled)
        when_form.addRow(self.whole_registry)
        layout.addWidget(when)

        where = QGroupBox("File")
        where_form = QFormLayout(where)
        file_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.textEdited.connect(self._path_typed)
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self.choose_path)
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(browse)
        where_form.addRow(self._label("Save &as", self.path_edit), file_row)
        self.real_refs = QCheckBox("Include the clinic's own patient references (otherwise pseudonyms)")
        self.real_refs.setVisible(has_role(ctx, (Role.MEDICAL_DIRECTOR,)))
        where_form.addRow(self.real_refs)
        # Notes and reasons may name or describe a patient: left out unless a director includes them.
        self.free_text = QCheckBox("Include free text: notes, amendment reasons, adverse event narratives")
        self.free_text.setObjectName("includeFreeText")
        self.free_text.setVisible(has_role(ctx, (Role.MEDICAL_DIRECTOR,)))
        where_form.addRow(self.free_text)
        layout.addWidget(where)

        actions = QHBoxLayout()
        self.produce_button = QPushButton("&Produce")
        self.produce_button.setDefault(True)
        self.produce_button.clicked.connect(self.produce)
        self.open_button = QPushButton("&Open the file")
        self.open_button.clicked.connect(self.open_file)
        self.folder_button = QPushButton("Show in fol&der")
        self.folder_button.clicked.connect(self.open_folder)
        for button in (self.produce_button, self.open_button, self.folder_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout.addLayout(actions)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        add_save_shortcut(self, self.produce)
        self.open_button.hide()
        self.folder_button.hide()

        self.period_combo.setCurrentText("Last quarter")
        self._period_changed("Last quarter")
        self._output_changed()

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        title = QLabel(text)
        title.setBuddy(buddy)
        return title

    # ------------------------------------------------------------------------------------------- inputs

    @property
    def output(self) -> str:
        return str(self.output_combo.currentData())

    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.running

    def _output_changed(self, *_: object) -> None:
        is_export = self.output.startswith("export:")
        self.format_combo.setVisible(is_export)
        self.format_label.setVisible(is_export)
        self.whole_registry.setEnabled(is_export)
        if not is_export:
            self.whole_registry.setChecked(False)
        self._suggest_path()

    def _period_changed(self, choice: str) -> None:
        if choice != "Custom":
            start, end = period_for(choice, date.today())
            for edit, value in ((self.from_edit, start), (self.to_edit, end)):
                edit.blockSignals(True)
                edit.setDate(value)
                edit.blockSignals(False)
        self._suggest_path()

    def _dates_typed(self, *_: object) -> None:
        self.period_combo.blockSignals(True)
        self.period_combo.setCurrentText("Custom")
        self.period_combo.blockSignals(False)
        self._suggest_path()

    def _whole_toggled(self, on: bool) -> None:
        self.from_edit.setEnabled(not on)
        self.to_edit.setEnabled(not on)
        self.period_combo.setEnabled(not on)
        self._suggest_path()

    def _path_typed(self, _text: str) -> None:
        self._path_was_typed = True

    def period(self) -> tuple[date | None, date | None]:
        if self.whole_registry.isChecked():
            return None, None
        return self.from_edit.value(), self.to_edit.value()

    def suffix(self) -> str:
        if self.output == "compliance":
            return ".pdf"
        if self.output == "bundle":
            return ".zip"
        return f".{self.format_combo.currentData()}"

    def _suggest_path(self, *_: object) -> None:
        if self._path_was_typed:
            current = Path(self.path_edit.text())
            if current.suffix.lower() != self.suffix():
                self.path_edit.setText(str(current.with_suffix(self.suffix())))
            return
        start, end = self.period()
        stem = self.output.replace("export:", "export-")
        span = f"-{start}-to-{end}" if start and end else f"-{date.today()}"
        self.path_edit.setText(str(default_folder() / f"{stem}{span}{self.suffix()}"))

    def choose_path(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save as", self.path_edit.text(), f"*{self.suffix()}")
        if name:
            self.path_edit.setText(name)
            self._path_was_typed = True

    # ------------------------------------------------------------------------------------------ produce

    def confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self, "Replace the file?", f"{path} exists already. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    def produce(self) -> None:
        if self.busy:
            return
        if not self.whole_registry.isChecked():
            dates = date_problems(("from", self.from_edit), ("to", self.to_edit))
            if dates:
                self.banner.show_error("\n".join(dates))
                return
        start, end = self.period()
        out = self.path_edit.text().strip()
        # The services replace an existing file only when asked: the person is asked here, once.
        replace = Path(out).expanduser().is_file() if out else False
        if replace and not self.confirm_replace(Path(out).expanduser()):
            return
        include = self.real_refs.isVisible() and self.real_refs.isChecked()
        free_text = self.free_text.isVisible() and self.free_text.isChecked()
        ctx, output, fmt = self.ctx, self.output, str(self.format_combo.currentData())

        def work(_progress: Any) -> OutputResult:
            if output == "compliance":
                return compliance_report(
                    ctx,
                    start,
                    end,
                    out,
                    include_patient_refs=include,  # type: ignore[arg-type]
                    replace=replace,
                    include_free_text=free_text,
                )
            if output == "bundle":
                return bundle(
                    ctx,
                    start,
                    end,
                    out,
                    include_patient_refs=include,  # type: ignore[arg-type]
                    replace=replace,
                    include_free_text=free_text,
                )
            return export(
                ctx,
                output.removeprefix("export:"),
                fmt,
                out,
                include_patient_refs=include,
                start=start,
                end=end,
                replace=replace,
                include_free_text=free_text,
            )

        self.banner.clear_message()
        self.result_label.clear()
        self.open_button.hide()
        self.folder_button.hide()
        # A report is written whole or not at all: progress while it runs, but no Cancel it could not honour.
        self.task = runner_for(self).run(
            self,
            work,
            self._produced,
            self._failed,
            title=f"Producing {self.output_combo.currentText()}…",
            progress=self.show_progress,
            cancellable=False,
            busy=[self.produce_button],
        )

    def _produced(self, result: OutputResult) -> None:
        self.last_output = result
        what = (
            count_phrase(result.pages, "page")
            if result.pages
            else count_phrase(result.rows, "row")
            if result.rows
            else count_phrase(len(result.files), "file")
            if result.files
            else ""
        )
        self.result_label.setText(
            f"Saved <b>{result.path}</b> ({what}).<br>SHA-256 {result.sha256} — the audit "
            f"trail records who produced it (entry {result.audit_seq})."
        )
        self.open_button.show()
        self.folder_button.show()
        self.open_button.setFocus()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, ValidationError) and error.for_field("out"):
            message = "Save as: " + "; ".join(error.for_field("out"))  # the field on screen, not the CLI's name
        elif isinstance(error, RegistryError):
            message = error.message
        else:
            message = f"could not produce the file: {error}"
        self.banner.show_error(message)

    def open_file(self) -> bool:
        if self.last_output is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_output.path)))

    def open_folder(self) -> bool:
        if self.last_output is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_output.path.parent)))
