"""Recording administrations behind the guard rails, stock on hand, amendments and voids."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from registry_app.db import Database
from registry_app.domain import Administration, AuditEntry, CharacterizationResult, Lot, Signature
from registry_app.rules import evaluate_flags
from registry_app.services import (
    ConflictError,
    NotFound,
    PermissionDenied,
    ServiceContext,
    SignInFailed,
    ValidationError,
)
from registry_app.services.administrations import (
    Override,
    administration_history,
    amend_administration,
    get_administration,
    record_administration,
    void_administration,
)
from registry_app.services.errors import ConfirmationRequired, GuardRailBlocked
from registry_app.services.lots import lifecycle

from ..conftest import PASSWORDS
from ..helpers import audit_count, row_counts
from .use_data import TODAY, YESTERDAY_10AM, entry, lot_row, make_lot, make_product

OVERRIDE = Override("patient consented after the director's review of the risks", PASSWORDS["director"])


def _administration_count(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count(Administration.id))).scalar_one()


def _last_audit(db: Database) -> AuditEntry:
    with db.read() as session:
        return session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()


# ------------------------------------------------------------------------------------------ clean records


def test_a_clean_administration_is_saved_and_stock_decreases(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db), quantity=10)
    result = record_administration(
        pharmacist,
        entry(
            lot_id,
            quantity=2,
            body_areas=("neck", "face"),
            device_procedure="microneedling 1.0 mm",
            route="topical_post_microneedling",
            ind_reference="IND 031245",
            notes="first of three sessions",
        ),
    )
    assert not [f for f in result.findings if f.severity in ("critical", "high")]
    assert result.overridden is False and result.lot_quantity_on_hand == 8
    saved = get_administration(pharmacist, result.administration_id)
    assert (saved.patient_ref, saved.route, saved.body_areas, saved.quantity) == (
        "PT-00412",
        "topical_post_microneedling",
        "face;neck",
        2.0,
    )
    assert saved.administered_at == YESTERDAY_10AM and saved.is_current
    assert lot_row(db, lot_id).quantity_administered == 2
    audit = _last_audit(db)
    assert (audit.action, audit.entity_id, audit.username) == (
        "record administration",
        str(result.administration_id),
        "pharmacist",
    )
    assert json.loads(audit.before) == {} and json.loads(audit.after)["lot_quantity_administered"] == 2


def test_the_last_units_deplete_the_lot_and_a_void_returns_them(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db), quantity=2)
    result = record_administration(pharmacist, entry(lot_id, quantity=2))
    assert lot_row(db, lot_id).status == "depleted"
    void_administration(pharmacist, result.administration_id, "recorded against the wrong lot")
    lot = lot_row(db, lot_id)
    assert (lot.status, lot.quantity_administered, lot.quantity_on_hand) == ("released", 0, 2)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"patient_ref": "Jane Doe"}, "patient_ref"),
        ({"patient_ref": "janedoe"}, "patient_ref"),
        ({"route": "oral"}, "route"),
        ({"body_areas": ("face", "knee")}, "body_areas"),
        ({"contraindications": ("vertigo",)}, "contraindications"),
        ({"quantity": -1}, "quantity"),
        ({"volume_ml": 0}, "volume_ml"),
        ({"administered_at": datetime.now() + timedelta(days=1)}, "administered_at"),
        ({"administered_at": YESTERDAY_10AM - timedelta(days=60)}, "administered_at"),
        ({"lot_id": 999_999}, "lot_id"),
    ],
)
def test_wrong_input_names_the_field_and_writes_nothing(
    pharmacist: ServiceContext,
    db: Database,
    values: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    lot_id = make_lot(db, make_product(db))
    before = row_counts(db)
    with pytest.raises(ValidationError) as error:
        record_administration(pharmacist, entry(**({"lot_id": lot_id} | values)))
    assert error.value.for_field(field), error.value.errors
    assert row_counts(db) == before


def test_inspector_may_not_record(inspector: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db))
    with pytest.raises(PermissionDenied):
        record_administration(inspector, entry(lot_id))


# ----------------------------------------------------------------------------------------- critical findings


def _recalled_lot(db: Database, director: ServiceContext) -> dict:  # type: ignore[type-arg]
    from registry_app.services.recalls import recall_lot

    lot_id = make_lot(db, make_product(db))
    recall_lot(
        director, lot_id, "sterility failure at the manufacturer", PASSWORDS["director"], TODAY - timedelta(days=3)
    )
    return {"lot_id": lot_id}


def _cosmetic_injected(db: Database, director: ServiceContext) -> dict:  # type: ignore[type-arg]
    return {"lot_id": make_lot(db, make_product(db, status="cosmetic")), "route": "intradermal"}


def _research_use_only(db: Database, director: ServiceContext) -> dict:  # type: ignore[type-arg]
    return {"lot_id": make_lot(db, make_product(db, status="research_use_only"))}


def _fish_allergy_with_pn(db: Database, director: ServiceContext) -> dict:  # type: ignore[type-arg]
    product = make_product(db, "Nucleo-PN 20", product_type="polynucleotide")
    return {"lot_id": make_lot(db, product, "PN20-7781"), "contraindications": ("fish_allergy",)}


def _injected_without_authorisation(db: Database, director: ServiceContext) -> dict:  # type: ignore[type-arg]
    return {"lot_id": make_lot(db, make_product(db, status="not_authorized")), "route": "scalp_injection"}


def _sterility_failed(db: Database, director: ServiceContext) -> dict:  # type: ignore[type-arg]
    """A critical finding on the lot itself blocks too: a failed sterility test must not reach a patient."""
    lot_id = make_lot(db, make_product(db))
    with db.write() as session:
        session.add(
            CharacterizationResult(
                lot_id=lot_id, parameter="sterility", method="usp71", result="fail", measured_by="independent_lab"
            )
        )
    return {"lot_id": lot_id}


CRITICAL_CASES = {
    "OOS-STERILITY": _sterility_failed,
    "USE-RECALLED": _recalled_lot,
    "REG-COSMETIC-INJECTED": _cosmetic_injected,
    "REG-RUO-ADMINISTERED": _research_use_only,
    "CONTRA-PN-FISH-ALLERGY": _fish_allergy_with_pn,
    "REG-UNAUTHORIZED-INJECTED": _injected_without_authorisation,
}


@pytest.mark.parametrize("code", sorted(CRITICAL_CASES))
def test_a_critical_finding_blocks_and_writes_nothing(
    code: str, pharmacist: ServiceContext, director: ServiceContext, db: Database
) -> None:
    values = CRITICAL_CASES[code](db, director)
    before, audit_before = row_counts(db), audit_count(db)
    for ctx in (pharmacist, director):
        with pytest.raises(GuardRailBlocked) as blocked:
            record_administration(ctx, entry(**values), confirm=True)
        assert code in {f.code for f in blocked.value.findings if f.severity == "critical"}
        assert code in str(blocked.value) and all(f.message for f in blocked.value.findings)
    assert row_counts(db) == before and audit_count(db) == audit_before
    assert lot_row(db, values["lot_id"]).quantity_administered == 0


@pytest.mark.parametrize("code", sorted(CRITICAL_CASES))
def test_a_director_overrides_with_a_reason_and_a_signature(code: str, director: ServiceContext, db: Database) -> None:
    values = CRITICAL_CASES[code](db, director)
    result = record_administration(director, entry(**values), override=OVERRIDE)
    assert result.overridden and code in {f.code for f in result.findings}
    with db.read() as session:
        row = session.get(Administration, result.administration_id)
        assert row is not None and row.override_signature_id == result.override_signature_id
        assert row.override_reason == OVERRIDE.reason
        signature = session.get(Signature, row.override_signature_id)
        assert signature is not None
        assert (signature.meaning, signature.subject_type, signature.subject_id, signature.signer_name) == (
            "overridden",
            "administration",
            str(row.id),
            "Dana Director",
        )
    after = json.loads(_last_audit(db).after)
    assert after["signature_id"] == result.override_signature_id and after["signature_meaning"] == "overridden"
    assert code in after["overridden_codes"] and after["overridden_by"] == "director"
    assert lot_row(db, values["lot_id"]).quantity_administered == 1


def test_a_pharmacist_records_with_the_director_signing_at_the_same_desk(
    pharmacist: ServiceContext, db: Database
) -> None:
    lot_id = make_lot(db, make_product(db, status="research_use_only"))
    override = Override("trial protocol amendment 3", PASSWORDS["director"], username="director")
    result = record_administration(pharmacist, entry(lot_id), override=override)
    assert result.overridden
    audit = _last_audit(db)
    assert audit.username == "pharmacist" and json.loads(audit.after)["overridden_by"] == "director"
    with db.read() as session:
        signature = session.get(Signature, result.override_signature_id)
        assert signature is not None and signature.signer_name == "Dana Director"


def test_a_pharmacist_cannot_override(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db, status="research_use_only"))
    before = row_counts(db)
    with pytest.raises(PermissionDenied, match="medical director"):
        record_administration(pharmacist, entry(lot_id), override=Override("in a hurry", PASSWORDS["pharmacist"]))
    assert row_counts(db) == before


def test_a_wrong_director_password_saves_nothing(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db, status="research_use_only"))
    with pytest.raises(SignInFailed):
        record_administration(
            pharmacist, entry(lot_id), override=Override("reason", "not-the-password", username="director")
        )
    assert _administration_count(db) == 0
    assert _last_audit(db).action == "signature failed"  # the failed attempt itself is on record


def test_an_override_needs_a_reason(director: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db, status="research_use_only"))
    with pytest.raises(ValidationError) as error:
        record_administration(director, entry(lot_id), override=Override("  ", PASSWORDS["director"]))
    assert error.value.for_field("override_reason") and _administration_count(db) == 0


def test_an_override_without_critical_findings_signs_nothing(director: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db))
    result = record_administration(director, entry(lot_id), override=OVERRIDE)
    assert not result.overridden and result.override_signature_id is None
    with db.read() as session:
        assert session.execute(select(func.count(Signature.id))).scalar_one() == 0


# --------------------------------------------------------------------------------------------- high findings


HIGH_CASES = {
    "CONTRA-RECORDED": {"contraindications": ("pregnancy",)},
    "TRACE-INCOMPLETE": {"patient_ref": None},
    "USE-EXPIRED": {"administered_at": YESTERDAY_10AM, "_expiry": TODAY - timedelta(days=5)},
}


@pytest.mark.parametrize("code", sorted(HIGH_CASES))
def test_a_high_finding_needs_confirmation(code: str, pharmacist: ServiceContext, db: Database) -> None:
    values = dict(HIGH_CASES[code])
    lot_id = make_lot(
        db,
        make_product(db),
        expiry=values.pop("_expiry", TODAY + timedelta(days=365)),
        status=values.pop("_status", "released"),
    )
    before, audit_before = row_counts(db), audit_count(db)
    with pytest.raises(ConfirmationRequired) as required:
        record_administration(pharmacist, entry(lot_id, **values))
    assert code in {f.code for f in required.value.findings} and code in str(required.value)
    assert row_counts(db) == before and audit_count(db) == audit_before
    result = record_administration(pharmacist, entry(lot_id, **values), confirm=True)
    assert code in {f.code for f in result.findings} and not result.overridden
    assert lot_row(db, lot_id).quantity_administered == 1


@pytest.mark.parametrize("status", ["quarantine", "rejected"])
def test_a_lot_not_released_blocks_a_pharmacist_and_a_director_overrides(
    status: str, pharmacist: ServiceContext, director: ServiceContext, db: Database
) -> None:
    """Issue 20.5: confirming is not enough to give a quarantined (or rejected) lot; USE-NOT-RELEASED stays a
    high flag in the list (rules.md), but recording it needs a director's signed override."""
    lot_id = make_lot(db, make_product(db), status=status)
    before, audit_before = row_counts(db), audit_count(db)
    with pytest.raises(GuardRailBlocked) as blocked:
        record_administration(pharmacist, entry(lot_id), confirm=True)
    assert [f.code for f in blocked.value.blocking] == ["USE-NOT-RELEASED"]
    assert "USE-NOT-RELEASED" in str(blocked.value) and row_counts(db) == before
    with pytest.raises(PermissionDenied, match="medical director"):
        record_administration(pharmacist, entry(lot_id), override=Override("urgent", PASSWORDS["pharmacist"]))
    assert row_counts(db) == before and audit_count(db) == audit_before
    result = record_administration(director, entry(lot_id), override=OVERRIDE)
    assert result.overridden
    after = json.loads(_last_audit(db).after)
    assert after["overridden_codes"] == ["USE-NOT-RELEASED"] and after["overridden_by"] == "director"
    flagged = {f.code: f.severity for f in result.findings}
    assert flagged["USE-NOT-RELEASED"] == "high", "the rule's severity is unchanged"


