"""Issue 17, resource limits: what an import or an attached document may cost is checked before the work.
A FIFO, a device or a directory is refused at once (never waited on), sizes come from os.stat before a byte is
read, an XLSX's zip directory and declared sheet dimension are checked before openpyxl inflates or iterates,
a runaway header is refused by its width, and a flood of row errors is shown as the first ones and a count."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import Document, Setting
from registry_app.importers import tabular
from registry_app.services import ServiceContext, ValidationError
from registry_app.services.imports import IMPORT_MAX_BYTES_KEY, import_administrations, import_lots
from registry_app.services.lots import documents
from registry_app.services.lots.documents import attach_document

from ..conftest import PASSWORDS
from ..helpers import row_counts
from ..services.use_data import make_lot, make_product

LOT_HEADER = "product_name,product_type,lot_number,received_date,quantity_received,unit,supplier"


def finishes_within(seconds: float, call: Callable[[], Any], unblock: Callable[[], None] = lambda: None) -> Any:
    """`call()`'s result or exception, failing the test (not hanging it) when it takes longer than `seconds`;
    `unblock` then releases whatever the call waits on, so the thread ends."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    started = time.perf_counter()
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        unblock()
        worker.join(5)
        pytest.fail(f"still running after {seconds} s")
    outcome["elapsed"] = time.perf_counter() - started
    return outcome


def _release_fifo(path: Path) -> Callable[[], None]:
    def unblock() -> None:
        with contextlib.suppress(OSError):  # no reader waiting: nothing to release
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # a writer that closes: the reader sees EOF

    return unblock


def _refusal(outcome: dict[str, Any]) -> str:
    error = outcome.get("error")
    assert isinstance(error, ValidationError), outcome
    assert len(str(error).splitlines()) == 1, "one line"
    return str(error)


# ---- special files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", [import_lots, import_administrations])
def test_a_fifo_is_refused_at_once(pharmacist: ServiceContext, db: Database, tmp_path: Path, service: Any) -> None:
    fifo = tmp_path / "lots.csv"
    os.mkfifo(fifo)
    before = row_counts(db)
    outcome = finishes_within(3, lambda: service(pharmacist, fifo), _release_fifo(fifo))
    assert "FIFO" in _refusal(outcome) and row_counts(db) == before


@pytest.mark.parametrize("name, kind", [("/dev/zero", "device"), ("/dev/null", "device"), ("{tmp}", "directory")])
def test_devices_and_directories_are_refused(pharmacist: ServiceContext, tmp_path: Path, name: str, kind: str) -> None:
    path = name.format(tmp=tmp_path)
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    outcome = finishes_within(3, lambda: import_lots(pharmacist, path))
    assert kind in _refusal(outcome)


def test_the_cli_refuses_a_fifo_in_one_line(
    pharmacist: ServiceContext,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fifo = tmp_path / "log.csv"
    os.mkfifo(fifo)
    monkeypatch.setenv("REGISTRY_USER", "pharmacist")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["pharmacist"])
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    argv = ["--database", database_url, "import", "administrations", str(fifo)]
    outcome = finishes_within(5, lambda: main(argv), _release_fifo(fifo))
    assert outcome.get("result") == 1, outcome
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FIFO" in err[0], err


# ---- sizes ---------------------------------------------------------------------------------------------------


