"""Products: details, routes, specification, regulatory status with verifier."""

from __future__ import annotations

import pytest

from registry_app.services import ConflictError, ServiceContext, ValidationError, products


def test_create_update_and_find_by_gtin(pharmacist: ServiceContext) -> None:
    product_id = products.create_product(
        pharmacist,
        {
            "name": " Nucleo-PN  20",
            "product_type": "polynucleotide",
            "gtin": "8012345678907",
            "manufacturer": "Aquagen Pharma",
            "manufacturer_country": "it",
        },
    )
    info = products.find_product_by_gtin(pharmacist, "08012345678907")
    assert info is not None and info.id == product_id and info.name == "Nucleo-PN 20"
    assert info.manufacturer == "Aquagen Pharma"
    with pytest.raises(ConflictError):
        products.create_product(pharmacist, {"name": "nucleo-pn 20", "product_type": "polynucleotide"})
    with pytest.raises(ValidationError) as error:
        products.update_product(pharmacist, product_id, {"pn_species": "tuna", "gtin": "8012345678900"}, "fix")
    assert {e.field for e in error.value.errors} == {"pn_species", "gtin"}
    products.update_product(pharmacist, product_id, {"pn_species": "oncorhynchus_keta"}, "label read")
    assert products.get_product(pharmacist, product_id).details["pn_species"] == "oncorhynchus_keta"


def test_routes_spec_and_regulatory_status(pharmacist: ServiceContext) -> None:
    product_id = products.create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    assert products.set_labelled_routes(pharmacist, product_id, ["intradermal", "topical_intact"]) == (
        "intradermal",
        "topical_intact",
    )
    with pytest.raises(ValidationError, match="not a route"):
        products.set_labelled_routes(pharmacist, product_id, ["iv"])
    with pytest.raises(ValidationError, match="below the minimum"):
        products.set_specification(pharmacist, product_id, {"spec_size_min_nm": 200, "spec_size_max_nm": 100})
    products.set_specification(pharmacist, product_id, {"spec_endotoxin_max": "0.25"})
    products.set_regulatory_status(
        pharmacist, product_id, "investigational", reference="IND 031245", verified_on="2026-03-01"
    )
    products.set_regulatory_status(pharmacist, product_id, "cosmetic", jurisdiction="eu")
    info = products.get_product(pharmacist, product_id)
    assert info.details["spec_endotoxin_max"] == 0.25
    statuses = {s["jurisdiction"]: s for s in info.regulatory}
    assert statuses["US"]["status"] == "investigational" and statuses["US"]["verified_by"] == "Lee Pharmacist"
    assert statuses["EU"]["status"] == "cosmetic"
    with pytest.raises(ValidationError, match="not a regulatory status"):
        products.set_regulatory_status(pharmacist, product_id, "approved")
