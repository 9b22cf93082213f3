"""Run long work (imports, reports, bundles) off the GUI thread with a progress dialog and Cancel.

The work is a plain function taking a progress callback `progress(done, total) -> bool`; returning False
asks it to stop (the services roll back, so a cancelled import writes nothing). The window stays responsive
and the result or the error comes back on the GUI thread through `finished` / `failed`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

Work = Callable[[Callable[[int, int], bool]], Any]


class _Worker(QObject):
    progressed = Signal(int, int)
    succeeded = Signal(object)
    errored = Signal(object)

    def __init__(self, work: Work) -> None:
        super().__init__()
        self.work = work
        self.cancel_requested = threading.Event()

    def _progress(self, done: int, total: int) -> bool:
        self.progressed.emit(int(done), int(total))
        return not self.cancel_requested.is_set()

    @Slot()
    def run(self) -> None:
        try:
            result = self.work(self._progress)
        except Exception as error:
            self.errored.emit(error)
        else:
            self.succeeded.emit(result)


class BackgroundTask(QObject):
    """One piece of background work with its progress dialog. Keep a reference until `done` fires."""

    finished = Signal(object)  # the work's result
    failed = Signal(object)  # the exception it raised
    done = Signal()  # after either

    def __init__(self, parent: QWidget, title: str, work: Work, *, show_dialog: bool = True,
                 cancellable: bool = True) -> None:
        super().__init__(parent)
        self._thread = QThread(self)
        self._worker = _Worker(work)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._worker.succeeded.connect(self._on_success, Qt.ConnectionType.QueuedConnection)
        self._worker.errored.connect(self._on_error, Qt.ConnectionType.QueuedConnection)
        self.progress_dialog: QProgressDialog | None = None
        if show_dialog:
            self.progress_dialog = QProgressDialog(title, "&Cancel", 0, 0, parent)
            self.progress_dialog.setWindowTitle(title)
            self.progress_dialog.setWindowModality(Qt.WindowModality.WindowModal)
            self.progress_dialog.setMinimumDuration(300)
            self.progress_dialog.setAutoClose(False)
            self.progress_dialog.setAutoReset(False)
            self.progress_dialog.canceled.connect(self.cancel)
            if not cancellable:  # work that cannot stop half-way safely offers no Cancel it cannot honour
                self.progress_dialog.setCancelButton(None)
        self.running = False

    def start(self) -> None:
        self.running = True
        self._thread.start()

    def cancel(self) -> None:
        self._worker.cancel_requested.set()
        if self.progress_dialog is not None:
            self.progress_dialog.setLabelText("Cancelling…")

    @property
    def cancelled(self) -> bool:
        return self._worker.cancel_requested.is_set()

    def _on_progress(self, done: int, total: int) -> None:
        if self.progress_dialog is not None and not self.cancelled:
            self.progress_dialog.setMaximum(max(total, 0))
            self.progress_dialog.setValue(min(done, total) if total > 0 else 0)

    def _finish(self) -> None:
        self.running = False
        self._thread.quit()
        self._thread.wait()
        if self.progress_dialog is not None:
            self.progress_dialog.close()

    def _on_success(self, result: object) -> None:
        self._finish()
        self.finished.emit(result)
        self.done.emit()

    def _on_error(self, error: object) -> None:
        self._finish()
        self.failed.emit(error)
        self.done.emit()
