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


@pytest.mark.qt  # the report is a PDF
def test_every_output_prints_the_audit_head_it_was_made_at(
    database_url: str,
    db: Database,
    admin: ServiceContext,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo.generate_demo(admin, lots=40, seed=5)
    base = ["--database", database_url]
    period = ["--from", "2000-01-01", "--to", "2100-12-31"]
    commands = [
        ["export", "audit", "--format", "csv", "--out", str(out / "audit.csv")],
        ["report", "compliance", *period, "--out", str(out / "r.pdf")],
        ["bundle", *period, "--out", str(out / "b.zip")],
    ]
    for command in commands:
        with db.read() as session:  # the head before the output's own entry (and the sign-in's)
            last = session.execute(
                select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc())
            ).first()
        assert run([*base, *command], monkeypatch) == 0
        err = capsys.readouterr().err
        seq, digest = err.split("audit head: ")[1].split()[0].split(":")
        assert int(seq) > last[0] and len(digest) == 64, command  # the sign-in's entry comes first
        with db.read() as session:
            assert session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == int(seq))).scalar() == digest
    rows = list(csv.DictReader(io.StringIO((out / "audit.csv").read_text(encoding="utf-8-sig"))))
    assert {"user_id", "records", "content", "prev_hash", "entry_hash"} <= rows[0].keys()
    assert any(row["records"] for row in rows)
    with db.read() as session:
        exact = session.execute(select(AuditEntry.occurred_at).where(AuditEntry.seq == 1)).scalar_one()
    assert rows[0]["occurred_at"] == exact.isoformat()
