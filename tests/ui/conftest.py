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