def test_a_lot_rejected_after_release_is_blocked_again(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db))
    with db.write() as session:
        lot = session.get(Lot, lot_id)
        assert lot is not None
        lot.released_on = TODAY - timedelta(days=20)
    earlier = record_administration(pharmacist, entry(lot_id))
    assert "USE-NOT-RELEASED" not in {f.code for f in earlier.findings}
    lifecycle.reject_lot(
        pharmacist, lot_id, "the supplier withdrew the certificate of analysis", password=PASSWORDS["pharmacist"]
    )
    assert lot_row(db, lot_id).rejected_on == date.today()
    with pytest.raises(GuardRailBlocked) as blocked:
        record_administration(
            pharmacist, entry(lot_id, administered_at=datetime.now().replace(microsecond=0)), confirm=True
        )
    assert "USE-NOT-RELEASED" in {f.code for f in blocked.value.blocking}
    with db.read() as session:
        flagged = {
            f.subject_id
            for f in evaluate_flags(session, "US", TODAY, subject_type="administration")
            if f.code == "USE-NOT-RELEASED"
        }
    assert earlier.administration_id not in flagged, "used before the rejection, while it was released"


def test_an_override_also_covers_the_high_findings_shown_with_it(director: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db, status="research_use_only"))
    result = record_administration(director, entry(lot_id, contraindications=("pregnancy",)), override=OVERRIDE)
    assert {"REG-RUO-ADMINISTERED", "CONTRA-RECORDED"} <= {f.code for f in result.findings}


