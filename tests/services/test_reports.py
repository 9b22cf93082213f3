"""Exports, the compliance report and the bundle over a demo registry, read back with independent tools."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import subprocess
import unicodedata
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from registry_app.domain import Administration, AuditEntry, Lot, Setting
from registry_app.rules import evaluate_flags
from registry_app.services import PermissionDenied, ServiceContext, ValidationError, flags, reports
from registry_app.services.audit import AuditRecord, append
from registry_app.services.demo import generate as demo

from ..helpers import audit_count

TODAY = date(2025, 6, 15)
START, END = TODAY - timedelta(days=3 * 365), TODAY


@pytest.fixture
def demo_registry(pharmacist: ServiceContext, admin: ServiceContext) -> ServiceContext:
    demo.generate_demo(admin, lots=40, seed=11, today=TODAY)
    return pharmacist


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder for the outputs only (the test registry's files live in tmp_path)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _last_entry(ctx: ServiceContext) -> AuditEntry:
    with ctx.db.read() as session:
        return session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _patient_refs(ctx: ServiceContext) -> set[str]:
    with ctx.db.read() as session:
        refs = session.execute(select(Administration.patient_ref).where(Administration.patient_ref.is_not(None)))
        return {r for r in refs.scalars() if r.strip()}


def _pdf_text(path: Path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(unicodedata.normalize("NFKC", text).split())


@pytest.mark.parametrize("kind", ["lots", "products", "administrations", "flags", "audit"])
def test_each_export_writes_the_file_its_audit_entry_describes(
    demo_registry: ServiceContext, kind: str, out: Path
) -> None:
    ctx = demo_registry
    before = audit_count(ctx.db)
    result = reports.export(ctx, kind, "csv", out / f"{kind}.csv", today=TODAY)
    assert audit_count(ctx.db) == before + 1
    rows = _csv_rows(result.path)
    assert len(rows) == result.rows > 0
    entry = _last_entry(ctx)
    after = json.loads(entry.after)
    assert entry.action == f"export {kind}" and entry.username == "pharmacist"
    assert after["sha256"] == _sha256(result.path.read_bytes()) == result.sha256
    assert after["rows"] == len(rows) and after["patient_refs"] == "pseudonymized"
    assert [p.name for p in out.iterdir()] == [f"{kind}.csv"], "no temporary file is left behind"


def test_lots_export_matches_the_registry(demo_registry: ServiceContext, out: Path) -> None:
    rows = _csv_rows(reports.export(demo_registry, "lots", "csv", out / "lots.csv", today=TODAY).path)
    with demo_registry.db.read() as session:
        lots = {lot.lot_number: lot for lot in session.execute(select(Lot)).scalars()}
    assert {r["lot_number"] for r in rows} == set(lots)
    for row in rows[:10]:
        lot = lots[row["lot_number"]]
        assert row["received_date"] == lot.received_date.isoformat()
        assert float(row["quantity_received"]) == lot.quantity_received


def test_lots_export_carries_the_completeness_score_the_flags_service_gives(
    demo_registry: ServiceContext, out: Path
) -> None:
    rows = _csv_rows(reports.export(demo_registry, "lots", "csv", out / "lots.csv", today=TODAY).path)
    with demo_registry.db.read() as session:
        ids = dict(session.execute(select(Lot.lot_number, Lot.id)).all())
    expected = flags.lot_scores(demo_registry, list(ids.values()))
    assert all(row["completeness_pct"] != "" for row in rows)
    for row in rows:
        assert float(row["completeness_pct"]) == pytest.approx(expected[ids[row["lot_number"]]])
    assert len({row["completeness_pct"] for row in rows}) > 1, "demo lots differ in documentation"


def test_patient_references_are_pseudonymized_the_same_way_every_time(
    demo_registry: ServiceContext, inspector: ServiceContext, out: Path
) -> None:
    real = _patient_refs(demo_registry)
    assert real
    first = reports.export(inspector, "administrations", "csv", out / "a.csv")
    second = reports.export(demo_registry, "administrations", "xlsx", out / "b.xlsx")
    text = first.path.read_text(encoding="utf-8")
    assert not [ref for ref in real if ref in text], "no real patient reference leaks into the export"
    csv_patients = [r["patient"] for r in _csv_rows(first.path)]
    sheet = openpyxl.load_workbook(second.path)["administrations"]
    header = [c.value for c in sheet[1]]
    xlsx_patients = [row[header.index("patient")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert csv_patients == xlsx_patients, "the same patient keeps the same pseudonym across exports"
    assert all(re.fullmatch(r"P-[0-9a-f]{10}", p) for p in csv_patients if p)
    with demo_registry.db.read() as session:
        key = bytes.fromhex(session.get(Setting, reports.PSEUDONYM_KEY).value)
        by_id = dict(session.execute(select(Administration.id, Administration.patient_ref)).all())
    for row in _csv_rows(first.path)[:20]:
        ref = by_id[int(row["administration_id"])]
        if ref:
            expected = "P-" + hmac.new(key, ref.strip().encode(), hashlib.sha256).hexdigest()[:10]
            assert row["patient"] == expected


def test_xlsx_export_has_typed_cells(demo_registry: ServiceContext, out: Path) -> None:
    result = reports.export(demo_registry, "administrations", "xlsx", out / "adm.xlsx")
    sheet = openpyxl.load_workbook(result.path)["administrations"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    row = next(sheet.iter_rows(min_row=2, max_row=2))
    assert row[header.index("administered_at")].is_date
    assert row[header.index("administration_id")].data_type == "n"
    assert sheet.max_row == result.rows + 1


def test_only_a_medical_director_may_include_real_references(
    demo_registry: ServiceContext, director: ServiceContext, inspector: ServiceContext, admin: ServiceContext, out: Path
) -> None:
    real = _patient_refs(demo_registry)
    for ctx in (demo_registry, inspector, admin):
        before = audit_count(ctx.db)
        with pytest.raises(PermissionDenied, match="medical director"):
            reports.export(ctx, "administrations", "csv", out / "refused.csv", include_patient_refs=True)
        assert audit_count(ctx.db) == before
    assert not list(out.iterdir())
    result = reports.export(director, "administrations", "csv", out / "real.csv", include_patient_refs=True)
    assert {r["patient"] for r in _csv_rows(result.path) if r["patient"]} <= real
    entry = _last_entry(director)
    assert entry.username == "director"
    assert json.loads(entry.after)["patient_refs"] == "included"
    assert "patient references" in (entry.reason or "")


def test_audit_export_pseudonymizes_patient_references_inside_entries(director: ServiceContext, out: Path) -> None:
    with director.db.write() as session:
        append(
            session,
            None,
            "system",
            AuditRecord(
                "record administration",
                "administration",
                1,
                before={},
                after={"patient_ref": "ANNA-77", "route": "intradermal"},
            ),
        )
    result = reports.export(director, "audit", "csv", out / "audit.csv")
    text = result.path.read_text(encoding="utf-8")
    assert "ANNA-77" not in text
    entry = next(r for r in _csv_rows(result.path) if r["action"] == "record administration")
    assert re.fullmatch(r"P-[0-9a-f]{10}", json.loads(entry["after"])["patient_ref"])
    real = reports.export(director, "audit", "csv", out / "audit-real.csv", include_patient_refs=True)
    assert "ANNA-77" in real.path.read_text(encoding="utf-8")


def test_bad_requests_write_nothing(demo_registry: ServiceContext, out: Path) -> None:
    ctx = demo_registry
    before = audit_count(ctx.db)
    cases = [
        (lambda: reports.export(ctx, "patients", "csv", out / "x.csv"), "kind"),
        (lambda: reports.export(ctx, "lots", "ods", out / "x.ods"), "format"),
        (lambda: reports.export(ctx, "lots", "xlsx", out / "x.csv"), "out"),
        (lambda: reports.export(ctx, "lots", "csv", out / "missing" / "x.csv"), "out"),
        (lambda: reports.compliance_report(ctx, END, START, out / "x.pdf"), "to"),
        (lambda: reports.bundle(ctx, START, END, out), "out"),
    ]
    for call, field in cases:
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.for_field(field), (field, raised.value.errors)
    assert audit_count(ctx.db) == before
    assert not list(out.iterdir())


def test_period_limits_the_administrations(demo_registry: ServiceContext, out: Path) -> None:
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=30)
    result = reports.export(demo_registry, "administrations", "csv", out / "p.csv", start=start, end=end)
    rows = _csv_rows(result.path)
    with demo_registry.db.read() as session:
        expected = (
            session.execute(
                select(Administration.id).where(
                    Administration.administered_at >= datetime.combine(start, time.min),
                    Administration.administered_at < datetime.combine(end + timedelta(days=1), time.min),
                )
            )
            .scalars()
            .all()
        )
    assert sorted(int(r["administration_id"]) for r in rows) == sorted(expected)
    assert all(start.isoformat() <= r["administered_at"][:10] <= end.isoformat() for r in rows)


@pytest.mark.qt  # writes a PDF
def test_compliance_report_shows_lots_and_flags_of_the_period(
    demo_registry: ServiceContext, inspector: ServiceContext, out: Path
) -> None:
    result = reports.compliance_report(inspector, START, END, out / "report.pdf", today=TODAY)
    info = subprocess.run(["pdfinfo", str(result.path)], check=True, capture_output=True, text=True).stdout
    assert int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1)) == result.pages  # type: ignore[union-attr]
    text = _pdf_text(result.path)
    with inspector.db.read() as session:
        lot_numbers = session.execute(select(Lot.lot_number).where(Lot.received_date.between(START, END))).scalars()
        lot_numbers = list(lot_numbers)
        lot_flags = [f for f in evaluate_flags(session, "US", TODAY) if f.subject_type == "lot"]
    assert lot_numbers and all(n in text for n in lot_numbers)
    assert lot_flags and {f.code for f in lot_flags} <= set(re.findall(r"[A-Z]+(?:-[A-Z0-9]+)+", text))
    assert "audit trail intact" in text and f"page {result.pages} of {result.pages}" in text
    assert not [ref for ref in _patient_refs(inspector) if f" {ref} " in f" {text} "]
    entry = _last_entry(inspector)
    after = json.loads(entry.after)
    assert entry.action == "compliance report" and entry.username == "inspector"
    assert after["sha256"] == _sha256(result.path.read_bytes())
    assert after["period"] == {"from": START.isoformat(), "to": END.isoformat()}


@pytest.mark.qt  # writes a PDF
def test_bundle_manifest_sums_match_every_file(demo_registry: ServiceContext, out: Path) -> None:
    before = audit_count(demo_registry.db)
    result = reports.bundle(demo_registry, START, END, out / "bundle.zip", today=TODAY)
    assert audit_count(demo_registry.db) == before + 1
    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        listed = {f["name"]: f["sha256"] for f in manifest["files"]}
        for name, digest in listed.items():
            assert _sha256(archive.read(name)) == digest, name
        sums = dict(reversed(line.split("  ", 1)) for line in archive.read("SHA256SUMS").decode().splitlines())
        verify = archive.read("audit/audit-verify.txt").decode()
        report = archive.read("compliance-report.pdf")
        lots_csv = list(csv.DictReader(io.StringIO(archive.read("exports/lots.csv").decode("utf-8-sig"))))
    assert sums == listed
    assert names == set(listed) | {"manifest.json", "SHA256SUMS"}
    for kind in ("lots", "products", "administrations", "flags"):
        assert {f"exports/{kind}.csv", f"exports/{kind}.xlsx"} <= names
    assert {"audit/audit-trail.csv", "audit/audit-trail.xlsx", "compliance-report.pdf"} <= names
    assert report.startswith(b"%PDF") and verify.startswith("OK: audit trail intact")
    assert manifest["period"] == {"from": START.isoformat(), "to": END.isoformat()}
    assert len(lots_csv) == next(f["rows"] for f in manifest["files"] if f["name"] == "exports/lots.csv")
    entry = _last_entry(demo_registry)
    after = json.loads(entry.after)
    assert entry.action == "inspection bundle"
    assert after["sha256"] == _sha256(result.path.read_bytes())
    assert after["files"] == listed
