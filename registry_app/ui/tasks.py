"""Long work off the GUI thread, with a progress dialog and Cancel, and a synchronous mode for tests.

The work is a plain function `work(progress)` where `progress(done, total) -> bool` returns False once the
user pressed Cancel (services then roll back: a cancelled job writes nothing). The threaded runner is the
workflow dialogs' BackgroundTask; tests set `SYNCHRONOUS = True` (as Picard's tests swap in a synchronous
thread pool) so the result arrives before the call returns and no test waits on a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

Work = Callable[[Callable[[int, int], bool]], Any]

SYNCHRONOUS = False

# Running tasks are kept referenced here until they finish (a QObject without a reference would be collected).
_running: set[Any] = set()


def run_task(parent: QWidget, title: str, work: Work, on_done: Callable[[Any], None],
             on_error: Callable[[BaseException], None], *, show_dialog: bool = True,
             cancellable: bool = True) -> Any:
    """Run `work` in the background; `on_done(result)` or `on_error(exception)` runs on the GUI thread."""
    if SYNCHRONOUS:
        try:
            result = work(lambda done, total: True)
        except Exception as error:
            on_error(error)
        else:
            on_done(result)
        return None
    from .dialogs.background import BackgroundTask

    task = BackgroundTask(parent, title, work, show_dialog=show_dialog, cancellable=cancellable)
    task.finished.connect(on_done)
    task.failed.connect(on_error)
    _running.add(task)
    task.done.connect(lambda: _running.discard(task))
    task.start()
    return task