# ----------------------------------------------------------------------------------------------- corrections


def test_an_amendment_adds_a_version_and_keeps_the_original(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db), quantity=10)
    original = record_administration(pharmacist, entry(lot_id, quantity=1)).administration_id
    amended = amend_administration(
        pharmacist,
        original,
        {"quantity": 3, "patient_ref": "PT-00413"},
        "two more vials were used; patient reference mistyped",
    ).administration_id
    assert amended != original and lot_row(db, lot_id).quantity_administered == 3
    history = administration_history(pharmacist, amended)
    assert (
        [v.id for v in history] == [original, amended] == [v.id for v in administration_history(pharmacist, original)]
    )
    old, new = history
    assert (old.patient_ref, old.quantity, old.superseded, old.is_current) == ("PT-00412", 1.0, True, False)
    assert (new.patient_ref, new.quantity, new.amends_id, new.is_current) == ("PT-00413", 3.0, original, True)
    assert new.amendment_reason.startswith("two more vials")  # type: ignore[union-attr]
    audit = _last_audit(db)
    assert audit.action == "amend administration" and audit.reason == new.amendment_reason
    assert json.loads(audit.before)["patient_ref"] == "PT-00412"
    assert json.loads(audit.after)["patient_ref"] == "PT-00413"


def test_an_amendment_to_another_lot_moves_the_stock(pharmacist: ServiceContext, db: Database) -> None:
    product = make_product(db)
    first, second = make_lot(db, product, "A-1", quantity=5), make_lot(db, product, "A-2", quantity=5)
    original = record_administration(pharmacist, entry(first, quantity=2)).administration_id
    amend_administration(pharmacist, original, {"lot_id": second}, "scanned the wrong box")
    assert lot_row(db, first).quantity_administered == 0 and lot_row(db, second).quantity_administered == 2


