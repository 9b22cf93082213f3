"""The characterization sheet: what the rules expect of a lot, the results per item, the spec reading."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry_app.db import Database
from registry_app.services import ServiceContext, ValidationError
from registry_app.services.lots.characterization import Specification, assess, characterization_sheet
from registry_app.services.lots.results import add_characterization_result

from ..rules import builders


def _lot(
    db: Database, product_type: str = "exosome", routes: tuple[str, ...] = ("intradermal",), **lot_values: object
) -> int:
    with db.write() as session:
        return builders.lot(session, builders.product(session, product_type, routes=routes), **lot_values).id


def test_an_exosome_lot_lists_the_misev_items_and_the_safety_tests(pharmacist: ServiceContext) -> None:
    lot_id = _lot(pharmacist.db, skip=("imaging", "mycoplasma"))
    sheet = characterization_sheet(pharmacist, lot_id)
    items = {row.item for row in sheet.rows}
    assert {
        "ev_particles",
        "ev_second_quant",
        "ev_transmembrane",
        "ev_cytosolic",
        "ev_contaminant_tested",
        "ev_imaging",
        "has_sterility",
        "has_endotoxin",
        "has_mycoplasma",
    } <= items
    assert all(row.required for row in sheet.rows if row.item.startswith(("ev_", "has_")))
    assert sheet.missing == ["single-vesicle imaging (TEM, cryo-EM or AFM)", "mycoplasma"]
    cd63 = next(row for row in sheet.rows if (row.parameter, row.marker) == ("marker", "cd63"))
    assert [r.result for r in cd63.current] == ["detected"] and cd63.results == ("detected", "not_detected")
    size = next(row for row in sheet.rows if row.parameter == "size_mode")
    assert size.item == "" and size.current[0].in_spec is True


def test_a_topical_polynucleotide_lot_needs_the_pn_items_only(pharmacist: ServiceContext) -> None:
    lot_id = _lot(pharmacist.db, "polynucleotide", routes=("topical_intact",), skip=("molecular_weight",))
    sheet = characterization_sheet(pharmacist, lot_id)
    assert {row.parameter for row in sheet.rows if row.required} == {"dna_concentration", "molecular_weight"}
    # The rule asks mycoplasma of exosome lots only: a PN lot's mycoplasma result is listed as another result.
    assert "has_mycoplasma" not in {row.item for row in sheet.rows}
    assert next(row for row in sheet.rows if row.parameter == "mycoplasma").item_title == "other result"
    assert sheet.missing == ["molecular weight"]


def test_assess_reads_a_value_against_the_product_specification() -> None:
    spec = Specification("exosome", endotoxin_max=0.25, size_low=40, size_high=120, labelled_particles_per_ml=1e10)
    assert assess(spec, "endotoxin", value=0.3) == ("≤ 0.25 EU/mL", False)
    assert assess(spec, "endotoxin") == ("≤ 0.25 EU/mL", None)
    assert assess(spec, "size_mode", value=120.0)[1] is True and assess(spec, "size_mode", value=120.1)[1] is False
    assert assess(spec, "particle_concentration", value=8.1e9)[1] is True
    assert assess(spec, "particle_concentration", value=7.9e9)[1] is False
    assert assess(spec, "marker", marker="calnexin", result="detected")[1] is False
    assert assess(spec, "marker", marker="cd63", result="detected") == ("", None)
    assert assess(spec, "sterility", result="fail") == ("pass", False)


def test_a_result_keeps_its_laboratory_and_test_date(pharmacist: ServiceContext) -> None:
    lot_id = _lot(pharmacist.db, skip=("endotoxin",))
    add_characterization_result(
        pharmacist, lot_id, "endotoxin", value="0.1", method="lal", laboratory=" Eurofins ", tested_on=date(2026, 10, 1)
    )
    [endotoxin] = next(r for r in characterization_sheet(pharmacist, lot_id).rows if r.parameter == "endotoxin").current
    assert (endotoxin.laboratory, endotoxin.tested_on) == ("Eurofins", date(2026, 10, 1))
    with pytest.raises(ValidationError) as caught:
        add_characterization_result(
            pharmacist, lot_id, "endotoxin", value="0.1", tested_on=date.today() + timedelta(days=1)
        )
    assert caught.value.for_field("tested_on")
