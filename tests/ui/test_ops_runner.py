"""The operation runner on real threads: results, errors, Cancel and progress come back on the GUI thread, the
busy buttons are given back, and — the reason it exists — the window keeps painting while another process
holds the registry's write lock during a release and an administration done through the real dialogs."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.engine import make_url

from registry_app.domain import Administration, Lot
from registry_app.services import ServiceContext, ValidationError
from registry_app.ui.dialogs.administer import AdministerDialog
from registry_app.ui.dialogs.release_lot import ReleaseLotDialog
from registry_app.ui.op_thread import wait_for_running
from registry_app.ui.ops import OpRunner, SynchronousRunner, runner_for
from tests.conftest import PASSWORDS

from ..helpers import sqlite_only
from .workflow_data import make_lot, show_active


@pytest.fixture
def owner(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def test_result_comes_back_on_the_gui_thread(qtbot: QtBot, owner: QWidget, threaded_ops: OpRunner) -> None:
    threads: list[threading.Thread] = []
    results: list[int] = []

    def work(_progress: Callable[[int, int], bool]) -> int:
        threads.append(threading.current_thread())
        return 42

    def done(value: int) -> None:
        threads.append(threading.current_thread())
        results.append(value)

    op = threaded_ops.run(owner, work, done)
    qtbot.waitUntil(lambda: bool(results), timeout=10_000)
    assert results == [42] and not op.running and threaded_ops.running == 0
    assert threads[0] is not threading.main_thread() and threads[1] is threading.main_thread()


def test_error_comes_back_and_busy_buttons_are_given_back(qtbot: QtBot, owner: QWidget, threaded_ops: OpRunner) -> None:
    ok, already_off = QPushButton("OK", owner), QPushButton("Not yours", owner)
    already_off.setEnabled(False)
    release = threading.Event()
    errors: list[BaseException] = []

    def work(_progress: Callable[[int, int], bool]) -> None:
        release.wait(10)
        raise ValidationError("say why", "reason")

    threaded_ops.run(owner, work, lambda _r: pytest.fail("no result expected"), errors.append, busy=[ok, already_off])
    assert not ok.isEnabled(), "no double submit while the op runs"
    release.set()
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert isinstance(errors[0], ValidationError)
    assert ok.isEnabled() and not already_off.isEnabled(), "each button gets back the state it had"


def test_cancel_stops_the_work_and_progress_is_reported(qtbot: QtBot, owner: QWidget, threaded_ops: OpRunner) -> None:
    steps: list[int] = []
    results: list[int] = []

    def work(progress: Callable[[int, int], bool]) -> int:
        done = 0
        while progress(done, 1000) and done < 1000:
            steps.append(done)
            done += 1
            time.sleep(0.002)
        return done

    op = threaded_ops.run(owner, work, results.append, title="Working", progress=True)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=10_000)
    op.cancel()
    qtbot.waitUntil(lambda: bool(results), timeout=10_000)
    assert op.cancelled and results[0] < 1000 and not op.running


def test_callbacks_of_a_closed_window_are_dropped(qtbot: QtBot, threaded_ops: OpRunner) -> None:
    window = QWidget()
    release = threading.Event()
    called: list[object] = []
    threaded_ops.run(window, lambda _p: release.wait(10), called.append)
    window.deleteLater()
    qtbot.waitUntil(lambda: threaded_ops.running == 0, timeout=5_000)
    release.set()
    qtbot.wait(100)
    assert called == []


def test_quitting_waits_for_work_still_running(qtbot: QtBot, owner: QWidget, threaded_ops: OpRunner) -> None:
    finished = threading.Event()

    def work(_progress: Callable[[int, int], bool]) -> None:
        time.sleep(0.3)
        finished.set()

    threaded_ops.run(owner, work)
    assert wait_for_running(5_000) and finished.is_set()
    qtbot.waitUntil(lambda: threaded_ops.running == 0, timeout=5_000)


def test_widgets_reach_their_window_runner_else_the_application_runner(
    qtbot: QtBot, owner: QWidget, ops: OpRunner
) -> None:
    child = QPushButton(owner)
    assert runner_for(child) is ops and runner_for(None) is ops
    own = SynchronousRunner()
    owner.op_runner = own  # type: ignore[attr-defined]
    assert runner_for(child) is own


def test_refused_release_on_the_thread_keeps_the_typing_and_gives_the_button_back(
    qtbot: QtBot, director: ServiceContext, threaded_ops: OpRunner
) -> None:
    lot = make_lot(director.db, expiry_date=date.today() + timedelta(days=400))
    with director.db.write() as session:
        session.get(Lot, lot.lot_id).status = "quarantine"
    dialog = show_active(qtbot, ReleaseLotDialog(director, lot.lot_id))
    dialog.signature.reason_edit.setPlainText("Certificate checked against the label")
    dialog.signature.password_edit.setText("wrong-password")
    dialog.action_button.click()
    assert not dialog.action_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.action_button.isEnabled(), timeout=10_000)
    assert "wrong" in dialog.banner.text() and not dialog.done_ok
    assert dialog.signature.reason() == "Certificate checked against the label" and dialog.signature.password() == ""
    with director.db.read() as session:
        assert session.get(Lot, lot.lot_id).status == "quarantine"


# --- Done when: the window never stalls while another process holds the write lock ---------------------------

LOCK_SECONDS = 5.0
MAX_GAP_MS = 100


@contextmanager
def write_lock_held_elsewhere(database_url: str, tmp_path: Path) -> Iterator[float]:
    """Another process takes the registry's write lock (`BEGIN IMMEDIATE`) and keeps it LOCK_SECONDS; yields
    the monotonic time it took it."""
    path = make_url(database_url).database
    ready = tmp_path / "locked"
    script = textwrap.dedent(f"""
        import pathlib, sqlite3, time
        conn = sqlite3.connect({path!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        pathlib.Path({str(ready)!r}).write_text("locked")
        time.sleep({LOCK_SECONDS})
        conn.execute("COMMIT")
        conn.close()
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the locking process did not start"
            time.sleep(0.005)
        yield time.monotonic()
        process.wait(timeout=LOCK_SECONDS + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class GapRecorder:
    """A 10 ms timer on the GUI thread: the longest gap between its ticks is the longest the window froze."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)
        self.last = 0
        self.max_gap = 0
        self.ticks = 0

    def start(self) -> None:
        self.clock.start()
        self.last = 0
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        self.ticks += 1

    def stop(self) -> None:
        self.timer.stop()


@sqlite_only("the lock held by another process is SQLite's single writer lock")
def test_window_keeps_responding_while_another_process_holds_the_write_lock(
    qtbot: QtBot, director: ServiceContext, database_url: str, tmp_path: Path, threaded_ops: OpRunner
) -> None:
    expiry = date.today() + timedelta(days=400)
    to_release = make_lot(director.db, expiry_date=expiry)
    to_administer = make_lot(director.db, expiry_date=expiry)
    with director.db.write() as session:  # one lot awaiting release; the other is released and usable
        session.get(Lot, to_release.lot_id).status = "quarantine"
    # The dialogs are opened and filled (their reads done) before the other process takes the lock.
    release = show_active(qtbot, ReleaseLotDialog(director, to_release.lot_id))
    release.signature.password_edit.setText(PASSWORDS["director"])
    administer = show_active(qtbot, AdministerDialog(director, lot_id=to_administer.lot_id))
    administer.set_values(patient_ref="PT-1", route="topical_intact", quantity=1.0, screening_done=True)
    assert administer.lot_picker.lot_id() == to_administer.lot_id and release.action_button.isEnabled()

    gaps = GapRecorder()
    # The desktop moves what is alive once its window shows out of the collector's reach (main_window.py
    # _freeze_startup_objects). Do the same with what earlier tests of this session left alive: a full
    # collection of a whole test session's heap (700 ms once, late in a full run) is not the window's stall.
    gc.collect()
    gc.freeze()
    with write_lock_held_elsewhere(database_url, tmp_path) as locked_at:
        gaps.start()
        release.action_button.click()
        assert not release.action_button.isEnabled(), "the release is running: no second click"
        qtbot.keyClick(release, Qt.Key.Key_Escape)
        assert not release.close() and release.isVisible(), "a dialog whose save is under way stays open"
        administer.save_button.click()
        assert not administer.save_button.isEnabled()
        qtbot.waitUntil(lambda: release.done_ok and administer.result is not None, timeout=40_000)
        finished = time.monotonic()
        gaps.stop()
    gc.unfreeze()
    assert gaps.ticks > 100, "the timer ran throughout"
    assert gaps.max_gap < MAX_GAP_MS, f"the event loop stalled {gaps.max_gap} ms"
    assert finished - locked_at >= LOCK_SECONDS - 0.2, "both waited for the other process's lock"
    with director.db.read() as session:
        assert session.get(Lot, to_release.lot_id).status == "released"
        assert [a.patient_ref for a in session.execute(select(Administration)).scalars()] == ["PT-1"]
