"""What the desktop does with an error nobody expected (a bug): log it, tell the user calmly, carry on.

Exceptions raised in a slot or an event handler reach `sys.excepthook` (PySide prints them through it and
the event loop goes on). The hook writes the traceback to the log file (diagnostics.py, values masked) and
shows a dialog that says what happened, that every record already saved is safe (each change is one
transaction: the failed one was rolled back), and where the log is, with a button to open its folder.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ..diagnostics import log_dir, log_path, log_unexpected, redact

_dialogs: list[QMessageBox] = []  # open crash dialogs, kept referenced until closed


def open_log_folder() -> bool:
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def crash_dialog(error: BaseException, parent: QWidget | None = None) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("crashDialog")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Something went wrong")
    box.setText(f"The registry met an error it did not expect ({type(error).__name__}).")
    box.setInformativeText(
        "Every record saved before this is safe: the change that was under way, if any, was not saved. "
        f"You can go on working.\n\nThe details are in the log file:\n{log_path()}"
    )
    box.setDetailedText(redact("".join(traceback.format_exception_only(type(error), error))))
    open_folder = box.addButton("Open the log folder", QMessageBox.ButtonRole.ActionRole)
    open_folder.clicked.connect(open_log_folder)
    box.addButton(QMessageBox.StandardButton.Close)
    return box


def handle_exception(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    log_unexpected(error.with_traceback(tb), "the desktop")
    if QApplication.instance() is None:
        sys.__excepthook__(kind, error, tb)
        return
    # Shown without exec(): a second error while the first dialog is up must not nest event loops.
    box = crash_dialog(error, QApplication.activeWindow())
    _dialogs.append(box)
    box.finished.connect(lambda _result, b=box: _dialogs.remove(b) if b in _dialogs else None)
    box.open()


def install_crash_handler() -> None:
    sys.excepthook = handle_exception
