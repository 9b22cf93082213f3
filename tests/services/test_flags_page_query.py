"""The Flags page's query over the persisted flags: pages by key add up to the whole filtered list."""

from __future__ import annotations

from datetime import date

import pytest

from registry_app.rules import Flag
from registry_app.services import ServiceContext, flags
from registry_app.services.demo import generate as demo
from registry_app.services.queries.flags_page import FlagFilters, flags_page

TODAY = date(2026, 6, 1)


def _all_pages(ctx: ServiceContext, filters: FlagFilters, size: int) -> tuple[list[Flag], int, int]:
    first = page = flags_page(ctx, filters, size=size, today=TODAY)
    found = list(page.flags)
    while page.next_key is not None:
        page = flags_page(ctx, filters, after=page.next_key, size=size, today=TODAY)
        assert len(page.flags) <= size
        found += page.flags
    return found, first.total, first.waived


@pytest.mark.parametrize(
    "filters",
    [
        FlagFilters(),
        FlagFilters(min_severity="high", include_waived=False),
        FlagFilters(codes=("UNDOC-COA",)),
        FlagFilters(subject_type="administration"),
        FlagFilters(words=("certificate",)),
        FlagFilters(words=("lot", "expired")),
    ],
)
def test_pages_by_key_add_up_to_the_filtered_list(admin: ServiceContext, filters: FlagFilters) -> None:
    demo.generate_demo(admin, lots=60, seed=7, today=TODAY)
    everything = flags.list_flags(admin, today=TODAY)
    expected = [
        f
        for f in flags.filter_flags(
            everything, min_severity=filters.min_severity, codes=filters.codes, include_waived=filters.include_waived
        )
        if (filters.subject_type is None or f.subject_type == filters.subject_type)
        and all(w in f"{f.code} {f.product_name} {f.lot_number} {f.message}".casefold() for w in filters.words)
    ]
    assert expected  # each case has flags to page through
    found, total, waived = _all_pages(admin, filters, size=7)
    assert found == expected
    assert (total, waived) == (len(expected), sum(1 for f in expected if f.waived))


def test_a_word_with_like_wildcards_matches_itself_only(admin: ServiceContext) -> None:
    demo.generate_demo(admin, lots=40, seed=3, today=TODAY)
    everything = flags.list_flags(admin, today=TODAY)
    for word in ("%", "_", "20 %"):
        holding = [f for f in everything if word in f"{f.code} {f.product_name} {f.lot_number} {f.message}".casefold()]
        assert flags_page(admin, FlagFilters(words=(word,)), today=TODAY).total == len(holding) < len(everything)
