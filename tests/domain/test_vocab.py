"""Labels the desktop shows for vocabulary values."""

from __future__ import annotations

import enum

from registry_app.domain import vocab
from registry_app.domain.vocab import LABELS, label


def _every_value() -> set[str]:
    found: set[str] = set()
    for item in vars(vocab).values():
        if isinstance(item, type) and issubclass(item, enum.StrEnum) and item is not enum.StrEnum:
            found.update(member.value for member in item)
    return found | set(vocab.METHODS)


def test_acronyms_and_species_read_as_written() -> None:
    assert [label("coa"), label("msc_adipose"), label("ml"), label("research_use_only")] == [
        "Certificate of analysis (CoA)",
        "MSC, adipose",
        "mL",
        "Research use only (RUO)",
    ]


def test_characterization_methods_read_as_laboratories_write_them() -> None:
    assert [label("lal"), label("usp71"), label("nta"), label("cryo_em")] == ["LAL", "USP <71>", "NTA", "Cryo-EM"]


def test_other_values_are_spelled_out() -> None:
    assert [label("topical_post_microneedling"), label("intradermal"), label(None)] == [
        "Topical post microneedling",
        "Intradermal",
        "",
    ]


def test_every_special_label_names_a_vocabulary_value() -> None:
    assert set(LABELS) - _every_value() == set()


def test_human_derived_sources_and_other_per_description() -> None:
    assert vocab.is_human_derived("msc_adipose", None) is True
    assert vocab.is_human_derived("plant", "human-grade rose extract is not a human source") is False
    assert vocab.is_human_derived("other", "Human dermal fibroblast conditioned medium") is True
    assert vocab.is_human_derived("other", "Bovine colostrum vesicles") is False
    assert vocab.is_human_derived("other", None) is False
    assert vocab.is_human_derived(None, "human") is None
