"""The desktop tests run every op synchronously (Picard's FakeThreadPool): the application's runner is a
SynchronousRunner for each test, so a click's result is there when the click returns and no test waits on a
thread. Tests of the threaded runner itself ask for `threaded_ops` instead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry_app.ui.ops import OpRunner, SynchronousRunner, install_runner


@pytest.fixture(autouse=True)
def ops(qapp: object) -> Iterator[OpRunner]:
    runner = SynchronousRunner()
    previous = install_runner(runner)
    yield runner
    install_runner(previous)


@pytest.fixture
def threaded_ops(ops: OpRunner) -> Iterator[OpRunner]:
    """The real threaded runner as the application's, for the tests that exercise threads on purpose."""
    runner = OpRunner()
    install_runner(runner)
    yield runner
    install_runner(ops)


@pytest.fixture(autouse=True)
def unattended_questions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Offscreen, a modal QMessageBox.question would wait for ever for a click (e.g. "Discard your unsaved
    edits?" when a test's window is closed at teardown). Answer it as a user going on would (Discard, Yes or
    OK) and keep the questions asked; tests that care about the answer patch `question` themselves."""
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []
    buttons = QMessageBox.StandardButton

    def answer(
        _parent: object,
        title: str,
        text: str,
        choices: object = buttons.Yes | buttons.No,
        *_args: object,
        **_kwargs: object,
    ) -> QMessageBox.StandardButton:
        asked.append(f"{title}: {text}")
        for choice in (buttons.Discard, buttons.Yes, buttons.Ok):
            if choices & choice:  # type: ignore[operator]
                return choice
        return buttons.Cancel

    monkeypatch.setattr(QMessageBox, "question", answer)
    return asked
