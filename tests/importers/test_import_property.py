"""Property: whatever rows a spreadsheet holds, validation never crashes; valid rows are accepted and every
malformed row is named with its row number and the column that is wrong."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_app.importers.lot_rows import validate_lots
from registry_app.importers.tabular import Table
from tests.importers.generator import LOT_HEADER, lot_rows

TODAY = date(2026, 4, 1)
VALID = list(lot_rows(400, seed=7, today=TODAY))
# Column -> malformed values a person could type there.
MALFORMED = {
    "expiry_date": ["31/12/2027", "2027-13-01", "next year"],
    "received_date": ["2030-01-01", "yesterday"],
    "quantity_received": ["-1", "0", "ten", "1,5"],
    "unit": ["box", "vials of 2"],
    "product_type": ["peptide"],
    "gtin": ["08801234567894", "12ab"],
    "package_intact": ["maybe", "2"],
    "endotoxin_eu_per_ml": ["<0.5", "-0.1"],
    "source": ["stem cells"],
    "markers_detected": ["cd9;cd999"],
    "labelled_routes": ["iv"],
    "manufacturer_country": ["Korea"],
}
junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def spreadsheet(draw: st.DrawFn) -> tuple[list[list[str]], dict[int, set[str]]]:
    """Rows (as cells in LOT_HEADER order) and, for each row number made malformed, the columns broken."""
    count = draw(st.integers(min_value=1, max_value=60))
    start = draw(st.integers(min_value=0, max_value=len(VALID) - count))
    rows, broken = [], {}
    for offset, source in enumerate(VALID[start : start + count]):
        cells = [source[c] for c in LOT_HEADER]
        if draw(st.booleans()):
            columns = draw(st.sets(st.sampled_from(sorted(MALFORMED)), min_size=1, max_size=3))
            for column in columns:
                cells[LOT_HEADER.index(column)] = draw(st.sampled_from(MALFORMED[column]))
            broken[offset + 2] = columns
        elif draw(st.integers(0, 9)) == 0:
            # free text anywhere it is allowed never rejects a row
            cells[LOT_HEADER.index("source_description")] = draw(junk).strip()
        rows.append(cells)
    return rows, broken


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spreadsheet())
def test_validation_never_crashes_and_names_every_malformed_row(
    case: tuple[list[list[str]], dict[int, set[str]]],
) -> None:
    rows, broken = case
    table = Table(list(LOT_HEADER), [(n, cells) for n, cells in enumerate(rows, start=2)])
    result = validate_lots(table, TODAY)
    named: dict[int, set[str]] = {}
    for error in result.errors:
        named.setdefault(error.row, set()).add(error.column)
        assert str(error).startswith(f"row {error.row}, column {error.column}: ")
    assert named == broken
    assert sorted(r.row for r in result.rows) == sorted(set(range(2, len(rows) + 2)) - set(broken))
