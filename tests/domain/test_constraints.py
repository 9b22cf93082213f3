"""Every table's constraints live in the database: each bad row below is refused by the database itself
(inserted with Core, bypassing all Python validation), and the matching good row is accepted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import DataError, IntegrityError

from registry_app.db import Database
from registry_app.domain import Base, User

T = Base.metadata.tables


def _base_rows(db: Database) -> dict[str, Any]:
    """One valid row in each parent table; returns their ids."""
    with db.write() as s:
        user_id = s.execute(select(User.id).limit(1)).scalar_one()
        ids: dict[str, Any] = {"user": user_id}
        ids["manufacturer"] = s.execute(
            insert(T["manufacturer"]).values(name="Northbay", name_key="northbay", created_at=datetime(2026, 1, 1))
        ).inserted_primary_key[0]
        ids["supplier"] = s.execute(
            insert(T["supplier"]).values(name="MedSource", name_key="medsource", created_at=datetime(2026, 1, 1))
        ).inserted_primary_key[0]
        ids["product"] = s.execute(
            insert(T["product"]).values(
                name="Cordexa",
                name_key="cordexa",
                product_type="exosome",
                created_at=datetime(2026, 1, 1),
            )
        ).inserted_primary_key[0]
        ids["lot"] = s.execute(
            insert(T["lot"]).values(
                product_id=ids["product"],
                lot_number="L1",
                received_date=date(2026, 1, 2),
                quantity_received=10,
                quantity_administered=0,
                quantity_destroyed=0,
                status="quarantine",
                created_at=datetime(2026, 1, 1),
            )
        ).inserted_primary_key[0]
        ids["administration"] = s.execute(
            insert(T["administration"]).values(
                lot_id=ids["lot"],
                administered_at=datetime(2026, 1, 3, 10),
                route="intradermal",
                superseded=False,
                recorded_at=datetime(2026, 1, 3),
            )
        ).inserted_primary_key[0]
        ids["signature"] = s.execute(
            insert(T["signature"]).values(
                user_id=user_id,
                signer_name="A",
                meaning="released",
                subject_type="lot",
                subject_id="1",
                content_hash="0" * 64,
                signed_at=datetime(2026, 1, 3),
            )
        ).inserted_primary_key[0]
    return ids


_FACT_COUNTS = (
    "ev_particles",
    "ev_second_quant",
    "ev_transmembrane",
    "ev_cytosolic",
    "ev_contaminant_tested",
    "ev_imaging",
    "pn_dna",
    "pn_mw",
    "has_sterility",
    "has_endotoxin",
    "has_mycoplasma",
    "sterility_fail",
    "mycoplasma_positive",
    "contaminants_detected",
)


def _good(table: str, ids: dict[str, Any]) -> dict[str, Any]:
    now = datetime(2026, 2, 1)
    rows: dict[str, dict[str, Any]] = {
        "site": {"code": "second", "name": "Second", "jurisdiction": "KR", "created_at": now},
        "manufacturer": {"name": "Petal", "name_key": "petal", "country": "FR", "created_at": now},
        "supplier": {"name": "Beauty", "name_key": "beauty", "created_at": now},
        "product": {
            "name": "Nucleo",
            "name_key": "nucleo",
            "product_type": "polynucleotide",
            "pn_species": "oncorhynchus_keta",
            "gtin": "08012345678907",
            "created_at": now,
        },
        "product_route": {"product_id": ids["product"], "route": "intradermal"},
        "product_regulatory_status": {
            "product_id": ids["product"],
            "jurisdiction": "US",
            "status": "investigational",
            "updated_at": now,
        },
        "lot": {
            "product_id": ids["product"],
            "lot_number": "L2",
            "received_date": date(2026, 1, 2),
            "quantity_received": 5,
            "quantity_administered": 0,
            "quantity_destroyed": 0,
            "status": "quarantine",
            "created_at": now,
        },
        "characterization_result": {
            "lot_id": ids["lot"],
            "parameter": "endotoxin",
            "method": "lal",
            "value": 0.1,
            "unit": "EU/mL",
            "measured_by": "manufacturer",
            "recorded_at": now,
        },
        "document": {"kind": "coa", "lot_id": ids["lot"], "reference": "COA-1", "uploaded_at": now},
        "temperature_excursion": {
            "lot_id": ids["lot"],
            "occurred_at": now,
            "reading_c": 12.0,
            "duration_minutes": 30,
            "recorded_at": now,
        },
        "administration": {
            "lot_id": ids["lot"],
            "administered_at": now,
            "route": "topical_intact",
            "quantity": 1,
            "superseded": False,
            "recorded_at": now,
        },
        "adverse_event": {
            "administration_id": ids["administration"],
            "event_type": "erythema",
            "report_status": "not_reported",
            "recorded_at": now,
        },
        "app_user": {
            "username": "someone",
            "role": "pharmacist",
            "password_hash": "x",
            "failed_attempts": 0,
            "locked": False,
            "active": True,
            "is_demo": False,
            "created_at": now,
        },
        "signature": {
            "user_id": ids["user"],
            "signer_name": "A",
            "meaning": "waived",
            "subject_type": "lot",
            "subject_id": "1",
            "content_hash": "1" * 64,
            "signed_at": now,
        },
        "waiver": {
            "code": "UNDOC-COA",
            "subject_type": "lot",
            "subject_id": ids["lot"],
            "flag_message": "m",
            "reason": "paper CoA on file",
            "signature_id": ids["signature"],
            "waived_by_id": ids["user"],
            "waived_at": now,
        },
        "setting": {"key": "some_setting", "value": "v"},
        "site_role": {"user_id": ids["user"], "site_id": None, "role": "inspector", "granted_at": now},
        "flag_record": {
            "code": "UNDOC-COA",
            "severity": "high",
            "severity_order": -3,
            "subject_type": "lot",
            "subject_id": ids["lot"],
            "lot_id": ids["lot"],
            "message": "m",
            "facts": "",
            "raised_at": now,
        },
        "lot_result_facts": {"lot_id": ids["lot"], **{column: 0 for column in _FACT_COUNTS}},
    }
    return rows[table]


# (table, change to the good row, why it must be refused)
BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("site", {"jurisdiction": "USA"}, "jurisdiction is a 2-letter code"),
    ("site", {"code": "main"}, "site code unique"),
    ("manufacturer", {"name_key": "northbay"}, "manufacturer name unique"),
    ("supplier", {"name_key": "medsource"}, "supplier name unique"),
    ("product", {"product_type": "stem_cell"}, "product type vocabulary"),
    ("product", {"source": "unicorn"}, "biological source vocabulary"),
    ("product", {"pn_species": "tuna"}, "PN species vocabulary"),
    ("product", {"presentation": "pill"}, "presentation vocabulary"),
    ("product", {"gtin": "123"}, "GTIN 8 to 14 digits"),
    ("product", {"name_key": "cordexa"}, "product name unique"),
    ("product", {"manufacturer_id": 999_999}, "manufacturer foreign key"),
    ("product", {"spec_size_min_nm": 200.0, "spec_size_max_nm": 100.0}, "specification range ordered"),
    ("product_route", {"route": "oral"}, "route vocabulary"),
    ("product_route", {"product_id": 999_999}, "product foreign key"),
    ("product_regulatory_status", {"status": "approved"}, "regulatory status vocabulary"),
    ("product_regulatory_status", {"jurisdiction": "USA"}, "jurisdiction code"),
    ("lot", {"lot_number": "L1"}, "(product, lot number) unique"),
    ("lot", {"quantity_received": 0}, "quantity received positive"),
    ("lot", {"quantity_received": -1}, "quantity received positive"),
    ("lot", {"quantity_administered": -1}, "quantity administered non-negative"),
    ("lot", {"status": "expired"}, "expired is derived, never stored"),
    ("lot", {"status": "recalled"}, "a recall has a date"),
    ("lot", {"status": "destroyed"}, "a destruction has a reason"),
    ("lot", {"product_id": 999_999}, "product foreign key"),
    ("lot", {"lot_number": ""}, "lot number present"),
    ("characterization_result", {"parameter": "colour"}, "parameter vocabulary"),
    ("characterization_result", {"method": "guess"}, "method vocabulary"),
    ("characterization_result", {"value": None}, "a value or a result"),
    ("characterization_result", {"value": -0.1}, "value non-negative"),
    (
        "characterization_result",
        {"parameter": "marker", "marker": None, "value": None, "result": "detected"},
        "a marker result names its marker",
    ),
    ("characterization_result", {"measured_by": "someone"}, "measured-by vocabulary"),
    ("characterization_result", {"lot_id": 999_999}, "lot foreign key"),
    ("document", {"lot_id": None}, "attached to a product or a lot"),
    ("document", {"reference": None}, "content or reference"),
    ("document", {"kind": "photo"}, "document kind vocabulary"),
    ("temperature_excursion", {"duration_minutes": -5}, "duration non-negative"),
    ("temperature_excursion", {"resolution": "use"}, "a resolution is dated"),
    ("administration", {"route": "oral"}, "route vocabulary"),
    ("administration", {"quantity": 0}, "quantity positive"),
    ("administration", {"volume_ml": -1}, "volume positive"),
    ("administration", {"lot_id": 999_999}, "lot foreign key"),
    ("adverse_event", {"event_type": "headache"}, "adverse event vocabulary"),
    ("adverse_event", {"report_status": "not_reportable"}, "not reportable needs a reason"),
    ("adverse_event", {"administration_id": 999_999}, "administration foreign key"),
    ("app_user", {"role": "superuser"}, "role vocabulary"),
    ("app_user", {"username": "admin"}, "user name unique"),
    ("app_user", {"failed_attempts": -1}, "failed attempts non-negative"),
    ("site_role", {"role": "superuser"}, "site role vocabulary"),
    ("site_role", {"user_id": 999_999}, "member foreign key"),
    ("site_role", {"site_id": 999_999}, "site foreign key"),
    ("site_role", {"granted_at": None}, "granted when"),
    ("signature", {"meaning": "liked"}, "signature meaning vocabulary"),
    ("signature", {"user_id": 999_999}, "user foreign key"),
    ("waiver", {"subject_type": "patient"}, "subject type vocabulary"),
    ("waiver", {"reason": ""}, "a waiver has a written reason"),
    ("waiver", {"signature_id": 999_999}, "signature foreign key"),
    ("setting", {"key": "audit_head"}, "setting key unique"),
    ("lot_result_facts", {"lot_id": 999_999}, "lot foreign key"),
    ("lot_result_facts", {"has_endotoxin": None}, "fact counts present"),
    ("flag_record", {"waiver_id": 999_999}, "waiver foreign key"),
    ("flag_record", {"message": None}, "message present"),
    ("flag_record", {"raised_at": None}, "raised when"),
]


def test_every_table_has_bad_row_cases() -> None:
    covered = {table for table, _, _ in BAD_ROWS}
    # The trail's own tables: audit_entry by the append-only tests, audit_row_hashes by tests/security (digest).
    assert covered == set(T) - {"audit_entry", "audit_row_hashes"}, "the audit tables are covered elsewhere"


@pytest.mark.parametrize(("table", "change", "why"), BAD_ROWS, ids=[f"{t}:{w}" for t, _, w in BAD_ROWS])
def test_database_refuses_bad_row(db: Database, table: str, change: dict[str, Any], why: str) -> None:
    ids = _base_rows(db)
    target: Table = T[table]
    with db.write() as session:  # the good row is accepted: the failure below is the change's doing
        nested = session.begin_nested()
        session.execute(insert(target).values(**_good(table, ids)))
        nested.rollback()
    with pytest.raises((IntegrityError, DataError)), db.write() as session:  # PostgreSQL: too long = DataError
        session.execute(insert(target).values(**{**_good(table, ids), **change}))


def test_audit_entry_refuses_update_and_delete(db: Database) -> None:
    from registry_app.domain import AuditEntry

    with pytest.raises(Exception, match="append-only"), db.write() as session:
        session.execute(AuditEntry.__table__.update().values(action="rewritten"))
    with pytest.raises(Exception, match="append-only"), db.write() as session:
        session.execute(AuditEntry.__table__.delete())
