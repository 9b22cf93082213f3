"""Which documentation items the lot rules expect of a lot, as rows a person can fill in.

The lot rules read each item as a fact of lot_result_facts (EV_ITEMS, PN_ITEMS, SAFETY_ITEMS in lot_rules);
this module says, for each fact, which result rows (parameter, marker) satisfy it, so that an editor can list
exactly what UNDOC-EV-CHARACTERIZATION, UNDOC-PN-CHARACTERIZATION and UNDOC-SAFETY-TESTS ask for, and whether
the lot has it, without a copy of any rule. The parameter sets mirror domain/result_facts.py's summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.vocab import CONTAMINANT_MARKERS, CYTOSOLIC_MARKERS, TRANSMEMBRANE_MARKERS
from .lot_rules import EV_ITEMS, PN_ITEMS, SAFETY_ITEMS

Slot = tuple[str, str | None]  # (parameter, marker or None)


@dataclass(frozen=True)
class ExpectedItem:
    """One item of the rulebook: `fact` is its lot_result_facts column, `code` the flag that asks for it."""

    fact: str
    title: str
    code: str
    slots: tuple[Slot, ...]
    required: bool  # False: shown for completeness (e.g. safety tests of a topical-only product)


def _markers(markers: tuple[str, ...]) -> tuple[Slot, ...]:
    return tuple(("marker", m) for m in markers)


_SLOTS: dict[str, tuple[Slot, ...]] = {
    "ev_particles": (("particle_concentration", None),),
    "ev_second_quant": (("protein_concentration", None), ("lipid_concentration", None)),
    "ev_transmembrane": _markers(TRANSMEMBRANE_MARKERS),
    "ev_cytosolic": _markers(CYTOSOLIC_MARKERS),
    "ev_contaminant_tested": _markers(CONTAMINANT_MARKERS),
    "ev_imaging": (("imaging", None),),
    "pn_dna": (("dna_concentration", None),),
    "pn_mw": (("molecular_weight", None),),
    "has_sterility": (("sterility", None),),
    "has_endotoxin": (("endotoxin", None),),
    "has_mycoplasma": (("mycoplasma", None),),
}
# Measured against the product's specification (OOS-SIZE) though no UNDOC rule asks for it.
SPECIFICATION_SLOTS: dict[str, tuple[Slot, ...]] = {"exosome": (("size_mode", None),)}


def expected_items(product_type: str, invasive: bool) -> list[ExpectedItem]:
    """The items the lot rules expect of a lot of this product type, in the order the rules list them.
    `invasive`: the product is labelled for an injection or device-assisted route (UNDOC-SAFETY-TESTS)."""
    items: list[ExpectedItem] = []
    if product_type == "exosome":
        items += [ExpectedItem(k, t, "UNDOC-EV-CHARACTERIZATION", _SLOTS[k], True) for k, t in EV_ITEMS.items()]
    elif product_type == "polynucleotide":
        items += [ExpectedItem(k, t, "UNDOC-PN-CHARACTERIZATION", _SLOTS[k], True) for k, t in PN_ITEMS.items()]
    for key, title in SAFETY_ITEMS.items():
        if key == "has_mycoplasma" and product_type != "exosome":
            continue  # the rule asks mycoplasma of exosome lots only
        items.append(ExpectedItem(key, title, "UNDOC-SAFETY-TESTS", _SLOTS[key], invasive))
    return items