def test_an_import_over_the_size_limit_is_refused_before_reading(
    pharmacist: ServiceContext, db: Database, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.write(LOT_HEADER.encode() + b"\n")
        handle.truncate(300 * 1024 * 1024)  # sparse: 300 MB that take no disk and must never be read
    tracemalloc.start()
    try:
        outcome = finishes_within(2, lambda: import_lots(pharmacist, big))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = _refusal(outcome)
    assert "300.0 MB" in message and "limit of 200.0 MB" in message
    assert peak < 5 * 1024 * 1024, f"peak {peak:,} bytes"


def test_the_size_limit_is_a_registry_setting(pharmacist: ServiceContext, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "lots.csv"
    path.write_text(LOT_HEADER + "\n" + "Glow Exo Booster,exosome,GX-1,2026-01-05,5,vial,Supplier\n" * 40)
    with db.write() as session:
        session.add(Setting(key=IMPORT_MAX_BYTES_KEY, value="1000"))
    assert "limit of 1,000 bytes" in _refusal(finishes_within(5, lambda: import_lots(pharmacist, path, dry_run=True)))


# ---- XLSX --------------------------------------------------------------------------------------------------


def _xlsx(path: Path, dimension: str | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """A small real workbook (a header and one row); its sheet's <dimension ref> rewritten when given."""
    book = Workbook()
    sheet = book.active
    sheet.append(LOT_HEADER.split(","))
    sheet.append(["Glow Exo Booster", "exosome", "GX-1", "2026-01-05", 5, "vial", "Supplier"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if dimension and item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), data)
                assert count == 1
            target.writestr(item, data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return path


def test_a_sheet_declaring_a1_xfd1048576_is_refused_in_well_under_a_second(
    pharmacist: ServiceContext, tmp_path: Path
) -> None:
    path = _xlsx(tmp_path / "huge.xlsx", "A1:XFD1048576")
    assert path.stat().st_size < 10_000
    outcome = finishes_within(10, lambda: import_lots(pharmacist, path, dry_run=True))
    message = _refusal(outcome)
    assert "A1:XFD1048576" in message and "16,384 columns" in message and "limit of 200 columns" in message
    assert outcome["elapsed"] < 1.0, outcome["elapsed"]


def test_an_honest_workbook_still_imports(pharmacist: ServiceContext, tmp_path: Path) -> None:
    result = import_lots(pharmacist, _xlsx(tmp_path / "lots.xlsx"), dry_run=True)
    assert result.ok and result.rows == 1, result.error_lines()


def test_a_zip_bomb_is_refused_from_the_zip_directory(
    pharmacist: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same check as a 1 GB bomb, at a scale a test can build: 4 MB of zeros deflate to a few KB.
    monkeypatch.setattr(tabular, "MAX_XLSX_UNCOMPRESSED", 2 * 1024 * 1024)
    path = _xlsx(tmp_path / "bomb.xlsx", extra={"xl/media/filler.bin": bytes(4 * 1024 * 1024)})
    assert path.stat().st_size < 20_000
    message = _refusal(finishes_within(5, lambda: import_lots(pharmacist, path, dry_run=True)))
    assert "inflates to" in message and "limit of 2.0 MB" in message


# ---- width and error floods ------------------------------------------------------------------------------------


def test_a_header_with_200k_columns_is_refused_quickly(pharmacist: ServiceContext, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(LOT_HEADER + "," + ",".join(f"extra_{i}" for i in range(200_000)) + "\n")
    outcome = finishes_within(10, lambda: import_lots(pharmacist, path, dry_run=True))
    message = _refusal(outcome)
    assert "200,007 columns" in message and "limit of 200 columns" in message
    assert outcome["elapsed"] < 3.0, outcome["elapsed"]


def _bad_log(db: Database, tmp_path: Path, rows: int) -> Path:
    make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    path = tmp_path / "log.csv"
    lines = ["administered_at,product_name,lot_number,patient_ref,route"]
    lines += [f"2026-01-05T10:00,Cordexa UC-EV 10B,CX-2406-118,PT-{i:05d},by_mail" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_row_errors_are_capped_with_an_exact_count(pharmacist: ServiceContext, db: Database, tmp_path: Path) -> None:
    result = import_administrations(pharmacist, _bad_log(db, tmp_path, 2_000), dry_run=True)
    assert len(result.errors) == 2_000, "every error is still counted"
    lines = result.error_lines()
    assert len(lines) == 51 and lines[-1] == "... and 1,950 more"
    assert lines[0].startswith("row 2, column route")
    assert len(result.error_lines(None)) == 2_000


def test_the_cli_prints_the_first_errors_and_the_count(
    pharmacist: ServiceContext,
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _bad_log(db, tmp_path, 2_000)
    monkeypatch.setenv("REGISTRY_USER", "pharmacist")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["pharmacist"])
    assert main(["--database", database_url, "import", "administrations", str(path), "--dry-run"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 52
    assert err[-2] == "... and 1,950 more" and err[-1] == "log.csv: 2000 row(s) rejected; nothing was written"


@pytest.mark.qt
def test_the_wizard_shows_the_first_errors_and_the_count(
    qtbot, pharmacist: ServiceContext, db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from registry_app.ui.dialogs.import_wizard import ImportWizard

    wizard = ImportWizard(pharmacist, kind="administrations")
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.show_progress = False
    wizard.path_edit.setText(str(_bad_log(db, tmp_path, 500)))
    wizard.check_button.click()
    qtbot.waitUntil(lambda: wizard.task is not None and not wizard.busy, timeout=20000)
    text = wizard.summary.text()
    assert "500 rows rejected" in text and "... and 480 more" in text
    assert text.count("column route") == 20


# ---- documents ---------------------------------------------------------------------------------------------


def test_a_3_gb_document_is_refused_without_reading_it(
    pharmacist: ServiceContext, db: Database, tmp_path: Path
) -> None:
    lot = make_lot(db, make_product(db))
    scan = tmp_path / "scan.pdf"
    with open(scan, "wb") as handle:
        handle.truncate(3 * 1024**3)  # sparse
    before = row_counts(db)
    tracemalloc.start()
    try:
        outcome = finishes_within(2, lambda: attach_document(pharmacist, "coa", lot_id=lot, path=scan))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "3,072.0 MB" in _refusal(outcome) and "at most 50 MB" in str(outcome["error"])
    assert peak < 5 * 1024 * 1024, f"peak {peak:,} bytes"
    assert row_counts(db) == before


def test_a_fifo_document_is_refused_at_once(pharmacist: ServiceContext, db: Database, tmp_path: Path) -> None:
    lot = make_lot(db, make_product(db))
    fifo = tmp_path / "coa.pdf"
    os.mkfifo(fifo)
    outcome = finishes_within(3, lambda: attach_document(pharmacist, "coa", lot_id=lot, path=fifo), _release_fifo(fifo))
    assert "not a regular file" in _refusal(outcome)


def test_a_document_is_hashed_in_chunks_and_stored_whole(
    pharmacist: ServiceContext, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "READ_CHUNK", 1000)
    lot = make_lot(db, make_product(db))
    path = tmp_path / "coa.pdf"
    content = os.urandom(10_500)
    path.write_bytes(content)
    document_id = attach_document(pharmacist, "coa", lot_id=lot, path=path)
    with db.read() as session:
        stored = session.get(Document, document_id)
        assert stored is not None and stored.content == content and stored.size_bytes == 10_500
        assert stored.sha256 == hashlib.sha256(content).hexdigest()


def test_the_limit_holds_while_reading_a_file_that_grew(
    pharmacist: ServiceContext, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot = make_lot(db, make_product(db))
    path = tmp_path / "coa.pdf"
    path.write_bytes(bytes(5000))
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 4000)
    monkeypatch.setattr(documents, "READ_CHUNK", 1000)
    real_stat = os.stat

    def stale_stat(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        """The size as it was a moment before the file grew to 5,000 bytes."""
        found = real_stat(target, *args, **kwargs)
        if Path(target) != path:
            return found
        return os.stat_result((found.st_mode, *found[1:6], 3000, *found[7:]))

    monkeypatch.setattr(documents.os, "stat", stale_stat)
    before = row_counts(db)
    with pytest.raises(ValidationError, match="can be stored"):
        attach_document(pharmacist, "coa", lot_id=lot, path=path)
    assert row_counts(db) == before