def test_only_the_current_version_can_be_corrected(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db))
    original = record_administration(pharmacist, entry(lot_id)).administration_id
    amended = amend_administration(pharmacist, original, {"practitioner": "dr.ahn"}, "other doctor").administration_id
    audit_before = audit_count(db)
    with pytest.raises(ConflictError):
        amend_administration(pharmacist, original, {"practitioner": "dr.kim"}, "again")
    with pytest.raises(ConflictError):
        void_administration(pharmacist, original, "again")
    void_administration(pharmacist, amended, "patient never came")
    with pytest.raises(ConflictError):
        void_administration(pharmacist, amended, "twice")
    assert audit_count(db) == audit_before + 1
    assert lot_row(db, lot_id).quantity_administered == 0
    assert [v.is_current for v in administration_history(pharmacist, original)] == [False, False]


def test_a_correction_needs_a_reason_and_a_change(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db))
    original = record_administration(pharmacist, entry(lot_id)).administration_id
    before = row_counts(db)
    with pytest.raises(ValidationError) as error:
        amend_administration(pharmacist, original, {"quantity": 2}, " ")
    assert error.value.for_field("reason")
    with pytest.raises(ValidationError):
        amend_administration(pharmacist, original, {"practitioner": "dr.nguyen"}, "no change")
    with pytest.raises(ValidationError) as error:
        amend_administration(pharmacist, original, {"recorded_by_id": 1}, "sneaky")
    assert error.value.for_field("recorded_by_id")
    with pytest.raises(ValidationError):
        void_administration(pharmacist, original, "")
    with pytest.raises(NotFound):
        void_administration(pharmacist, 999_999, "no such row")
    assert row_counts(db) == before


