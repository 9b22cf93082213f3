"""The op runner's thread worker (ui/ops.py): one QThread per op, an optional progress dialog with Cancel.

Nothing but OpRunner uses this directly: widgets start work with `runner_for(widget).run(...)`, so tests can
swap in the SynchronousRunner. The work is a plain function taking a progress callback
`progress(done, total) -> bool`; returning False asks it to stop (the services roll back, so a cancelled import
writes nothing). The result or the error comes back on the GUI thread through `finished` / `failed`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, Qt, QThread, Signal, Slot
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


class _Reaper(QObject):
    """Keeps each worker thread referenced until it has finished, then lets it go (on the GUI thread).

    Threads are not children of the window that started them: a window closed while its work runs must not
    destroy a running QThread (Qt aborts the process when that happens)."""

    def __init__(self) -> None:
        super().__init__()
        self.alive: dict[int, tuple[QThread, _Worker]] = {}

    def keep(self, thread: QThread, worker: _Worker) -> None:
        self.alive[id(thread)] = (thread, worker)
        thread.finished.connect(lambda key=id(thread): self._release(key), Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _release(self, key: int) -> None:
        pair = self.alive.pop(key, None)
        if pair is not None:
            pair[0].wait()


_reaper: _Reaper | None = None


def _keep_until_finished(thread: QThread, worker: _Worker) -> None:
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    _reaper.keep(thread, worker)


def wait_for_running(timeout_ms: int) -> bool:
    """Wait for every op thread still running (True when none is left): the desktop calls this as it quits,
    so a save under way when the window closed commits instead of dying with the process."""
    if _reaper is None:
        return True
    deadline = QDeadlineTimer(timeout_ms)
    return all(thread.wait(deadline) for thread, _worker in list(_reaper.alive.values()))


class BackgroundTask(QObject):
    """One piece of background work with its progress dialog. Keep a reference until `done` fires."""

    finished = Signal(object)  # the work's result
    failed = Signal(object)  # the exception it raised
    done = Signal()  # after either

    def __init__(
        self, parent: QWidget | None, title: str, work: Work, *, show_dialog: bool = True, cancellable: bool = True
    ) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._worker = _Worker(work)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        # The thread ends itself when the work is done, whether or not this task (or its window) still exists.
        self._worker.succeeded.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._worker.errored.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        _keep_until_finished(self._thread, self._worker)
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
