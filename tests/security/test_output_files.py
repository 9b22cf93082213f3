"""Issue 17: `--out` files (export, report, bundle, backup) are written to a temporary file in the same folder,
flushed to disk and renamed; an existing file is replaced only with --force, a special file (FIFO) never; a full
disk exits non-zero and leaves no partial file behind."""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from registry_app.cli import main
from registry_app.db import Database
from registry_app.services import ServiceContext, ValidationError, outputs
from registry_app.services import reports as report_service

from ..conftest import PASSWORDS
from ..helpers import audit_count

if TYPE_CHECKING:  # the core suite also runs with no Qt installed
    from pytestqt.qtbot import QtBot


def run(url: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, user: str = "director") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("REGISTRY_USER", user)
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS[user])
    return main(["--database", url, *argv])


COMMANDS = {
    "export": ["export", "lots", "--format", "csv", "--out"],
    "report": ["report", "compliance", "--from", "2026-01-01", "--to", "2026-03-31", "--out"],
    "backup": ["backup", "--out"],
}
SUFFIX = {"export": ".csv", "report": ".pdf", "backup": ".sqlite3"}
# The report writes its PDF with Qt: left out of the Qt-free core run.
COMMAND_PARAMS = [pytest.param(name, marks=[pytest.mark.qt] if name == "report" else []) for name in sorted(COMMANDS)]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A folder of its own for the outputs: the test registry's file lives in tmp_path itself."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name not in keep)


@pytest.mark.parametrize("command", COMMAND_PARAMS)
def test_an_existing_file_is_replaced_only_with_force(
    command: str,
    database_url: str,
    db: Database,
    out_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = out_dir / f"out{SUFFIX[command]}"
    target.write_bytes(b"precious")
    entries = audit_count(db)
    assert run(database_url, [*COMMANDS[command], str(target)], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert target.read_bytes() == b"precious"
    assert audit_count(db) == entries + 1, "only the sign-in: nothing was exported"
    assert run(database_url, [*COMMANDS[command], str(target), "--force"], monkeypatch) == 0
    assert target.read_bytes() != b"precious" and target.stat().st_size > 0
    assert _leftovers(out_dir, {target.name}) == []


@pytest.mark.parametrize("command", COMMAND_PARAMS)
def test_a_special_file_is_never_replaced(
    command: str, database_url: str, out_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = out_dir / f"pipe{SUFFIX[command]}"
    os.mkfifo(fifo)
    assert run(database_url, [*COMMANDS[command], str(fifo), "--force"], monkeypatch) == 1
    assert "FIFO" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the pipe is still a pipe"
    assert _leftovers(out_dir, {fifo.name}) == []


def test_the_file_is_flushed_before_the_rename_and_the_folder_after(
    director: ServiceContext, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def link(source: str | Path, target: str | Path) -> None:
        events.append(("link", f"{source} -> {target}"))
        real_link(source, target)

    monkeypatch.setattr(outputs.os, "fsync", fsync)
    monkeypatch.setattr(outputs.os, "link", link)
    target = out_dir / "lots.csv"
    report_service.export(director, "lots", "csv", target)
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "link", "fsync"], events
    temporary = Path(events[0][1])
    assert temporary.parent == out_dir and temporary.name.startswith(".lots.csv.") and temporary != target
    assert events[2][1] == str(out_dir), "the folder's entry is flushed after the rename"
    assert target.is_file() and _leftovers(out_dir, {"lots.csv"}) == []


def test_a_full_disk_exits_non_zero_and_leaves_no_partial_file(
    database_url: str, db: Database, out_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def write_until_full(path: str | Path, fmt: str, table: object) -> int:
        with open(path, "wb") as handle:
            handle.write(b"lot_number,product\r\nhalf a ro")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(report_service, "write_table", write_until_full)
    entries = audit_count(db)
    assert run(database_url, [*COMMANDS["export"], str(out_dir / "lots.csv")], monkeypatch) == 1
    assert "disk is full" in capsys.readouterr().err
    assert os.listdir(out_dir) == [] and audit_count(db) == entries + 1


def test_a_backup_that_cannot_be_flushed_leaves_nothing(
    database_url: str, out_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", fsync)
    assert run(database_url, [*COMMANDS["backup"], str(out_dir / "copy.sqlite3")], monkeypatch) == 1
    assert "disk is full" in capsys.readouterr().err
    assert os.listdir(out_dir) == []


@pytest.mark.qt
def test_the_lookback_csv_of_the_desktop_refuses_a_fifo(qtbot: QtBot, director: ServiceContext, out_dir: Path) -> None:
    from registry_app.ui.dialogs.recall import LookbackDialog
    from tests.ui.workflow_data import make_lot

    lookback = LookbackDialog(director, make_lot(director.db).lot_id)
    qtbot.addWidget(lookback)
    fifo = out_dir / "lookback.csv"
    os.mkfifo(fifo)
    # A reader on the pipe, so that a regression writing into it fails this test instead of hanging it.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(ValidationError, match="FIFO"):
            lookback.export_csv(fifo)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _leftovers(out_dir, {fifo.name}) == []
    assert lookback.export_csv(out_dir / "lookback-2.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert _leftovers(out_dir, {fifo.name, "lookback-2.csv"}) == []
