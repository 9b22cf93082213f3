"""The lot editors (issue 19 items 2-5 and 8): the characterization grid, source and donor eligibility,
adverse events, temperature excursions, and "Fix…" from a flag. Real widgets over a real SQLite registry; each
happy path checks the record through the services and that the flag it answers closes; each refusal checks
the message beside the field, that nothing was saved and that the typing is kept."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QDate, QDateTime, QSettings, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from registry_app.db import Database
from registry_app.domain import Administration, Lot, Signature
from registry_app.rules import RULES
from registry_app.services import ServiceContext
from registry_app.services.adverse_events import get_adverse_event, list_adverse_events
from registry_app.services.flags import flags_for_subject
from registry_app.services.lots.characterization import characterization_sheet
from registry_app.services.lots.documents import list_documents
from registry_app.services.lots.excursions import list_excursions
from registry_app.services.queries.lot_record import lot_detail
from registry_app.ui.editors.adverse_event import (
    AdverseEventReportDialog,
    AdverseEventsDialog,
    RecordAdverseEventDialog,
)
from registry_app.ui.editors.characterization import CharacterizationEditor
from registry_app.ui.editors.excursion import ExcursionsDialog, RecordExcursionDialog, ResolveExcursionDialog
from registry_app.ui.editors.fix_actions import FIXES
from registry_app.ui.editors.lot_source import LotSourceEditor
from registry_app.ui.lot_record import LotRecord
from registry_app.ui.main_window import MainWindow
from registry_app.ui.pages.flags_page import FlagsPage
from tests.conftest import PASSWORDS
from tests.rules import builders

from .workflow_data import add_administration, make_lot, show_active

INVASIVE = ("intradermal",)


def _codes(ctx: ServiceContext, subject_type: str, subject_id: int) -> set[str]:
    return {f.code for f in flags_for_subject(ctx, subject_type, subject_id) if not f.waived}


def _grid(qtbot: QtBot, ctx: ServiceContext, lot_id: int) -> CharacterizationEditor:
    editor = CharacterizationEditor(ctx, lot_id)
    qtbot.addWidget(editor)
    return editor


# --- characterization -----------------------------------------------------------------------------------------


def test_grid_lists_what_the_rules_expect_and_saving_closes_the_safety_flag(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE, skip=("sterility", "endotoxin"))
    assert "UNDOC-SAFETY-TESTS" in _codes(pharmacist, "lot", lot.lot_id)
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    keys = {e.key for e in editor.entries}
    assert {("sterility", None), ("endotoxin", None), ("marker", "cd9"), ("marker", "alix")} <= keys
    assert "sterility" in editor.missing_label.text() and "endotoxin" in editor.missing_label.text()
    sterility = editor.entry("sterility")
    sterility.method.setCurrentIndex(sterility.method.findData("usp71"))
    sterility.result.setCurrentIndex(sterility.result.findData("pass"))  # type: ignore[union-attr]
    assert sterility.assessment.text().startswith("in spec")
    sterility.save.click()
    endotoxin = editor.entry("endotoxin")
    endotoxin.value.setText("0.2")  # type: ignore[union-attr]
    endotoxin.laboratory.setText("Eurofins BioPharma")
    endotoxin.tested_on.setDate(QDate(2026, 11, 2))
    assert endotoxin.assessment.text().startswith("in spec")
    qtbot.keyClick(endotoxin.value, "\r")  # type: ignore[arg-type]
    assert editor.saved == 2
    sheet = characterization_sheet(pharmacist, lot.lot_id)
    saved = {(r.parameter, r.value, r.result, r.laboratory, r.tested_on) for row in sheet.rows for r in row.current}
    assert ("sterility", None, "pass", None, None) in saved
    assert ("endotoxin", Decimal("0.2"), None, "Eurofins BioPharma", date(2026, 11, 2)) in saved
    assert "UNDOC-SAFETY-TESTS" not in _codes(pharmacist, "lot", lot.lot_id)
    assert "Every item" in editor.missing_label.text()


def test_the_assessment_follows_the_typing_against_the_specification(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE, skip=("endotoxin",), product_values={"spec_endotoxin_max": 0.25})
    endotoxin = _grid(qtbot, pharmacist, lot.lot_id).entry("endotoxin")
    endotoxin.value.setText("0.3")  # type: ignore[union-attr]
    assert endotoxin.assessment.text() == "OUT OF SPEC (≤ 0.25 EU/mL)"
    endotoxin.value.setText("0.25")  # type: ignore[union-attr]
    assert endotoxin.assessment.text() == "in spec (≤ 0.25 EU/mL)"


def test_a_refused_result_shows_beside_the_field_saves_nothing_and_keeps_the_typing(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE, skip=("endotoxin",))
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    endotoxin = editor.entry("endotoxin")
    endotoxin.value.setText("-4")  # type: ignore[union-attr]
    endotoxin.laboratory.setText("Lab A")
    endotoxin.tested_on.setDate(QDate.currentDate().addDays(3))
    endotoxin.save.click()
    assert editor.saved == 0
    assert endotoxin.value.property("invalid") is True  # type: ignore[union-attr]
    assert endotoxin.tested_on.property("invalid") is True and "future" in endotoxin.tested_on.toolTip()
    assert "value" in editor.banner.text() and editor.banner.isVisibleTo(editor)
    assert endotoxin.assessment.text() and endotoxin.assessment.property("role") == "error"
    assert endotoxin.value.text() == "-4" and endotoxin.laboratory.text() == "Lab A"  # type: ignore[union-attr]
    assert not any(r.current for r in characterization_sheet(pharmacist, lot.lot_id).rows if r.parameter == "endotoxin")


def test_void_a_result_with_a_reason(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE)
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    [sterility_id] = [
        r.id
        for row in editor.sheet.rows
        for r in row.current  # type: ignore[union-attr]
        if r.parameter == "sterility"
    ]
    dialog = editor.void_result(sterility_id)
    assert dialog is not None
    dialog.ok_button.click()  # no reason: refused, nothing voided
    assert dialog.isVisible() and dialog.reason_edit.property("invalid") is True
    assert "UNDOC-SAFETY-TESTS" not in _codes(pharmacist, "lot", lot.lot_id)
    dialog.reason_edit.setPlainText("typed for the wrong lot")
    dialog.ok_button.click()
    assert "UNDOC-SAFETY-TESTS" in _codes(pharmacist, "lot", lot.lot_id)
    assert ("sterility", None) in {e.key for e in editor.entries}  # the row is open for the right result


def test_enter_from_a_coa_attaches_the_certificate_and_links_the_results(
    qtbot: QtBot, tmp_path: Path, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE, coa_ref=None, skip=("endotoxin",))
    assert "UNDOC-COA" in _codes(pharmacist, "lot", lot.lot_id)
    certificate = tmp_path / "coa-lot.pdf"
    certificate.write_bytes(b"%PDF-1.4\n% not a real pdf\n")
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    editor.attach_certificate(certificate)
    [document] = list_documents(pharmacist, lot_id=lot.lot_id)
    assert (document.kind, document.file_name) == ("coa", "coa-lot.pdf")
    assert editor.certificate_combo.currentData() == document.id
    assert "coa-lot.pdf" in editor.certificate_name.text()
    assert "UNDOC-COA" not in _codes(pharmacist, "lot", lot.lot_id)
    endotoxin = editor.entry("endotoxin")
    endotoxin.value.setText("0.1")  # type: ignore[union-attr]
    endotoxin.save.click()
    [saved] = [
        r
        for row in characterization_sheet(pharmacist, lot.lot_id).rows
        for r in row.current
        if r.parameter == "endotoxin"
    ]
    assert saved.document_id == document.id


def test_an_inspector_sees_the_grid_but_cannot_enter_or_void(qtbot: QtBot, inspector: ServiceContext) -> None:
    lot = make_lot(inspector.db, routes=INVASIVE, skip=("endotoxin",))
    editor = _grid(qtbot, inspector, lot.lot_id)
    endotoxin = editor.entry("endotoxin")
    assert not endotoxin.save.isEnabled() and not endotoxin.value.isEnabled()  # type: ignore[union-attr]
    assert "pharmacist or medical director" in endotoxin.save.toolTip()
    assert not editor.attach_button.isEnabled()
    assert editor.void_buttons and not any(b.isEnabled() for b in editor.void_buttons.values())
    assert editor.void_result(next(iter(editor.void_buttons))) is None


# --- source and donor eligibility -----------------------------------------------------------------------------


def _source(qtbot: QtBot, ctx: ServiceContext, lot_id: int) -> LotSourceEditor:
    editor = LotSourceEditor(ctx, lot_id)
    qtbot.addWidget(editor)
    return editor


def test_donor_reference_saved_with_a_reason_closes_undoc_donor(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_umbilical_cord"}, donor_eligibility_ref=None)
    editor = _source(qtbot, pharmacist, lot.lot_id)
    assert "UNDOC-DONOR" in editor.status.text()
    assert editor.source_labels["human_derived"].text() == "yes"
    editor.reference.setText("DE-UC-2291")
    editor.reason.setText("supplier sent the donor file")
    editor.save_button.click()
    assert editor.changed == {"donor_eligibility_ref": "DE-UC-2291"}
    assert lot_detail(pharmacist, lot.lot_id).fields["donor_eligibility_ref"] == "DE-UC-2291"
    assert "UNDOC-DONOR" not in _codes(pharmacist, "lot", lot.lot_id)
    assert "No donor-eligibility finding" in editor.status.text()


def test_donor_record_attached_as_a_document_closes_undoc_donor(
    qtbot: QtBot, tmp_path: Path, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    record = tmp_path / "donor-eligibility.pdf"
    record.write_bytes(b"%PDF-1.4 donor\n")
    editor = _source(qtbot, pharmacist, lot.lot_id)
    editor.attach(record)
    assert [d.kind for d in list_documents(pharmacist, lot_id=lot.lot_id)] == ["donor_eligibility"]
    assert editor.documents.count() == 1
    assert "UNDOC-DONOR" not in _codes(pharmacist, "lot", lot.lot_id)


def test_donor_change_without_a_reason_is_refused_beside_the_field(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    editor = _source(qtbot, pharmacist, lot.lot_id)
    editor.donor_use.setCurrentIndex(editor.donor_use.findData("autologous"))
    editor.reference.setText("DE-9")
    editor.save_button.click()
    assert editor.reason.property("invalid") is True and "reason" in editor.banner.text()
    assert editor.reference.text() == "DE-9" and editor.donor_use.currentData() == "autologous"
    detail = lot_detail(pharmacist, lot.lot_id)
    assert detail.fields["donor_eligibility_ref"] is None and detail.source["donor_use"] is None
    editor.reason.setText("autologous preparation")
    editor.save_button.click()
    assert lot_detail(pharmacist, lot.lot_id).source["donor_use"] == "autologous"
    assert "UNDOC-DONOR" not in _codes(pharmacist, "lot", lot.lot_id)


def test_an_inspector_cannot_change_donor_eligibility(qtbot: QtBot, inspector: ServiceContext) -> None:
    lot = make_lot(inspector.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    editor = _source(qtbot, inspector, lot.lot_id)
    assert not editor.save_button.isEnabled() and not editor.reference.isEnabled()
    assert not editor.attach_button.isEnabled()
    assert "record donor eligibility" in editor.save_button.toolTip()


# --- adverse events -------------------------------------------------------------------------------------------


def _old_unreported_event(db: Database, lot_id: int) -> int:
    """An event recorded long ago and still not reported: AE-UNREPORTED."""
    administration_id = add_administration(db, lot_id)
    with db.write() as session:
        administration = session.get(Administration, administration_id)
        return builders.adverse_event(session, administration).id


def test_record_an_adverse_event_from_the_lot(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    administration_id = add_administration(pharmacist.db, lot.lot_id, patient_ref="PT-4411")
    events = AdverseEventsDialog(pharmacist, lot.lot_id)
    qtbot.addWidget(events)
    assert events.administrations.rowCount() == 1
    dialog = events.record_for_selected()
    assert dialog is not None
    dialog.event_type.setCurrentIndex(dialog.event_type.findData("delayed_nodule_granuloma"))
    dialog.severity.setCurrentIndex(dialog.severity.findData("moderate"))
    dialog.notes.setPlainText("Nodule at the injection site, 2 weeks after")
    dialog.save_button.click()
    [event] = list_adverse_events(pharmacist, administration_id=administration_id)
    assert dialog.event_id == event.id
    assert (event.event_type, event.severity, event.report_status) == (
        "delayed_nodule_granuloma",
        "moderate",
        "not_reported",
    )
    assert events.events_table.rowCount() == 1 and events.events_table.item(0, 1).text() == "PT-4411"


def test_an_adverse_event_without_its_kind_is_refused_beside_the_field(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db)
    administration_id = add_administration(pharmacist.db, lot.lot_id)
    dialog = RecordAdverseEventDialog(pharmacist, administration_id)
    qtbot.addWidget(dialog)
    dialog.notes.setPlainText("Redness for two days")
    dialog.save_button.click()
    assert dialog.event_id is None and dialog.event_type.property("invalid") is True
    assert "event_type" in dialog.banner.text()
    assert dialog.notes.toPlainText() == "Redness for two days"
    assert list_adverse_events(pharmacist, administration_id=administration_id) == []


def test_reporting_an_event_closes_ae_unreported(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    event_id = _old_unreported_event(pharmacist.db, lot.lot_id)
    assert "AE-UNREPORTED" in _codes(pharmacist, "adverse_event", event_id)
    dialog = AdverseEventReportDialog(pharmacist, event_id)
    qtbot.addWidget(dialog)
    assert "AE-UNREPORTED" in dialog.finding.text()
    dialog.status.setCurrentIndex(dialog.status.findData("reported_regulator"))
    dialog.reference.setText("MW-5099812")
    dialog.save_button.click()
    assert dialog.saved
    event = get_adverse_event(pharmacist, event_id)
    assert (event.report_status, event.report_reference) == ("reported_regulator", "MW-5099812")
    assert event.reported_on is not None
    assert "AE-UNREPORTED" not in _codes(pharmacist, "adverse_event", event_id)


def test_not_reportable_needs_its_reason(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    event_id = _old_unreported_event(pharmacist.db, lot.lot_id)
    dialog = AdverseEventReportDialog(pharmacist, event_id)
    qtbot.addWidget(dialog)
    dialog.status.setCurrentIndex(dialog.status.findData("not_reportable"))
    dialog.save_button.click()
    assert not dialog.saved and dialog.reason.property("invalid") is True
    assert get_adverse_event(pharmacist, event_id).report_status == "not_reported"
    assert "AE-UNREPORTED" in _codes(pharmacist, "adverse_event", event_id)


def test_an_inspector_may_read_adverse_events_but_not_record_or_report(qtbot: QtBot, inspector: ServiceContext) -> None:
    lot = make_lot(inspector.db)
    event_id = _old_unreported_event(inspector.db, lot.lot_id)
    events = AdverseEventsDialog(inspector, lot.lot_id)
    qtbot.addWidget(events)
    assert events.events_table.rowCount() == 1
    assert not events.record_button.isEnabled() and not events.report_button.isEnabled()
    assert "inspector" in events.report_button.toolTip()
    assert events.record_for_selected() is None and events.report_selected() is None
    report = AdverseEventReportDialog(inspector, event_id)
    qtbot.addWidget(report)
    assert not report.save_button.isEnabled() and not report.status.isEnabled()


# --- temperature excursions -----------------------------------------------------------------------------------


def test_record_an_excursion_from_a_logger_span(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"storage_form": "refrigerated"})
    excursions = ExcursionsDialog(pharmacist, lot.lot_id)
    qtbot.addWidget(excursions)
    dialog = excursions.record()
    assert dialog is not None
    start = datetime.now().replace(second=0, microsecond=0) - timedelta(hours=5)
    dialog.started.setDateTime(QDateTime(start))
    dialog.ended.setDateTime(QDateTime(start + timedelta(minutes=150)))
    dialog.lowest.setValue(3.0)
    dialog.highest.setValue(13.5)
    dialog.notes.setPlainText("door left open")
    dialog.save_button.click()
    [excursion] = list_excursions(pharmacist, lot.lot_id)
    assert dialog.excursion_id == excursion.id
    assert (excursion.occurred_at, excursion.reading_c, excursion.duration_minutes) == (start, 13.5, 150)
    assert (excursion.notes, excursion.min_c, excursion.max_c) == ("door left open", 3.0, 13.5)
    assert excursion.ended_at == start + timedelta(minutes=150)
    assert "USE-TEMPERATURE" in _codes(pharmacist, "lot", lot.lot_id)
    assert excursions.table.rowCount() == 1
    assert excursions.table.item(0, ExcursionsDialog.DISPOSITION).text() == "OPEN"


def test_an_excursion_that_ends_before_it_begins_is_refused(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    dialog = RecordExcursionDialog(pharmacist, lot.lot_id)
    qtbot.addWidget(dialog)
    start = datetime.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    dialog.started.setDateTime(QDateTime(start))
    dialog.ended.setDateTime(QDateTime(start - timedelta(minutes=30)))
    dialog.highest.setValue(12.0)
    dialog.save_button.click()
    assert dialog.excursion_id is None and dialog.ended.property("invalid") is True
    assert "ended_at" in dialog.banner.text() and dialog.highest.value() == 12.0
    assert list_excursions(pharmacist, lot.lot_id) == []


def _open_excursion(db: Database, lot_id: int) -> None:
    with db.write() as session:
        lot = session.get(Lot, lot_id)
        builders.excursion(session, lot)


def test_resolving_an_excursion_is_signed_and_closes_use_temperature(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    _open_excursion(pharmacist.db, lot.lot_id)
    assert "USE-TEMPERATURE" in _codes(pharmacist, "lot", lot.lot_id)
    excursions = ExcursionsDialog(pharmacist, lot.lot_id)
    qtbot.addWidget(excursions)
    dialog = excursions.resolve_selected()
    assert dialog is not None
    dialog.disposition.setCurrentIndex(dialog.disposition.findData("use"))
    dialog.signature.reason_edit.setPlainText("Within the manufacturer's stability data (24 h at 25 °C)")
    dialog.signature.password_edit.setText("wrong password")
    dialog.sign_button.click()
    assert dialog.signature_id is None and dialog.signature.password() == ""  # refused, password cleared
    assert list_excursions(pharmacist, lot.lot_id)[0].is_open
    assert "stability" in dialog.signature.reason()  # the justification typed is kept
    dialog.signature.password_edit.setText(PASSWORDS["pharmacist"])
    dialog.sign_button.click()
    assert dialog.signature_id is not None
    [excursion] = list_excursions(pharmacist, lot.lot_id)
    assert excursion.resolution == "use" and "stability" in (excursion.resolution_note or "")
    with pharmacist.db.read() as session:
        signature = session.get(Signature, dialog.signature_id)
        assert signature is not None and signature.meaning == "approved"
    assert "USE-TEMPERATURE" not in _codes(pharmacist, "lot", lot.lot_id)
    assert excursions.table.item(0, ExcursionsDialog.DISPOSITION).text() == "Use"
    assert not excursions.resolve_button.isEnabled()


def test_use_without_a_justification_is_refused_beside_the_field(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    _open_excursion(pharmacist.db, lot.lot_id)
    [excursion] = list_excursions(pharmacist, lot.lot_id)
    dialog = ResolveExcursionDialog(pharmacist, excursion)
    qtbot.addWidget(dialog)
    dialog.disposition.setCurrentIndex(dialog.disposition.findData("use"))
    dialog.signature.password_edit.setText(PASSWORDS["pharmacist"])
    dialog.sign_button.click()
    assert dialog.signature_id is None and dialog.signature.reason_edit.property("invalid") is True
    assert list_excursions(pharmacist, lot.lot_id)[0].is_open


def test_an_inspector_cannot_record_or_resolve_excursions(qtbot: QtBot, inspector: ServiceContext) -> None:
    lot = make_lot(inspector.db)
    _open_excursion(inspector.db, lot.lot_id)
    excursions = ExcursionsDialog(inspector, lot.lot_id)
    qtbot.addWidget(excursions)
    assert excursions.table.rowCount() == 1
    assert not excursions.record_button.isEnabled() and not excursions.resolve_button.isEnabled()
    assert "resolve temperature excursions" in excursions.resolve_button.toolTip()
    assert excursions.record() is None and excursions.resolve_selected() is None


# --- "Fix…" from a flag ---------------------------------------------------------------------------------------


def _flags_page(qtbot: QtBot, ctx: ServiceContext) -> FlagsPage:
    page = FlagsPage(ctx)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: not page.loading, timeout=20000)
    return page


def _select_flag(page: FlagsPage, code: str, subject_id: int | None = None) -> None:
    row = next(
        i
        for i, f in enumerate(page.model.rows)
        if f.code == code and (subject_id is None or f.subject_id == subject_id)
    )
    page.table.selectRow(row)


def test_the_fix_table_covers_every_lot_finding_and_names_real_codes() -> None:
    assert set(FIXES) <= set(RULES)
    lot_codes = {code for code, rule in RULES.items() if rule.subject_type == "lot" and not rule.is_alert}
    assert lot_codes <= set(FIXES), sorted(lot_codes - set(FIXES))
    assert {"AE-UNREPORTED", "UNDOC-REGULATORY", "UNDOC-MANUFACTURER", "UNDOC-SOURCE"} <= set(FIXES)


def test_fix_opens_the_editor_for_each_kind_of_flag(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    safety = make_lot(pharmacist.db, routes=INVASIVE, skip=("sterility",))
    donor = make_lot(pharmacist.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    coa = make_lot(pharmacist.db, coa_ref=None)
    warm = make_lot(pharmacist.db)
    _open_excursion(pharmacist.db, warm.lot_id)
    event_id = _old_unreported_event(pharmacist.db, warm.lot_id)
    page = _flags_page(qtbot, pharmacist)
    expected = {
        ("UNDOC-SAFETY-TESTS", safety.lot_id): CharacterizationEditor,
        ("UNDOC-DONOR", donor.lot_id): LotSourceEditor,
        ("UNDOC-COA", coa.lot_id): CharacterizationEditor,
        ("USE-TEMPERATURE", warm.lot_id): ExcursionsDialog,
        ("AE-UNREPORTED", event_id): AdverseEventReportDialog,
    }
    for (code, subject_id), kind in expected.items():
        _select_flag(page, code, subject_id)
        assert page.fix_button.isEnabled(), code
        opened = page.fix_selected()
        assert isinstance(opened, kind) and opened.isVisible(), code
        target = opened.lot_id if hasattr(opened, "lot_id") else opened.adverse_event_id
        assert target == subject_id, code
        opened.close()
    _select_flag(page, "UNDOC-COA", coa.lot_id)
    grid = page.fix_selected()
    assert grid.splitter.sizes()[1] > 0, "the certificate pane is open, ready to attach the CoA"


def test_fixing_through_the_editor_clears_the_flag_from_the_page(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, product_values={"source": "msc_adipose"}, donor_eligibility_ref=None)
    page = _flags_page(qtbot, pharmacist)
    _select_flag(page, "UNDOC-DONOR", lot.lot_id)
    editor = page.fix_selected()
    editor.reference.setText("DE-77")
    editor.reason.setText("donor file from the supplier")
    editor.save_button.click()
    editor.close()  # closing the editor evaluates the flags again
    qtbot.waitUntil(lambda: not page.loading, timeout=20000)
    assert not any(f.code == "UNDOC-DONOR" and f.subject_id == lot.lot_id for f in page.model.rows)


def test_fix_is_disabled_with_the_reason_for_an_inspector_or_an_uncovered_code(
    qtbot: QtBot, inspector: ServiceContext, pharmacist: ServiceContext
) -> None:
    lot = make_lot(inspector.db, coa_ref=None)
    add_administration(inspector.db, lot.lot_id, screening_done=False)  # CONTRA-SCREENING-MISSING: no editor
    page = _flags_page(qtbot, inspector)
    _select_flag(page, "UNDOC-COA")
    assert not page.fix_button.isEnabled() and "inspector" in page.fix_button.toolTip()
    assert page.fix_selected() is None
    page = _flags_page(qtbot, pharmacist)
    _select_flag(page, "CONTRA-SCREENING-MISSING")
    assert not page.fix_button.isEnabled() and "No editor" in page.fix_button.toolTip()
    _select_flag(page, "UNDOC-COA")
    assert page.fix_button.isEnabled() and "certificate" in page.fix_button.toolTip()


def test_undoc_regulatory_fix_opens_the_status_for_the_site_and_closes_the_flag(
    qtbot: QtBot, tmp_path: Path, pharmacist: ServiceContext
) -> None:
    from registry_app.services.flags import flags_for_subject
    from registry_app.services.sites import site_info
    from registry_app.ui.editors.regulatory_editor import RegulatoryStatusDialog

    lot = make_lot(pharmacist.db, status=None)
    window = MainWindow(pharmacist, QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    flags = window.show_page("Flags")
    assert isinstance(flags, FlagsPage)
    qtbot.waitUntil(lambda: not flags.loading, timeout=20000)
    _select_flag(flags, "UNDOC-REGULATORY", lot.product_id)
    flags.fix_selected()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, RegulatoryStatusDialog) and w.isVisible())
    qtbot.addWidget(dialog)
    assert dialog.jurisdiction.text() == site_info(pharmacist)["jurisdiction"]
    dialog.status.setCurrentIndex(dialog.status.findData("cosmetic"))
    dialog.reference.setText("MoCRA-123")
    with qtbot.waitSignal(dialog.saved):
        dialog.save_button.click()
    codes = {f.code for f in flags_for_subject(pharmacist, "product", lot.product_id)}
    assert "UNDOC-REGULATORY" not in codes


def test_fix_from_the_lot_record(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, expiry_date=None, routes=INVASIVE, skip=("endotoxin",))
    record = LotRecord(pharmacist, lot.lot_id)
    qtbot.addWidget(record)
    codes = [f["code"] for f in record.detail.flags]  # type: ignore[union-attr]
    record.tabs.setCurrentIndex(1)
    assert record.fix_flag(codes.index("UNDOC-EXPIRY")) is record and record.tabs.currentIndex() == 0
    grid = record.fix_flag(codes.index("UNDOC-SAFETY-TESTS"))
    assert isinstance(grid, CharacterizationEditor)
    grid.entry("endotoxin").value.setText("0.05")  # type: ignore[union-attr]
    grid.entry("endotoxin").save.click()
    grid.close()  # the record reloads: the finding is gone from its flag list
    assert "UNDOC-SAFETY-TESTS" not in [f["code"] for f in record.detail.flags]  # type: ignore[union-attr]


def test_the_lot_menu_opens_the_editors_on_the_lot_on_screen(
    qtbot: QtBot, tmp_path: Path, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db)
    add_administration(pharmacist.db, lot.lot_id)
    window = MainWindow(pharmacist, QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.install_workflows()
    window.open_lot(lot.lot_id)
    actions = {a.objectName(): a for a in window.lot_actions.actions()}
    for name, kind in (
        ("Characterization results", CharacterizationEditor),
        ("Source and donor eligibility", LotSourceEditor),
        ("Temperature excursions", ExcursionsDialog),
        ("Adverse events", AdverseEventsDialog),
    ):
        actions[f"workflow:{name}"].trigger()
        assert isinstance(window.workflow_dialog, kind) and window.workflow_dialog.lot_id == lot.lot_id, name
        window.workflow_dialog.close()
    administrations = window.show_page("Administrations")
    [record_event] = [a for a in administrations.table.actions() if a.objectName() == "recordAdverseEventFromList"]
    administrations.table.setCurrentIndex(administrations.proxy.index(0, 0))
    record_event.trigger()
    assert isinstance(administrations.adverse_event_dialog, RecordAdverseEventDialog)


def test_ctrl_return_saves_the_row_being_typed_in(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE, skip=("sterility",))
    editor = show_active(qtbot, CharacterizationEditor(pharmacist, lot.lot_id))
    sterility = editor.entry("sterility")
    sterility.result.setCurrentIndex(sterility.result.findData("fail"))  # type: ignore[union-attr]
    assert sterility.assessment.text().startswith("OUT OF SPEC")
    sterility.result.setFocus()  # type: ignore[union-attr]
    qtbot.keyClick(sterility.result, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # type: ignore[arg-type]
    assert editor.saved == 1
    assert {"OOS-STERILITY"} <= _codes(pharmacist, "lot", lot.lot_id)


def test_saving_one_row_keeps_what_is_typed_in_the_others(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, routes=INVASIVE, skip=("sterility", "endotoxin"))
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    editor.entry("endotoxin").value.setText("0.4")  # type: ignore[union-attr]
    editor.entry("endotoxin").laboratory.setText("Lab B")
    sterility = editor.entry("sterility")
    sterility.result.setCurrentIndex(sterility.result.findData("pass"))  # type: ignore[union-attr]
    sterility.save.click()
    assert editor.saved == 1 and ("sterility", None) not in {e.key for e in editor.entries}
    endotoxin = editor.entry("endotoxin")  # a new row widget after the reload, with the typing restored
    assert endotoxin.value.text() == "0.4" and endotoxin.laboratory.text() == "Lab B"  # type: ignore[union-attr]
    assert endotoxin.assessment.text().startswith("in spec")


def test_ctrl_z_walks_back_the_adverse_event_form(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db)
    dialog = show_active(qtbot, RecordAdverseEventDialog(pharmacist, add_administration(pharmacist.db, lot.lot_id)))
    dialog.event_type.setCurrentIndex(dialog.event_type.findData("swelling"))
    dialog.notes.setFocus()
    qtbot.keyClicks(dialog.notes, "lip")
    qtbot.keyClick(dialog.notes, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.notes.toPlainText() == ""
    qtbot.keyClick(dialog.notes, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.event_type.currentData() is None


def test_an_unreported_adverse_event_shows_on_the_lot_record_and_fix_opens_its_report(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db)
    event_id = _old_unreported_event(pharmacist.db, lot.lot_id)
    record = LotRecord(pharmacist, lot.lot_id)
    qtbot.addWidget(record)
    codes = [f["code"] for f in record.detail.flags]  # type: ignore[union-attr]
    assert "AE-UNREPORTED" in codes
    report = record.fix_flag(codes.index("AE-UNREPORTED"))
    assert isinstance(report, AdverseEventReportDialog) and report.adverse_event_id == event_id
    report.status.setCurrentIndex(report.status.findData("reported_manufacturer"))
    report.reference.setText("CX-COMPLAINT-88")
    report.save_button.click()
    assert "AE-UNREPORTED" not in [f["code"] for f in record.detail.flags]  # type: ignore[union-attr]


def test_waive_beside_fix_on_the_lot_record_is_a_directors_signed_waiver(
    qtbot: QtBot, director: ServiceContext, pharmacist: ServiceContext
) -> None:
    lot = make_lot(director.db, coa_ref=None)
    watcher = LotRecord(pharmacist, lot.lot_id)
    qtbot.addWidget(watcher)
    assert not watcher.waive_button.isEnabled() and "medical director" in watcher.waive_button.toolTip()
    record = LotRecord(director, lot.lot_id)
    qtbot.addWidget(record)
    row = [f["code"] for f in record.detail.flags].index("UNDOC-COA")  # type: ignore[union-attr]
    record.flags_table.selectRow(row)
    assert record.waive_button.isEnabled() and record.fix_button.isEnabled()
    dialog = record.waive_flag(row)
    dialog.signature.reason_edit.setPlainText("CoA on paper in the QA binder")
    dialog.signature.password_edit.setText(PASSWORDS["director"])
    dialog.waive_button.click()
    assert dialog.waiver_id is not None
    assert next(f for f in record.detail.flags if f["code"] == "UNDOC-COA")["waived"]  # type: ignore[union-attr]


def test_a_certificate_number_without_a_file_closes_undoc_coa(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    lot = make_lot(pharmacist.db, coa_ref=None)
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    editor.reference_button.click()  # nothing typed: refused beside the field, nothing saved
    assert editor.reference_edit.property("invalid") is True and list_documents(pharmacist, lot_id=lot.lot_id) == []
    editor.reference_edit.setText("COA-EXO-2291")
    editor.reference_button.click()
    [document] = list_documents(pharmacist, lot_id=lot.lot_id)
    assert (document.kind, document.reference, document.file_name) == ("coa", "COA-EXO-2291", None)
    assert "UNDOC-COA" not in _codes(pharmacist, "lot", lot.lot_id)
    assert "Reference COA-EXO-2291" in editor.certificate_name.text() and not editor.open_button.isEnabled()


def test_a_pdf_certificate_is_previewed_beside_the_grid(
    qtbot: QtBot, tmp_path: Path, pharmacist: ServiceContext
) -> None:
    from PySide6.QtGui import QPainter, QPdfWriter

    path = tmp_path / "coa.pdf"
    writer = QPdfWriter(str(path))
    painter = QPainter(writer)
    painter.drawText(100, 100, "CERTIFICATE OF ANALYSIS")
    painter.end()
    lot = make_lot(pharmacist.db)
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    editor.attach_certificate(path)
    if editor.pdf_view is None:  # a build without QtPdf: the file name and Open instead
        assert editor.certificate_name.text() == "coa.pdf" and editor.open_button.isEnabled()
        return
    assert editor.preview.currentWidget() is editor.pdf_view and editor.pdf_document.pageCount() == 1


def test_the_grid_reads_and_saves_off_the_gui_thread(
    qtbot: QtBot, pharmacist: ServiceContext, threaded_ops: object
) -> None:
    """On the real threaded runner: the sheet arrives later, a save disables its button until it is done."""
    lot = make_lot(pharmacist.db, routes=INVASIVE, skip=("endotoxin",))
    editor = _grid(qtbot, pharmacist, lot.lot_id)
    qtbot.waitUntil(lambda: bool(editor.entries), timeout=10000)
    endotoxin = editor.entry("endotoxin")
    endotoxin.value.setText("0.1")  # type: ignore[union-attr]
    endotoxin.save.click()
    qtbot.waitUntil(
        lambda: editor.saved == 1 and ("endotoxin", None) not in {e.key for e in editor.entries}, timeout=10000
    )
    assert "UNDOC-SAFETY-TESTS" not in _codes(pharmacist, "lot", lot.lot_id)
