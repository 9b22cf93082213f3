"""`registry-app import lots|administrations FILE`: messages, exit codes, dry run."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_app.cli import main
from tests.conftest import PASSWORDS
from tests.helpers import row_counts

from ..helpers import FORMAT_EXAMPLES

EXAMPLES = FORMAT_EXAMPLES


@pytest.fixture
def as_pharmacist(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_USER", "pharmacist")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["pharmacist"])
    return database_url


def test_import_lots_then_administrations(as_pharmacist: str, db, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    before = row_counts(db)
    assert main(["import", "lots", str(EXAMPLES / "lots-example.csv"), "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    after = row_counts(db)
    assert after.pop("audit_entry") == before.pop("audit_entry") + 1  # the sign-in, nothing else
    assert after == before
    assert main(["import", "lots", str(EXAMPLES / "lots-example.csv")]) == 0
    out = capsys.readouterr().out
    assert "imported lots-example.csv: 4 rows (4 new lots, 0 updated, 4 new products)" in out
    assert main(["import", "administrations", str(EXAMPLES / "administrations-example.csv")]) == 0
    assert "4 new administrations" in capsys.readouterr().out
    assert main(["import", "lots", str(EXAMPLES / "lots-example.csv")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "error: row 2, column lot_number: CX-2406-118 of Cordexa UC-EV 10B is already in the "
        "registry: use --update to change it"
    )
    assert err[-1] == "lots-example.csv: 4 row(s) rejected; nothing was written"
    assert main(["import", "lots", str(EXAMPLES / "lots-example.csv"), "--update"]) == 0


def test_malformed_file_and_permissions(
    as_pharmacist: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "product_name,product_type,lot_number,received_date,quantity_received,unit\nX,exosome,L1,2026-02-30,5,vial\n"
    )
    assert main(["import", "lots", str(bad)]) == 1
    assert "error: row 2, column received_date: '2026-02-30' is not a date" in capsys.readouterr().err
    assert main(["import", "lots", str(tmp_path / "missing.csv")]) == 1
    assert "missing.csv" in capsys.readouterr().err
    monkeypatch.setenv("REGISTRY_USER", "inspector")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["inspector"])
    assert main(["import", "lots", str(bad)]) == 3
    assert "may not import lots" in capsys.readouterr().err


def test_a_large_file_is_validated_from_before_the_sign_in(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    db,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    """The command starts the file's validating process before the (slow) sign-in, and the import uses that
    process: one process for the whole command. A user who may not import gets the refusal, and the process
    is ended all the same."""
    from registry_app.services import import_pipeline
    from tests.importers.generator import write_lots_csv

    started: list[object] = []
    real = import_pipeline.ValidatingProcess

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    monkeypatch.setattr(import_pipeline, "ValidatingProcess", Counted)
    monkeypatch.setattr(import_pipeline, "PIPELINE_FROM_BYTES", 1)
    monkeypatch.setattr(import_pipeline, "ROWS_PER_CHUNK", 40)
    path = write_lots_csv(tmp_path / "lots.csv", 150, seed=2)
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_USER", "inspector")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["inspector"])
    assert main(["import", "lots", str(path)]) != 0
    assert len(started) == 1 and not started[0].child.is_alive()  # type: ignore[attr-defined]
    monkeypatch.setenv("REGISTRY_USER", "director")
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS["director"])
    assert main(["import", "lots", str(path)]) == 0
    assert "150 new lots" in capsys.readouterr().out
    assert len(started) == 2 and not started[1].child.is_alive()  # type: ignore[attr-defined]
    assert row_counts(db)["lot"] == 150


def test_a_file_over_the_registry_limit_starts_no_validating_process(
    as_pharmacist: str,
    db,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    """The registry's size limit is read before the process that would validate ahead of the sign-in starts:
    an oversized file is refused in one line and no process is started for it."""
    from registry_app.domain import Setting
    from registry_app.services import import_pipeline
    from registry_app.services.imports import IMPORT_MAX_BYTES_KEY
    from tests.importers.generator import write_lots_csv

    def no_process() -> None:
        raise AssertionError("a validating process was started")

    monkeypatch.setattr(import_pipeline, "ValidatingProcess", no_process)
    monkeypatch.setattr(import_pipeline, "PIPELINE_FROM_BYTES", 1)
    path = write_lots_csv(tmp_path / "lots.csv", 150, seed=3)
    with db.write() as session:
        session.add(Setting(key=IMPORT_MAX_BYTES_KEY, value="2000"))
    before = row_counts(db)
    assert main(["import", "lots", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "over the limit of 2,000 bytes" in err[0], err
    after = row_counts(db)
    assert all(after[name] == before[name] for name in ("lot", "product", "characterization_result"))
