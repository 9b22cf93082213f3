"""The log file: where it is, what it holds after an unexpected error, and what it never holds."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from registry_app import diagnostics
from registry_app.cli.common import run_guarded
from registry_app.launcher import main


@pytest.fixture
def log_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setenv(diagnostics.ENV_LOG_DIR, str(folder))
    return folder


@pytest.mark.parametrize(
    ("message", "kept", "masked"),
    [
        ("no lot for patient 'Jane Doe 1980-04-01'", "no lot for patient", "Jane Doe"),
        ('value "PT-00412" refused', "refused", "PT-00412"),
        ("sign-in with password=hunter2hunter2 failed", "sign-in with password=", "hunter2"),
        ("REGISTRY_PASSWORD: s3cret-value", "REGISTRY_PASSWORD", "s3cret-value"),
    ],
)
def test_redact_masks_values_and_keeps_the_words(message: str, kept: str, masked: str) -> None:
    redacted = diagnostics.redact(message)
    assert kept in redacted and masked not in redacted and "<redacted>" in redacted


def test_an_unexpected_command_error_is_logged_with_its_traceback(
    log_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diagnostics.configure_logging() == log_folder / diagnostics.LOG_NAME

    def failing_handler(_args: argparse.Namespace) -> int:
        raise KeyError("patient 'Jane Doe 1980-04-01'")

    code = run_guarded(failing_handler, argparse.Namespace(command="trace"))
    assert code != 0
    err = capsys.readouterr().err
    assert "unexpected error" in err and str(log_folder / diagnostics.LOG_NAME) in err
    log = (log_folder / diagnostics.LOG_NAME).read_text(encoding="utf-8")
    assert "unexpected error in command trace" in log and "in failing_handler" in log and "KeyError" in log
    assert "Jane Doe" not in log
    assert (log_folder / diagnostics.CRASH_NAME).exists()  # faulthandler's file, for crashes inside Qt


def test_each_run_notes_its_version_and_command_but_no_secret(
    log_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_PASSWORD", "a-password-never-logged")
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert main(["--database", url, "db", "upgrade"]) == 0
    log = (log_folder / diagnostics.LOG_NAME).read_text(encoding="utf-8")
    assert "registry-app 0." in log and ": db" in log
    assert "a-password-never-logged" not in log


def test_an_unwritable_log_folder_leaves_the_registry_working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder would go")
    monkeypatch.setenv(diagnostics.ENV_LOG_DIR, str(blocker / "logs"))
    assert diagnostics.configure_logging() is None
    logging.getLogger("registry_app").error("still fine")  # no handler error, no exception
