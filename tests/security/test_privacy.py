"""Issue 17, privacy: patient references follow a pattern an admin may set (never a name or a birth date),
inspectors see one stable pseudonym per patient wherever patients appear (trace, lookback, exports, bundle),
and free text (notes, amendment reasons, adverse event narratives) stays out of inspectors' outputs unless a
medical director includes it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import Administration, AuditEntry
from registry_app.services import PermissionDenied, ServiceContext, ValidationError, privacy, reports
from registry_app.services.administrations import amend_administration, record_administration
from registry_app.services.adverse_events import record_adverse_event
from registry_app.services.imports import import_administrations
from registry_app.services.queries.lot_record import administrations_list, lot_detail
from registry_app.services.recalls import lots_for_patient, trace_lot
from registry_app.services.sites import set_site, site_info

from ..conftest import PASSWORDS
from ..helpers import row_counts
from ..services.use_data import TODAY, YESTERDAY_10AM, entry, make_lot, make_product

NAME_AND_BIRTH = "Jane Doe 1980-04-01"
NOTE = "Jane Doe phoned: swelling near the left eye"
AMENDMENT = "Jane Doe's husband said the dose was 2"
NARRATIVE = "Jane Doe: erythema and swelling, resolved"


def cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, database_url: str, user: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("REGISTRY_USER", user)
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS[user])
    return main(["--database", database_url, *argv])


# ---- the patient-reference pattern -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref", [NAME_AND_BIRTH, "Jane Doe", "1980-04-01", "JD-19800401", "JD-01/04/1980", "jane.doe.1980.04.01"]
)
def test_names_and_birth_dates_are_refused_by_default(pharmacist: ServiceContext, db: Database, ref: str) -> None:
    lot = make_lot(db, make_product(db))
    before = row_counts(db)
    with pytest.raises(ValidationError) as refused:
        record_administration(pharmacist, entry(lot, patient_ref=ref))
    assert refused.value.for_field("patient_ref"), refused.value
    assert row_counts(db) == before


@pytest.mark.parametrize("ref", ["P-000123", "PT-00412", "A1", "clinic/2026#17"])
def test_pseudonymous_codes_are_accepted_by_default(pharmacist: ServiceContext, db: Database, ref: str) -> None:
    lot = make_lot(db, make_product(db))
    saved = record_administration(pharmacist, entry(lot, patient_ref=ref)).administration_id
    with db.read() as session:
        assert session.get(Administration, saved).patient_ref == ref


def test_an_admin_sets_the_pattern_and_old_records_keep_theirs(
    admin: ServiceContext, pharmacist: ServiceContext, db: Database
) -> None:
    lot = make_lot(db, make_product(db))
    old = record_administration(pharmacist, entry(lot, patient_ref="P-000123")).administration_id
    assert privacy.set_patient_ref_pattern(admin, r"PT-\d{5}") == r"PT-\d{5}"
    with db.read() as session:
        audit = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        assert audit.action == "set patient reference pattern" and r"PT-\\d{5}" in audit.after
    with pytest.raises(ValidationError, match=r"PT-\\d\{5\}"):
        record_administration(pharmacist, entry(lot, patient_ref="P-000124"))
    record_administration(pharmacist, entry(lot, patient_ref="PT-00412"))
    # The old record is neither rewritten nor blocked from a correction of another field.
    amended = amend_administration(pharmacist, old, {"quantity": 2.0}, reason="typo").administration_id
    with db.read() as session:
        assert session.get(Administration, amended).patient_ref == "P-000123"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        amend_administration(pharmacist, amended, {"patient_ref": "P-000125"}, reason="wrong patient")
    assert privacy.set_patient_ref_pattern(admin, "") == privacy.DEFAULT_PATIENT_REF_PATTERN


@pytest.mark.parametrize(
    "pattern, why",
    [
        (".*", "accepts"),
        ("[A-Za-z0-9 -]+", "accepts"),
        (r"[\w\s/-]+", "accepts"),
        ("(", "not a valid regular expression"),
        ("P" * 400, "longer than"),
    ],
)
def test_a_pattern_that_lets_names_in_is_refused(admin: ServiceContext, db: Database, pattern: str, why: str) -> None:
    before = row_counts(db)
    with pytest.raises(ValidationError, match=why):
        privacy.set_patient_ref_pattern(admin, pattern)
    with pytest.raises(ValidationError, match=why):
        set_site(admin, "US", "Clinic", None, pattern)
    assert row_counts(db) == before
    assert site_info(admin)["patient_ref_pattern"] == privacy.DEFAULT_PATIENT_REF_PATTERN


def test_only_an_admin_sets_the_pattern(pharmacist: ServiceContext, director: ServiceContext) -> None:
    for ctx in (pharmacist, director):
        with pytest.raises(PermissionDenied):
            privacy.set_patient_ref_pattern(ctx, r"PT-\d{5}")


def test_the_cli_sets_the_pattern(
    admin: ServiceContext, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["site", "set", "--patient-ref-pattern", ".*"], monkeypatch, database_url, "admin") == 1
    err = capsys.readouterr().err
    assert "Jane Doe 1980-04-01" in err and len(err.strip().splitlines()) == 1
    assert cli(["site", "set", "--patient-ref-pattern", r"PT-\d{5}"], monkeypatch, database_url, "admin") == 0
    assert r"PT-\d{5}" in capsys.readouterr().out
    assert site_info(admin)["patient_ref_pattern"] == r"PT-\d{5}"
    assert cli(["site", "set", "--patient-ref-pattern", "P-.*"], monkeypatch, database_url, "pharmacist") == 3
    assert cli(["site", "set"], monkeypatch, database_url, "admin") == 2


def test_an_import_of_administrations_checks_the_pattern(
    pharmacist: ServiceContext, db: Database, tmp_path: Path
) -> None:
    make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    path = tmp_path / "log.csv"
    day = (TODAY - timedelta(days=2)).isoformat()
    path.write_text(
        "administered_at,product_name,lot_number,patient_ref,route\n"
        f"{day}T10:00,Cordexa UC-EV 10B,CX-2406-118,PT-00412,topical_intact\n"
        f'{day}T11:00,Cordexa UC-EV 10B,CX-2406-118,"{NAME_AND_BIRTH}",topical_intact\n',
        encoding="utf-8",
    )
    before = row_counts(db)
    result = import_administrations(pharmacist, path)
    assert [(e.row, e.column) for e in result.errors] == [(3, "patient_ref")]
    assert row_counts(db) == before


# ---- pseudonyms and free text --------------------------------------------------------------------------------


@pytest.fixture
def treated(pharmacist: ServiceContext, db: Database) -> int:
    """A lot given to two patients, with a note, an amendment reason and an adverse event narrative."""
    lot = make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    first = record_administration(
        pharmacist, entry(lot, administered_at=YESTERDAY_10AM - timedelta(days=3), patient_ref="PT-00412", notes=NOTE)
    ).administration_id
    second = record_administration(
        pharmacist, entry(lot, administered_at=YESTERDAY_10AM - timedelta(days=2), patient_ref="PT-00388")
    ).administration_id
    amend_administration(pharmacist, second, {"quantity": 2.0}, reason=AMENDMENT)
    record_adverse_event(pharmacist, first, "erythema", onset_date=TODAY - timedelta(days=2), description=NARRATIVE)
    return lot


def _pseudonym(ctx: ServiceContext, ref: str) -> str:
    return privacy.pseudonym_for(privacy.registry_key(ctx), ref)


def test_an_inspector_traces_pseudonyms_without_free_text(
    treated: int, inspector: ServiceContext, director: ServiceContext
) -> None:
    seen = trace_lot(inspector, treated).administrations
    assert [a.patient_ref for a in seen] == [_pseudonym(inspector, "PT-00412"), _pseudonym(inspector, "PT-00388")]
    assert all(a.notes is None and a.amendment_reason is None for a in seen)
    assert [a.patient_ref for a in trace_lot(director, treated).administrations] == ["PT-00412", "PT-00388"]
    assert trace_lot(director, treated).administrations[0].notes == NOTE
    # The reverse lookup: an inspector gives the pseudonym, and never confirms a guessed reference.
    shown = _pseudonym(inspector, "PT-00412")
    assert {a.patient_ref for a in lots_for_patient(inspector, shown)} == {shown}
    assert lots_for_patient(inspector, shown.upper().replace("P-", "P-")) != []
    assert lots_for_patient(inspector, "P-0000000000") == []
    with pytest.raises(ValidationError, match="pseudonym"):
        lots_for_patient(inspector, "PT-00412")
    assert [a.patient_ref for a in lots_for_patient(director, "PT-00412")] == ["PT-00412"]


def test_the_lot_record_and_the_administrations_page_show_an_inspector_pseudonyms(
    treated: int, inspector: ServiceContext, director: ServiceContext
) -> None:
    expected = {_pseudonym(inspector, "PT-00412"), _pseudonym(inspector, "PT-00388")}
    assert {a["patient_ref"] for a in lot_detail(inspector, treated).administrations} == expected
    assert {a["patient_ref"] for a in administrations_list(inspector)} == expected
    assert {a["patient_ref"] for a in administrations_list(director)} == {"PT-00412", "PT-00388"}


def test_the_trace_pseudonym_is_the_exports_pseudonym(treated: int, inspector: ServiceContext, tmp_path: Path) -> None:
    done = reports.export(inspector, "administrations", "csv", tmp_path / "administrations.csv")
    with open(done.path, encoding="utf-8-sig", newline="") as handle:
        exported = {row["patient"] for row in csv.DictReader(handle)}
    assert exported == {a.patient_ref for a in trace_lot(inspector, treated).administrations}


def test_cli_trace_as_inspector_prints_pseudonyms(
    treated: int,
    inspector: ServiceContext,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["trace", "CX-2406-118", "--format", "json"], monkeypatch, database_url, "inspector") == 0
    out = capsys.readouterr().out
    refs = [a["patient_ref"] for a in json.loads(out)["administrations"]]
    assert refs == [_pseudonym(inspector, "PT-00412"), _pseudonym(inspector, "PT-00388")]
    assert cli(["trace", "CX-2406-118"], monkeypatch, database_url, "inspector") == 0
    assert "PT-00" not in capsys.readouterr().out


def _text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


@pytest.mark.parametrize("kind", ["audit", "administrations"])
def test_exports_leave_out_free_text_and_references(
    treated: int, inspector: ServiceContext, tmp_path: Path, kind: str
) -> None:
    text = _text_of(reports.export(inspector, kind, "csv", tmp_path / f"{kind}.csv").path)
    for secret in ("PT-00412", "PT-00388", "Jane Doe"):
        assert secret not in text, secret
    assert "[free text withheld]" in text


def test_a_director_may_include_free_text_an_inspector_may_not(
    treated: int, inspector: ServiceContext, pharmacist: ServiceContext, director: ServiceContext, tmp_path: Path
) -> None:
    for ctx in (inspector, pharmacist):
        with pytest.raises(PermissionDenied, match="free text"):
            reports.export(ctx, "audit", "csv", tmp_path / "no.csv", include_free_text=True)
    assert not (tmp_path / "no.csv").exists()
    done = reports.export(director, "audit", "csv", tmp_path / "audit.csv", include_free_text=True)
    text = _text_of(done.path)
    assert NOTE in text and AMENDMENT in text and NARRATIVE in text
    assert "PT-00412" not in text, "free text included, references still pseudonyms"
    with director.db.read() as session:
        last = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        assert json.loads(last.after)["free_text"] == "included" and "free text" in (last.reason or "")


def test_the_cli_refuses_free_text_to_an_inspector(
    treated: int, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "audit.csv"
    argv = ["export", "audit", "--format", "csv", "--out", str(out), "--include-free-text"]
    assert cli(argv, monkeypatch, database_url, "inspector") == 3 and not out.exists()
    assert cli(argv, monkeypatch, database_url, "director") == 0 and NOTE in _text_of(out)


@pytest.mark.qt  # the bundle holds the PDF report
def test_the_inspectors_bundle_holds_no_reference_and_no_free_text(
    treated: int, inspector: ServiceContext, tmp_path: Path
) -> None:
    done = reports.bundle(inspector, TODAY - timedelta(days=30), TODAY, tmp_path / "bundle.zip")
    texts: dict[str, str] = {}
    with zipfile.ZipFile(done.path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            if name.endswith((".csv", ".json", ".txt")):
                texts[name] = data.decode("utf-8-sig")
            elif name.endswith(".xlsx"):
                book = load_workbook(io.BytesIO(data), read_only=True)
                texts[name] = " ".join(
                    str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row
                )
            elif name.endswith(".pdf") and shutil.which("pdftotext"):
                (tmp_path / "report.pdf").write_bytes(data)
                pdf = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, check=True)
                texts[name] = pdf.stdout.decode()
    assert "audit/audit-trail.csv" in texts and "audit/audit-trail.xlsx" in texts
    assert "[free text withheld]" in texts["audit/audit-trail.csv"]
    for name, text in texts.items():
        for secret in ("PT-00412", "PT-00388", "Jane Doe"):
            assert secret not in text, (name, secret)


@pytest.mark.qt
def test_site_settings_edit_the_pattern(qtbot, admin: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from registry_app.ui.editors.site_settings import SiteSettingsDialog

    dialog = SiteSettingsDialog(admin)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.patient_ref_pattern.text() == privacy.DEFAULT_PATIENT_REF_PATTERN)
    dialog.patient_ref_pattern.setText("[A-Za-z -]+[0-9-]*")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: "accepts" in dialog.field_errors["patient_ref_pattern"].text())
    assert site_info(admin)["patient_ref_pattern"] == privacy.DEFAULT_PATIENT_REF_PATTERN
    dialog.patient_ref_pattern.setText(r"PT-\d{5}")
    with qtbot.waitSignal(dialog.saved):
        dialog.save_button.click()
    assert site_info(admin)["patient_ref_pattern"] == r"PT-\d{5}"


@pytest.mark.qt
def test_the_free_text_box_is_a_directors(qtbot, director: ServiceContext, inspector: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from registry_app.ui.pages.reports_page import ReportsPage

    shown = {}
    for ctx in (director, inspector):
        page = ReportsPage(ctx)
        qtbot.addWidget(page)
        page.show()
        shown[ctx.actor.role] = page.free_text.isVisible()  # type: ignore[union-attr]
    assert shown == {"medical_director": True, "inspector": False}


def test_dates_in_the_sample_list_are_refused_by_the_default() -> None:
    for sample in privacy.IDENTIFYING_SAMPLES:
        assert privacy.patient_ref_problem(sample, privacy.DEFAULT_PATIENT_REF_PATTERN), sample
    assert date(1980, 4, 1).isoformat() in NAME_AND_BIRTH


def _trail_text(rows: list[object]) -> str:
    return json.dumps([row if isinstance(row, dict) else row.__dict__ for row in rows], default=str)


def test_an_inspector_reads_the_audit_trail_and_lot_history_without_references_or_free_text(
    treated: int, inspector: ServiceContext, director: ServiceContext
) -> None:
    from registry_app.services.queries.audit_trail import audit_history

    raw_refs = ("PT-00412", "PT-00388")
    for text in (_trail_text(audit_history(inspector)), _trail_text(lot_detail(inspector, treated).history)):
        assert not any(ref in text for ref in raw_refs)
        assert "Jane Doe" not in text
    inspector_trail = _trail_text(audit_history(inspector))
    assert _pseudonym(inspector, "PT-00412") in inspector_trail
    assert "[free text withheld]" in inspector_trail
    # A medical director reads the trail as recorded.
    director_trail = _trail_text(audit_history(director))
    assert all(ref in director_trail for ref in raw_refs) and AMENDMENT in director_trail


def test_an_inspector_sees_the_flags_of_administrations_under_pseudonyms(
    treated: int, inspector: ServiceContext, director: ServiceContext, db: Database
) -> None:
    from registry_app.domain import Lot
    from registry_app.services.queries.flags_page import flags_page

    with db.write() as session:  # the lot expired before both administrations: USE-EXPIRED names each one
        lot = session.get(Lot, treated)
        assert lot is not None
        lot.expiry_date = TODAY - timedelta(days=10)

    def administration_names(ctx: ServiceContext) -> set[str]:
        page = flags_page(ctx, size=1000)  # the desktop's Flags page
        return {name for (kind, _id), name in page.subjects.items() if kind in {"administration", "adverse_event"}}

    shown_to_director = administration_names(director)
    assert any("PT-00412" in name for name in shown_to_director), shown_to_director
    shown_to_inspector = administration_names(inspector)
    assert shown_to_inspector and not any("PT-00" in name for name in shown_to_inspector)
    assert any(_pseudonym(inspector, "PT-00412") in name for name in shown_to_inspector)


def test_an_inspector_lists_adverse_events_under_pseudonyms_and_finds_a_patient_by_pseudonym_only(
    treated: int, inspector: ServiceContext, director: ServiceContext
) -> None:
    from registry_app.services.adverse_events import list_adverse_events

    shown = _pseudonym(inspector, "PT-00412")
    events = list_adverse_events(inspector)
    assert [(e.patient_ref, e.description) for e in events] == [(shown, None)]
    assert [e.id for e in list_adverse_events(inspector, patient_ref=shown)] == [events[0].id]
    assert list_adverse_events(inspector, patient_ref=_pseudonym(inspector, "PT-00388")) == []
    with pytest.raises(ValidationError, match="pseudonym"):
        list_adverse_events(inspector, patient_ref="PT-00412")
    as_recorded = list_adverse_events(director, patient_ref="PT-00412")
    assert [(e.patient_ref, e.description) for e in as_recorded] == [("PT-00412", NARRATIVE)]
