"""`export`, `report compliance`, `bundle`: exit codes, messages, and the files they write."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import AuditEntry
from registry_app.services import ServiceContext
from registry_app.services.demo import generate as demo

from ..conftest import PASSWORDS


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, user: str | None = "inspector") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for key in ("REGISTRY_USER", "REGISTRY_PASSWORD", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    if user:
        monkeypatch.setenv("REGISTRY_USER", user)
        monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS[user])
    return main(argv)


def output_entries(db: Database) -> int:
    """Audit entries of outputs (sign-ins are audited too, so count only exports, reports and bundles)."""
    with db.read() as session:
        return session.execute(
            select(func.count(AuditEntry.id)).where(AuditEntry.entity_type.in_(("export", "report", "bundle")))
        ).scalar_one()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_export_csv_and_xlsx(
    database_url: str,
    admin: ServiceContext,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo.generate_demo(admin, lots=40, seed=5)
    code = run(
        ["--database", database_url, "export", "lots", "--format", "csv", "--out", str(out / "lots.csv")], monkeypatch
    )
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    with open(out / "lots.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40 and f"{len(rows)} lots rows" in printed
    assert hashlib.sha256((out / "lots.csv").read_bytes()).hexdigest() in printed
    code = run(
        ["--database", database_url, "export", "flags", "--format", "xlsx", "--out", str(out / "f.xlsx")], monkeypatch
    )
    assert code == 0
    sheet = openpyxl.load_workbook(out / "f.xlsx")["flags"]
    assert sheet["A1"].value == "code" and sheet.max_row > 1


def test_usage_data_and_permission_errors_have_their_exit_codes(
    database_url: str,
    pharmacist: ServiceContext,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = output_entries(pharmacist.db)
    base = ["--database", database_url]
    assert run([*base, "export", "patients", "--format", "csv", "--out", str(out / "x.csv")], monkeypatch) == 2
    assert (
        run(
            [*base, "report", "compliance", "--from", "2024-13-01", "--to", "2024-12-31", "--out", str(out / "r.pdf")],
            monkeypatch,
        )
        == 2
    )
    capsys.readouterr()
    assert (
        run(
            [*base, "report", "compliance", "--from", "2024-12-31", "--to", "2024-01-01", "--out", str(out / "r.pdf")],
            monkeypatch,
        )
        == 1
    )
    assert "before it starts" in capsys.readouterr().err
    assert run([*base, "export", "lots", "--format", "csv", "--out", str(out / "no" / "x.csv")], monkeypatch) == 1
    assert "does not exist" in capsys.readouterr().err
    code = run(
        [*base, "export", "administrations", "--format", "csv", "--out", str(out / "a.csv"), "--include-patient-refs"],
        monkeypatch,
        user="pharmacist",
    )
    assert code == 3
    assert "medical director" in capsys.readouterr().err
    assert run([*base, "export", "lots", "--format", "csv", "--out", str(out / "x.csv")], monkeypatch, user=None) == 3
    assert output_entries(pharmacist.db) == before
    assert not list(out.iterdir())


@pytest.mark.qt  # writes a PDF
def test_report_and_bundle(
    database_url: str,
    admin: ServiceContext,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo.generate_demo(admin, lots=40, seed=5)
    base = ["--database", database_url]
    code = run(
        [*base, "report", "compliance", "--from", "2000-01-01", "--to", "2100-12-31", "--out", str(out / "r.pdf")],
        monkeypatch,
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "r.pdf").read_bytes().startswith(b"%PDF") and "pages" in capsys.readouterr().out
    code = run(
        [*base, "bundle", "--from", "2000-01-01", "--to", "2100-12-31", "--out", str(out / "b.zip")],
        monkeypatch,
        user="director",
    )
    assert code == 0, capsys.readouterr().err
    with zipfile.ZipFile(out / "b.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for item in manifest["files"]:
            assert hashlib.sha256(archive.read(item["name"])).hexdigest() == item["sha256"]
    assert manifest["generated_by"].startswith("Dana Director")
