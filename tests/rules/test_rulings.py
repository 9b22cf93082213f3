"""The rulings of rules.md ("Rulings" 1-7): each case the tables left open, with the near miss beside it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.domain.vocab import is_human_derived
from registry_app.rules import evaluate_flags
from registry_app.rules.score import lot_scores

from . import builders as b


def _codes(session: Session, subject_type: str, subject_id: int) -> set[str]:
    flags = evaluate_flags(session, "US", b.TODAY, subject_type=subject_type, subject_ids=[subject_id])
    return {f.code for f in flags}


def _lot_codes(session: Session, product_values: dict[str, Any], **lot_values: Any) -> set[str]:
    lot = b.lot(session, b.product(session, **product_values), **lot_values)
    return _codes(session, "lot", lot.id)


def _admin_codes(session: Session, product_values: dict[str, Any], **admin_values: Any) -> set[str]:
    lot = b.lot(session, b.product(session, **product_values))
    return _codes(session, "administration", b.administration(session, lot, **admin_values).id)


# Ruling 1 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "flagged"), [(None, True), ("dls", True), ("nta", False), ("trps", False), ("nano_flow", False)]
)
def test_particle_concentration_counts_only_with_a_single_particle_method(
    db: Database, method: str | None, flagged: bool
) -> None:
    with db.write() as session:
        lot = b.lot(session, b.product(session), skip=("particle_concentration",))
        b.result(session, lot, "particle_concentration", value=1.0e10, method=method)
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="lot", subject_ids=[lot.id])
    misev = [f for f in flags if f.code == "UNDOC-EV-CHARACTERIZATION"]
    assert bool(misev) is flagged
    if flagged:
        assert "particle concentration by a single-particle method" in misev[0].message


# Ruling 3 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("description", "flagged"), [(None, True), ("", True), ("   ", True), ("Saccharomyces (yeast) vesicles", False)]
)
def test_source_other_needs_a_description(db: Database, description: str | None, flagged: bool) -> None:
    with db.write() as session:
        product = b.product(session, source="other", source_description=description)
        assert ("UNDOC-SOURCE" in _codes(session, "product", product.id)) is flagged


# Ruling 4 -------------------------------------------------------------------------------------------------
HUMAN_DESCRIPTIONS = [
    ("Human dermal fibroblast conditioned medium", True),
    ("conditioned medium of HUMAN keratinocytes", True),
    ("human and non-human cell lines", True),
    ("Non-human primate MSC", False),
    ("non-human cell line", False),
    ("nonhuman mammalian cells", False),
    ("Non human cells", False),
    ("not human: bovine colostrum", False),
    ("Bovine colostrum vesicles", False),
]


@pytest.mark.parametrize(("description", "human"), HUMAN_DESCRIPTIONS)
def test_human_derived_means_human_not_negated(db: Database, description: str, human: bool) -> None:
    assert is_human_derived("other", description) is human
    with db.write() as session:
        found = _lot_codes(session, {"source": "other", "source_description": description}, donor_eligibility_ref=None)
        eu = b.product(session, source="other", source_description=description, jurisdiction="EU")
        eu_flags = evaluate_flags(session, "EU", b.TODAY, subject_type="product", subject_ids=[eu.id])
    assert ("UNDOC-DONOR" in found) is human
    assert ("REG-HUMAN-COSMETIC-EU" in {f.code for f in eu_flags}) is human


def test_unknown_source_is_undocumented_not_a_missing_donor_record(db: Database) -> None:
    with db.write() as session:
        product = b.product(session, source="unknown", source_description="human, probably")
        lot = b.lot(session, product, donor_eligibility_ref=None)
        assert "UNDOC-SOURCE" in _codes(session, "product", product.id)
        assert "UNDOC-DONOR" not in _codes(session, "lot", lot.id)
    assert is_human_derived("unknown", "human") is False


# Ruling 5 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["topical_intact", "topical_post_microneedling", "intradermal"])
def test_investigational_needs_the_ind_reference_by_any_route(db: Database, route: str) -> None:
    product = {"status": "investigational", "reference": "IND 1", "routes": (route,)}
    with db.write() as session:
        without = _admin_codes(session, product, route=route)
        blank = _admin_codes(session, product, route=route, ind_reference="  ")
        with_ref = _admin_codes(session, product, route=route, ind_reference="IND 1")
    assert "REG-UNAUTHORIZED-INJECTED" in without and "REG-UNAUTHORIZED-INJECTED" in blank
    assert "REG-UNAUTHORIZED-INJECTED" not in with_ref


def test_other_statuses_still_only_forbid_injection(db: Database) -> None:
    with db.write() as session:
        topical = _admin_codes(session, {"status": "not_authorized", "reference": None}, route="topical_intact")
    assert "REG-UNAUTHORIZED-INJECTED" not in topical


# Ruling 6 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("product_type", "recorded", "codes"),
    [
        ("polynucleotide", "fish_allergy", {"CONTRA-PN-FISH-ALLERGY"}),
        ("polynucleotide", "fish_allergy;fish_allergy", {"CONTRA-PN-FISH-ALLERGY"}),
        ("polynucleotide", "pregnancy", {"CONTRA-RECORDED"}),
        ("polynucleotide", "fish_allergy;under_18", {"CONTRA-PN-FISH-ALLERGY", "CONTRA-RECORDED"}),
        ("exosome", "fish_allergy", {"CONTRA-RECORDED"}),
        ("exosome", "breastfeeding;pregnancy", {"CONTRA-RECORDED"}),
        ("exosome", None, set()),
    ],
)
def test_contra_recorded_counts_all_but_a_fish_allergy_with_pn(
    db: Database, product_type: str, recorded: str | None, codes: set[str]
) -> None:
    with db.write() as session:
        found = _admin_codes(session, {"product_type": product_type}, contraindications=recorded)
    assert {code for code in found if code.startswith("CONTRA-")} == codes


# Ruling 7 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("donor_use", "flagged"), [("autologous", False), ("allogeneic", True), (None, True)])
def test_autologous_lots_need_no_donor_eligibility(db: Database, donor_use: str | None, flagged: bool) -> None:
    with db.write() as session:
        product = b.product(session, source="msc_adipose", donor_use=donor_use)
        lot = b.lot(session, product, donor_eligibility_ref=None)
        assert ("UNDOC-DONOR" in _codes(session, "lot", lot.id)) is flagged
        score = lot_scores(session, "US", [lot.id])[lot.id]
    # Donor eligibility is not an item that applies to an autologous lot: its score stays complete.
    assert (score < 100) is flagged
