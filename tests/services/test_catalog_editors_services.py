"""The services behind the desktop catalogue editors (issue 19 items 1 and 7): the product editor's
one-transaction save, manufacturers and suppliers, and the site's time zone."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from registry_app.domain import AuditEntry
from registry_app.services import ConflictError, PermissionDenied, ServiceContext, ValidationError, parties, products
from registry_app.services.sites import set_site, site_info

from ..helpers import row_counts


def _last_entry(ctx: ServiceContext) -> AuditEntry:
    with ctx.db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        session.expunge(entry)
        return entry


def test_save_product_creates_and_amends_in_one_entry(pharmacist: ServiceContext) -> None:
    product_id = products.save_product(
        pharmacist,
        None,
        {
            "name": "Cordexa UC-EV",
            "product_type": "exosome",
            "gtin": "8801234567893",
            "manufacturer": "Northbay Biologics",
            "source": "msc_umbilical_cord",
        },
        ["intradermal", "topical_intact"],
        {"spec_endotoxin_max": "0.25", "spec_size_max_nm": 200},
    )
    info = products.get_product(pharmacist, product_id)
    assert info.gtin == "08801234567893" and info.manufacturer == "Northbay Biologics"
    assert info.labelled_routes == ("intradermal", "topical_intact")
    assert info.details["spec_endotoxin_max"] == 0.25 and info.details["spec_size_max_nm"] == 200
    assert _last_entry(pharmacist).action == "create product"

    with pytest.raises(ValidationError, match="reason"):
        products.save_product(pharmacist, product_id, {"name": "Cordexa UC-EV 10B"}, [], {}, reason=" ")
    products.save_product(
        pharmacist, product_id, {"name": "Cordexa UC-EV 10B", "gtin": ""}, ["intradermal"], {}, reason="label reprinted"
    )
    info = products.get_product(pharmacist, product_id)
    assert info.name == "Cordexa UC-EV 10B" and info.gtin is None and info.labelled_routes == ("intradermal",)
    entry = _last_entry(pharmacist)
    assert entry.action == "update product" and entry.reason == "label reprinted"
    assert json.loads(entry.after)["labelled_routes"] == ["intradermal"]


def test_save_product_refuses_everything_when_one_field_is_wrong(pharmacist: ServiceContext) -> None:
    before = row_counts(pharmacist.db)
    with pytest.raises(ValidationError) as error:
        products.save_product(
            pharmacist,
            None,
            {"name": "", "product_type": "exosome", "gtin": "8801234567890"},
            ["iv"],
            {"spec_size_min_nm": 300, "spec_size_max_nm": 100},
        )
    assert {e.field for e in error.value.errors} == {"name", "gtin", "labelled_routes", "spec_size_max_nm"}
    assert row_counts(pharmacist.db) == before


def test_save_product_role_and_duplicate(pharmacist: ServiceContext, inspector: ServiceContext) -> None:
    products.save_product(pharmacist, None, {"name": "Nucleo PN", "product_type": "polynucleotide"}, [], {})
    with pytest.raises(ConflictError):
        products.save_product(pharmacist, None, {"name": "nucleo  pn", "product_type": "polynucleotide"}, [], {})
    with pytest.raises(PermissionDenied):
        products.save_product(inspector, None, {"name": "Other", "product_type": "exosome"}, [], {})


def test_manufacturers_and_suppliers(director: ServiceContext, inspector: ServiceContext) -> None:
    maker = parties.create_manufacturer(director, "  Northbay   Biologics ", "kr")
    assert parties.get_party(director, "manufacturer", maker).country == "KR"
    with pytest.raises(ValidationError) as error:
        parties.create_manufacturer(director, "Other", "XX")
    assert error.value.for_field("country")
    with pytest.raises(ValidationError, match="exists already"):
        parties.create_manufacturer(director, "northbay biologics")
    with pytest.raises(ValidationError, match="reason"):
        parties.update_manufacturer(director, maker, "Northbay Bio", "KR", "")
    parties.update_manufacturer(director, maker, "Northbay Bio", "US", "moved")
    assert [(p.name, p.country) for p in parties.list_manufacturers(inspector)] == [("Northbay Bio", "US")]
    supplier = parties.create_supplier(director, "Seoul Med Supply")
    parties.update_supplier(director, supplier, "Seoul Medical Supply", "typo")
    assert [p.name for p in parties.list_suppliers(inspector)] == ["Seoul Medical Supply"]
    with pytest.raises(ValidationError, match="required"):
        parties.create_supplier(director, "  ")
    with pytest.raises(PermissionDenied):
        parties.create_supplier(inspector, "Anyone")


def test_site_time_zone(admin: ServiceContext) -> None:
    info = set_site(admin, "KR", "Gangnam clinic", "Asia/Seoul")
    assert info["time_zone"] == "Asia/Seoul" and site_info(admin)["time_zone"] == "Asia/Seoul"
    before = row_counts(admin.db)
    with pytest.raises(ValidationError) as error:
        set_site(admin, "ZZ", "", "Asia/Gangnam")
    assert {e.field for e in error.value.errors} == {"jurisdiction", "name", "time_zone"}
    assert row_counts(admin.db) == before and site_info(admin)["time_zone"] == "Asia/Seoul"
    set_site(admin, "US", None, "America/New_York")
    entry = _last_entry(admin)
    assert json.loads(entry.before)["time_zone"] == "Asia/Seoul"
    assert json.loads(entry.after)["time_zone"] == "America/New_York"


def test_regulatory_status_with_an_evidence_file_is_one_transaction(
    pharmacist: ServiceContext, tmp_path: object
) -> None:
    from pathlib import Path

    from registry_app.services.lots.documents import list_documents

    certificate = Path(str(tmp_path)) / "mfds-certificate.pdf"
    certificate.write_bytes(b"%PDF-1.4 certificate")
    product_id = products.create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    before = row_counts(pharmacist.db)
    with pytest.raises(ValidationError) as error:
        products.set_regulatory_status(pharmacist, product_id, "approved", jurisdiction="KR", evidence_path=certificate)
    assert error.value.for_field("status")
    assert row_counts(pharmacist.db) == before, "a refused status stores no evidence document"
    with pytest.raises(ValidationError) as error:
        products.set_regulatory_status(pharmacist, product_id, "cosmetic", evidence_path=certificate.with_name("x"))
    assert error.value.for_field("evidence")
    products.set_regulatory_status(
        pharmacist, product_id, "cosmetic", jurisdiction="KR", reference="MFDS-1", evidence_path=certificate
    )
    (document,) = list_documents(pharmacist, product_id=product_id)
    assert document.kind == "regulatory_certificate" and document.file_name == "mfds-certificate.pdf"
    (status,) = products.get_product(pharmacist, product_id).regulatory
    assert status["evidence_document_id"] == document.id and status["reference"] == "MFDS-1"
