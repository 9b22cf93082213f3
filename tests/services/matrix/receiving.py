"""Matrix calls for receiving, lot lifecycle, products, documents and imports (issue 3)."""

from __future__ import annotations

from pathlib import Path
from tempfile import mkdtemp

from registry_app.services import imports, products
from registry_app.services.lots import documents, donor, lifecycle, receiving, results

from ...helpers import FORMAT_EXAMPLES
from . import MatrixSetup, Prepare

EXAMPLES = FORMAT_EXAMPLES
GTIN = "08801234567893"


def _product(setup: MatrixSetup) -> int:
    return products.create_product(
        setup.pharmacist,
        {
            "name": "Cordexa UC-EV 10B",
            "product_type": "exosome",
            "gtin": GTIN,
            "unit": "vial",
            "storage_form": "refrigerated",
            "manufacturer": "Northbay Biologics",
        },
    )


def _lot(setup: MatrixSetup) -> int:
    product_id = _product(setup)
    return receiving.receive_lot(setup.pharmacist, product_id, {"lot_number": "CX-1", "quantity_received": 10}).lot_id


def _lots_file(rows: str) -> Path:
    path = Path(mkdtemp()) / "lots.csv"
    path.write_text("product_name,product_type,lot_number,received_date,quantity_received,unit,sterility\n" + rows)
    return path


def _create_product(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: products.create_product(ctx, {"name": "Nucleo-PN 20", "product_type": "polynucleotide"})


def _update_product(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _product(setup)
    return lambda ctx: products.update_product(ctx, product_id, {"source": "msc_umbilical_cord"}, "label read")


def _routes(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _product(setup)
    return lambda ctx: products.set_labelled_routes(ctx, product_id, ["topical_post_microneedling"])


def _spec(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _product(setup)
    return lambda ctx: products.set_specification(ctx, product_id, {"spec_endotoxin_max": 0.25})


def _regulatory(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _product(setup)
    return lambda ctx: products.set_regulatory_status(ctx, product_id, "investigational", reference="IND 031245")


def _attach(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: documents.attach_document(
        ctx, "coa", lot_id=lot_id, content=b"%PDF-1.4 coa", file_name="coa.pdf"
    )


def _receive(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _product(setup)
    return lambda ctx: receiving.receive_lot(ctx, product_id, {"lot_number": "CX-2", "quantity_received": 5})


def _receive_scan(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    _product(setup)
    scan = f"]d201{GTIN}17270630\x1d10CX-3"
    return lambda ctx: receiving.receive_from_scan(ctx, scan, {"quantity_received": 4, "package_intact": True})


def _release(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    from registry_app.rules import RULES

    # Every critical or high code acknowledged: the matrix tests roles, not the acknowledgement (issue 20.5).
    every_code = [code for code, rule in RULES.items() if rule.severity in ("critical", "high")]
    return lambda ctx: lifecycle.release_lot(ctx, lot_id, setup.password_for(ctx), acknowledged=every_code)


def _reject(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: lifecycle.reject_lot(
        ctx, lot_id, "cold chain broken in transit", password=setup.password_for(ctx)
    )


def _destroy(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: lifecycle.destroy_lot(ctx, lot_id, "damaged", password=setup.password_for(ctx))


def _amend(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: receiving.amend_lot(ctx, lot_id, {"expiry_date": "2027-06-30"}, "expiry read from the label")


def _add_result(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: results.add_characterization_result(ctx, lot_id, "sterility", result="pass")


def _void_result(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    result_id = results.add_characterization_result(setup.pharmacist, lot_id, "endotoxin", value=0.1)
    return lambda ctx: results.void_characterization_result(ctx, result_id, "typed for the wrong lot")


def _donor(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    lot_id = _lot(setup)
    return lambda ctx: donor.record_donor_eligibility(
        ctx, lot_id, donor_use="allogeneic", reference="DE-7", reason="supplier's donor file received"
    )


def _import_lots(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    path = _lots_file("Glow Exo Booster,exosome,GX-01,2026-03-11,10,vial,pass\n")
    return lambda ctx: imports.import_lots(ctx, path)


def _import_administrations(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    imports.import_lots(setup.pharmacist, EXAMPLES / "lots-example.csv")
    return lambda ctx: imports.import_administrations(ctx, EXAMPLES / "administrations-example.csv")


CALLS: dict[str, Prepare] = {
    "products.create_product": _create_product,
    "products.update_product": _update_product,
    "products.set_labelled_routes": _routes,
    "products.set_specification": _spec,
    "products.set_regulatory_status": _regulatory,
    "documents.attach_document": _attach,
    "receiving.receive_lot": _receive,
    "receiving.receive_from_scan": _receive_scan,
    "lifecycle.release_lot": _release,
    "lifecycle.reject_lot": _reject,
    "lifecycle.destroy_lot": _destroy,
    "receiving.amend_lot": _amend,
    "results.add_characterization_result": _add_result,
    "donor.record_donor_eligibility": _donor,
    "results.void_characterization_result": _void_result,
    "imports.import_lots": _import_lots,
    "imports.import_administrations": _import_administrations,
}
