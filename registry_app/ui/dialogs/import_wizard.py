"""Importing a lot file or a treatment log from the desktop: choose the file, check it (a dry run that writes
nothing and lists every accepted and rejected row), then import. The import is all-or-nothing, so Import is
offered only once the check found no rejected row. Both steps run in the background with progress and
Cancel; a cancelled import writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.formats import Table, TableError, read_table
from ...services.imports import ImportResult, import_administrations, import_lots
from ..ops import Op, runner_for
from ..style import state_colour
from ..wording import count_phrase
from .forms import ErrorBanner, add_save_shortcut, has_role

FILE_FILTER = "Spreadsheets (*.csv *.xlsx);;CSV (*.csv);;Excel (*.xlsx);;All files (*)"
PREVIEW_LIMIT = 500  # rows shown in the preview table; the counts always cover the whole file
PREVIEW_COLUMNS = {
    "lots": ("product_name", "lot_number", "expiry_date", "quantity_received"),
    "administrations": ("administered_at", "product_name", "lot_number", "patient_ref", "route"),
}


class ImportWizard(QDialog):
    """Choose → Check → Import. `last_result` holds the latest ImportResult (dry run or real)."""

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None, *, kind: str = "lots") -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.last_result: ImportResult | None = None
        self.task: Op | None = None
        self.show_progress = True
        self.setWindowTitle("Import records")
        self.resize(860, 600)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.pages = QStackedWidget()
        layout.addWidget(self.pages, 1)
        self.pages.addWidget(self._choose_page(kind))
        self.pages.addWidget(self._preview_page())

        row = QHBoxLayout()
        self.back_button = QPushButton("&Back")
        self.back_button.clicked.connect(lambda: self._go(0))
        self.check_button = QPushButton("C&heck file")
        self.check_button.clicked.connect(self.check)
        self.import_button = QPushButton("&Import")
        self.import_button.clicked.connect(self.run_import)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        for button in (self.back_button, self.check_button, self.import_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout.addLayout(row)
        self._save_target = self.check_button
        add_save_shortcut(self, self._press_current_step)
        self._go(0)
        if not has_role(ctx, STAFF):
            self.check_button.setEnabled(False)
            self.banner.show_warning("Only a pharmacist or a medical director may import records.")

    # -------------------------------------------------------------------------------------------- pages

    def _choose_page(self, kind: str) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.kind_group = QButtonGroup(self)
        self.lots_radio = QRadioButton("&Lots (a delivery list, or lots kept in a spreadsheet)")
        self.administrations_radio = QRadioButton("&Administrations (a treatment log)")
        for radio in (self.lots_radio, self.administrations_radio):
            self.kind_group.addButton(radio)
        (self.lots_radio if kind == "lots" else self.administrations_radio).setChecked(True)
        kinds = QVBoxLayout()
        kinds.addWidget(self.lots_radio)
        kinds.addWidget(self.administrations_radio)
        form.addRow("What", kinds)
        file_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("A CSV or XLSX file with the columns of the import format")
        self.path_edit.returnPressed.connect(self.check)
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self.choose_file)
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(browse)
        file_label = QLabel("&File")
        file_label.setBuddy(self.path_edit)
        form.addRow(file_label, file_row)
        self.update_check = QCheckBox(
            "&Update lots already in the registry (otherwise they are rejected as duplicates)"
        )
        form.addRow("", self.update_check)
        self.lots_radio.toggled.connect(self.update_check.setEnabled)
        self.update_check.setEnabled(self.lots_radio.isChecked())
        hint = QLabel(
            "Check reads the whole file and writes nothing. Every rejected row is listed with its row "
            "and column; nothing is imported until every row is accepted."
        )
        hint.setWordWrap(True)
        form.addRow(hint)
        return page

    def _preview_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.preview = QTableWidget(0, 0)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.preview.setAccessibleName("Rows of the file")
        layout.addWidget(self.preview, 1)
        return page

    def _go(self, page: int) -> None:
        self.pages.setCurrentIndex(page)
        self.back_button.setVisible(page == 1)
        self.check_button.setVisible(page == 0)
        ready = page == 1 and self.last_result is not None and self.last_result.ok and self.last_result.dry_run
        self.import_button.setVisible(page == 1)
        self.import_button.setEnabled(ready and has_role(self.ctx, STAFF))
        self._save_target = self.check_button if page == 0 else self.import_button
        (self.path_edit if page == 0 else self.preview).setFocus()

    def _press_current_step(self) -> None:
        if self._save_target.isEnabled() and self._save_target.isVisible():
            self._save_target.click()

    # ------------------------------------------------------------------------------------------- actions

    @property
    def kind(self) -> str:
        return "lots" if self.lots_radio.isChecked() else "administrations"

    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.running

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose the file to import", "", FILE_FILTER)
        if name:
            self.path_edit.setText(name)

    def _path(self) -> Path | None:
        text = self.path_edit.text().strip()
        path = Path(text).expanduser() if text else None
        # A FIFO, a device or a directory exists: the service refuses it, naming what it is.
        if path is None or not path.exists():
            self.banner.show_error(
                "file: choose an existing CSV or XLSX file" if path is None else f"file: {path} does not exist"
            )
            self.path_edit.setFocus()
            return None
        return path

    def _service(self) -> Callable[..., ImportResult]:
        return import_lots if self.kind == "lots" else import_administrations

    def _options(self) -> dict[str, Any]:
        return {"update": self.update_check.isChecked()} if self.kind == "lots" else {}

    def check(self) -> None:
        path = self._path()
        if path is None or self.busy:
            return
        service, options, ctx = self._service(), self._options(), self.ctx

        def work(progress: Callable[[int, int], bool]) -> tuple[ImportResult, Table | None]:
            result = service(ctx, path, dry_run=True, progress=progress, **options)
            try:
                table: Table | None = read_table(path)
            except (TableError, OSError):  # the service read it a moment ago: gone since, the preview is empty
                table = None
            return result, table

        self._start("Checking the file…", work, self._checked)

    def run_import(self) -> None:
        path = self._path()
        if path is None or self.busy:
            return
        service, options, ctx = self._service(), self._options(), self.ctx
        self._start(
            "Importing…",
            lambda progress: service(ctx, path, dry_run=False, progress=progress, **options),
            self._imported,
        )

    def _start(
        self, title: str, work: Callable[[Callable[[int, int], bool]], Any], done: Callable[[Any], None]
    ) -> None:
        self.banner.clear_message()
        self.check_button.setEnabled(False)
        self.import_button.setEnabled(False)
        # Not `busy=`: which buttons come back depends on the outcome (a failed check offers no Import).
        self.task = runner_for(self).run(self, work, done, self._failed, title=title, progress=self.show_progress)

    def _failed(self, error: BaseException) -> None:
        self.check_button.setEnabled(has_role(self.ctx, STAFF))
        message = error.message if isinstance(error, RegistryError) else f"the file could not be read: {error}"
        self.banner.show_error(message)
        self._go(self.pages.currentIndex())

    def _checked(self, outcome: tuple[ImportResult, Table | None]) -> None:
        result, table = outcome
        self.check_button.setEnabled(has_role(self.ctx, STAFF))
        self.last_result = result
        if result.cancelled:
            self.banner.show_warning("Check cancelled: nothing was read into the registry.")
            return
        rejected_rows = {e.row for e in result.errors}
        if result.errors:
            header_only = all(e.row <= 1 for e in result.errors)
            rows_text = (
                "The header is wrong"
                if header_only
                else f"{count_phrase(len(rejected_rows), 'row')} rejected, {result.rows - len(rejected_rows)} accepted"
            )
            self.summary.setText(
                f"<b>{result.file_name}</b>: {count_phrase(result.rows, 'row')}. {rows_text}. "
                "Nothing can be imported until every row is accepted: fix the file and check again."
                "<br>" + "<br>".join(_escape(line) for line in result.error_lines(20))
            )
        else:
            extra = ""
            if result.kind == "lots":
                extra = (
                    f" {count_phrase(result.created, 'new lot')}, {count_phrase(result.updated, 'update')}, "
                    f"{count_phrase(result.products_created, 'new product')}."
                )
            self.summary.setText(
                f"<b>{result.file_name}</b>: all {count_phrase(result.rows, 'row')} accepted.{extra} "
                "Press Import to write them." + _warning_lines(result)
            )
        self._fill_preview(result, table)
        self._go(1)

    def _fill_preview(self, result: ImportResult, table: Table | None) -> None:
        wanted = PREVIEW_COLUMNS[result.kind]
        columns = [c for c in wanted if table is not None and c in table.columns]
        self.preview.clear()
        self.preview.setColumnCount(2 + len(columns))
        self.preview.setHorizontalHeaderLabels(["Row", "Check", *columns])
        messages: dict[int, list[str]] = {}
        for error in result.errors:
            messages.setdefault(error.row, []).append(
                f"{error.column}: {error.message}" if error.column else error.message
            )
        rows: list[tuple[int, list[str]]] = table.rows if table is not None else [(r, []) for r in sorted(messages)]
        # Rejected rows first: they are what the user has to fix.
        rows = sorted(rows, key=lambda item: (item[0] not in messages, item[0]))[:PREVIEW_LIMIT]
        positions = [table.columns.index(c) for c in columns] if table is not None else []
        self.preview.setRowCount(len(rows))
        for r, (number, cells) in enumerate(rows):
            problems = messages.get(number)
            status = "rejected: " + "; ".join(problems) if problems else "accepted"
            values = [str(number), status, *[cells[p] if p < len(cells) else "" for p in positions]]
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setForeground(QBrush(state_colour("problem" if problems else "ok")))
                self.preview.setItem(r, c, item)
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def _imported(self, result: ImportResult) -> None:
        self.last_result = result
        if result.cancelled:
            self.banner.show_warning("Import cancelled: nothing was written.")
            self._go(1)
            self.import_button.setEnabled(True)
            return
        if result.errors:
            self.summary.setText("Not imported: " + "<br>".join(_escape(e) for e in result.error_lines(20)))
            self._go(1)
            return
        detail = (
            f"{count_phrase(result.created, 'lot')} created, {result.updated} updated, "
            f"{count_phrase(result.products_created, 'product')}, "
            f"{count_phrase(result.suppliers_created, 'supplier')} and "
            f"{count_phrase(result.manufacturers_created, 'manufacturer')} added, "
            f"{count_phrase(result.results_created, 'characterization result')}."
            if result.kind == "lots"
            else f"{count_phrase(result.created, 'administration')} recorded."
        )
        if result.excursions_opened:
            detail += (
                f" {count_phrase(result.excursions_opened, 'temperature excursion')} opened (received "
                "outside the storage range): resolve them on the lots."
            )
        self.summary.setText(
            f"<b>Imported {result.file_name}</b>: {detail} Batch {result.batch}." + _warning_lines(result)
        )
        self.banner.clear_message()
        self.import_button.setEnabled(False)
        self.import_button.setText("Imported")
        self.close_button.setText("&Done")
        self.close_button.setFocus()


def _warning_lines(result: ImportResult) -> str:
    """The import's warnings (e.g. lots expired before receipt), shown before and after writing."""
    if not result.warnings:
        return ""
    shown = result.warnings[:20]
    more = f"<br>... and {len(result.warnings) - len(shown)} more" if len(result.warnings) > len(shown) else ""
    return "<br>" + "<br>".join(f"⚠ {_escape(line)}" for line in shown) + more


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