def test_a_correction_is_not_blocked_but_reports_its_findings(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db, status="cosmetic"))
    original = record_administration(pharmacist, entry(lot_id)).administration_id
    result = amend_administration(pharmacist, original, {"route": "intradermal"}, "it was injected, not applied")
    assert "REG-COSMETIC-INJECTED" in {f.code for f in result.findings}
    with db.read() as session:
        lot = session.get(Lot, lot_id)
        assert lot is not None and lot.quantity_administered == 1


def test_now_is_the_sites_clock_not_the_machines(
    pharmacist: ServiceContext, admin: ServiceContext, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20.2: the desktop offers the site's "now" (Asia/Seoul, UTC+9) on a machine running in UTC; the
    service must not call it the future, and must still refuse a time truly ahead of the site's clock."""
    import time as time_module

    from registry_app.services.clock import site_clock
    from registry_app.services.sites import set_site, site_info

    monkeypatch.setenv("TZ", "UTC")
    time_module.tzset()
    try:
        set_site(admin, site_info(admin)["jurisdiction"], time_zone="Asia/Seoul")
        seoul_now = site_clock(pharmacist).now().replace(second=0, microsecond=0)
        assert seoul_now > datetime.now() + timedelta(hours=8)
        lot_id = make_lot(db, make_product(db))
        record_administration(pharmacist, entry(lot_id, administered_at=seoul_now))
        with pytest.raises(ValidationError, match="in the future"):
            record_administration(pharmacist, entry(lot_id, administered_at=seoul_now + timedelta(hours=1)))
    finally:
        monkeypatch.undo()
        time_module.tzset()
