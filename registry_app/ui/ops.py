"""One way to run registry work from the desktop (Anki's CollectionOp/QueryOp): off the GUI thread.

Every service call that changes data or may wait on the database goes through an `OpRunner`:

    runner_for(self).run(self, lambda _progress: release_lot(ctx, lot_id, password), on_done, on_error,
                         busy=[self.ok_button])

`work(progress)` runs on a worker thread; `progress(done, total) -> bool` returns False once the user pressed
Cancel (services then roll back: a cancelled job writes nothing). `on_done(result)` or `on_error(exception)`
runs later on the GUI thread. The widgets in `busy` are disabled while the op runs (no double submit) and
given back afterwards; nothing the user typed is touched.

Why threads: SQLite lets one writer at a time; a service waiting for another process's write lock waits up to
the 30 s busy timeout, and on the GUI thread that froze the window for as long.

Who owns the runner: the application (`application_runner()`, made on first use) and the main window
(`MainWindow(ops=...)`). A widget asks `runner_for(widget)`, which finds the nearest ancestor with an
`op_runner` attribute and otherwise the application's. Tests inject `SynchronousRunner` (as Picard's tests swap
in a synchronous thread pool) with `install_runner`, through the tests/ui conftest fixture: the result arrives
before `run` returns and no test waits on a thread.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget
from shiboken6 import isValid

from ..services.context import server_failure
from .crash import handle_exception
from .op_thread import BackgroundTask  # the thread worker; nothing but OpRunner uses it directly

Progress = Callable[[int, int], bool]
Work = Callable[[Progress], Any]
OnDone = Callable[[Any], None]
OnError = Callable[[BaseException], None]


class Op:
    """A started piece of work: whether it still runs, and Cancel (honoured at the work's next progress call)."""

    def __init__(
        self, title: str, cancel: Callable[[], None] | None = None, is_cancelled: Callable[[], bool] | None = None
    ) -> None:
        self.title = title
        self.running = True
        self._cancel = cancel
        self._is_cancelled = is_cancelled
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """Cancel was asked for, here or with the progress dialog's button."""
        return self._cancelled or (self._is_cancelled is not None and self._is_cancelled())

    def cancel(self) -> None:
        self._cancelled = True
        if self._cancel is not None:
            self._cancel()


class _HoldOpen(QObject):
    """Keeps a dialog open while its op runs: Esc and the close box would hide a dialog whose save then
    completes anyway, telling the user "cancelled" about something that was saved."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            event.ignore()
            return True
        return isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape


class _Busy:
    """Disables the widgets an op is working for and gives back the state each had (dialogs may have
    disabled a button for their own reasons, e.g. a role that may not act); their dialog stays open meanwhile."""

    def __init__(self, widgets: Iterable[QWidget]) -> None:
        self._was = [(widget, widget.isEnabled()) for widget in widgets]
        for widget, _enabled in self._was:
            widget.setEnabled(False)
        dialogs = {id(w.window()): w.window() for w, _ in self._was if isinstance(w.window(), QDialog)}
        self._held = list(dialogs.values())
        self._filter = _HoldOpen() if self._held else None
        for dialog in self._held:
            dialog.installEventFilter(self._filter)

    def release(self) -> None:
        for widget, enabled in self._was:
            if isValid(widget):  # the dialog may have been closed and deleted meanwhile
                widget.setEnabled(enabled)
        for dialog in self._held:
            if isValid(dialog) and self._filter is not None:
                dialog.removeEventFilter(self._filter)
        self._was, self._held = [], []


def report_unexpected(parent: QWidget | None, error: BaseException) -> None:
    """An error no dialog expects (a bug, a disk failure): logged with its traceback and shown, never lost.

    The excepthook is called as for an exception in a slot: the application's hook (ui/crash.py) logs it and
    shows its dialog, and pytest-qt fails the test that caused it."""
    sys.excepthook(type(error), error, error.__traceback__)
    if sys.excepthook is handle_exception:
        return  # the crash dialog already says what happened and where the log is
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Registry",
        f"Something went wrong: {error}",
        QMessageBox.StandardButton.Ok,
        parent if parent is not None and isValid(parent) else None,
    )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # not exec(): a nested event loop here would re-enter whatever called on_error


class OpRunner:
    """Runs work on a worker thread; results and errors come back on the GUI thread."""

    # Whether results arrive before `run` returns. Widgets that debounce their background reads (the lots
    # page's count and badges) ask the runner they were given instead of a module switch.
    synchronous = False

    def __init__(self) -> None:
        # Ops without a parent widget are kept referenced here until they finish (Qt would not keep them).
        self._running: set[Any] = set()

    @property
    def running(self) -> int:
        """How many ops have not called back yet (for a status line, and for tests)."""
        return len(self._running)

    def run(
        self,
        parent: QWidget | None,
        work: Work,
        on_done: OnDone | None = None,
        on_error: OnError | None = None,
        *,
        title: str = "",
        progress: bool = False,
        cancellable: bool = True,
        busy: Iterable[QWidget] = (),
    ) -> Op:
        """Start `work(progress)`. With `progress=True` a progress dialog (Cancel if `cancellable`) appears
        when the work takes longer than 0.3 s. If `parent` is deleted before the work ends, its callbacks are
        dropped (the work itself completes: a half-done transaction would be worse)."""
        held = _Busy(busy)
        task = BackgroundTask(parent, title, work, show_dialog=progress, cancellable=cancellable)
        op = Op(title, task.cancel, lambda: task.cancelled)
        self._running.add(task)

        def finish() -> None:
            op.running = False
            self._running.discard(task)
            held.release()

        def succeeded(result: object) -> None:
            finish()
            if on_done is not None:
                on_done(result)

        def failed(error: object) -> None:
            finish()
            assert isinstance(error, BaseException)
            # A read whose connection dropped (changing services convert it themselves): the clear message.
            error = server_failure(error) or error
            (on_error or (lambda e: report_unexpected(parent, e)))(error)

        task.finished.connect(succeeded)
        task.failed.connect(failed)
        # The parent was deleted first (a closed window): no callback will come, so stop counting the op.
        task.destroyed.connect(lambda *_: (self._running.discard(task), held.release()))
        task.start()
        return op


class SynchronousRunner(OpRunner):
    """Runs the work at once on the calling thread: for tests (Picard's FakeThreadPool) and scripts.

    Same contract as OpRunner: busy widgets are disabled during the work, errors go to `on_error`."""

    synchronous = True

    def run(
        self,
        parent: QWidget | None,
        work: Work,
        on_done: OnDone | None = None,
        on_error: OnError | None = None,
        *,
        title: str = "",
        progress: bool = False,
        cancellable: bool = True,
        busy: Iterable[QWidget] = (),
    ) -> Op:
        op = Op(title)
        held = _Busy(busy)
        try:
            result = work(lambda _d, _t: not op.cancelled)
        except Exception as error:
            op.running = False
            held.release()
            if on_error is None:
                raise  # a test sees the traceback where it happened
            on_error(server_failure(error) or error)
        else:
            op.running = False
            held.release()
            if on_done is not None:
                on_done(result)
        return op


# --- who owns the runner --------------------------------------------------------------------------------------
_ATTRIBUTE = "registry_op_runner"


def application_runner() -> OpRunner:
    """The running application's runner: a threaded one unless one was installed (tests install theirs)."""
    app = QCoreApplication.instance()
    runner = getattr(app, _ATTRIBUTE, None) if app is not None else None
    if runner is None:
        runner = OpRunner()
        if app is not None:
            setattr(app, _ATTRIBUTE, runner)
    return runner


def install_runner(runner: OpRunner | None) -> OpRunner | None:
    """Make `runner` the application's (None: back to a fresh threaded one); returns the one it replaces."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("install_runner needs a QApplication")
    previous = getattr(app, _ATTRIBUTE, None)
    setattr(app, _ATTRIBUTE, runner)
    return previous


def runner_for(widget: QWidget | None) -> OpRunner:
    """The runner a widget's work goes through: its nearest owner's (the main window's), else the application's."""
    current = widget
    while current is not None:
        runner = getattr(current, "op_runner", None)
        if isinstance(runner, OpRunner):
            return runner
        current = current.parentWidget()
    return application_runner()
