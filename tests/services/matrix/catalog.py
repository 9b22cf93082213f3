"""Matrix calls for the desktop catalogue editors: the product editor's one-transaction save, manufacturers
and suppliers (issue 19 item 1)."""

from __future__ import annotations

from registry_app.services import parties, products

from . import MatrixSetup, Prepare


def _save_new_product(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: products.save_product(
        ctx,
        None,
        {"name": "Rejuvia PN 2%", "product_type": "polynucleotide", "pn_species": "oncorhynchus_keta"},
        ["intradermal"],
        {"spec_endotoxin_max": 0.5},
    )


def _create_manufacturer(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: parties.create_manufacturer(ctx, "Northbay Biologics", "KR")


def _update_manufacturer(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    manufacturer_id = parties.create_manufacturer(setup.pharmacist, "Northbay Biologics", None)
    return lambda ctx: parties.update_manufacturer(
        ctx, manufacturer_id, "Northbay Biologics Co.", "KR", "full name from the label"
    )


def _create_supplier(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: parties.create_supplier(ctx, "Seoul Medical Supply")


def _update_supplier(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    supplier_id = parties.create_supplier(setup.pharmacist, "Seoul Med Supply")
    return lambda ctx: parties.update_supplier(ctx, supplier_id, "Seoul Medical Supply", "typo")


CALLS: dict[str, Prepare] = {
    "products.save_product": _save_new_product,
    "parties.create_manufacturer": _create_manufacturer,
    "parties.update_manufacturer": _update_manufacturer,
    "parties.create_supplier": _create_supplier,
    "parties.update_supplier": _update_supplier,
}
