"""The lot import format (shared/formats/lot-import.md): each row validated into plain dicts for the product,
the lot and its characterization results, or a RowError per malformed cell.

Pure Python and database-free: the service matches names to records, checks duplicates against the registry
and writes. Per-column parsers are resolved once per file, and empty cells are skipped before any call, so
validation stays a small multiple of reading the CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..domain.base import name_key
from ..domain.vocab import (
    MARKERS,
    BiologicalSource,
    DonorUse,
    IsolationMethod,
    LotStatus,
    MeasuredBy,
    PnSpecies,
    Presentation,
    ProductType,
    RegulatoryStatus,
    Route,
    StorageForm,
    Unit,
)
from . import cells as c
from .tabular import RowError, Table, check_header

# Statuses an import may set. `recalled` needs a recall date and `destroyed` a reason, which the format has
# no column for: those are recorded afterwards with the recall and destroy actions.
IMPORTABLE_STATUSES = (LotStatus.QUARANTINE, LotStatus.RELEASED, LotStatus.DEPLETED, LotStatus.REJECTED)
_status_vocab = c.vocabulary(IMPORTABLE_STATUSES, "lot status an import can set")


def _parse_status(text: str) -> str:
    lowered = text.casefold()
    if lowered in {LotStatus.RECALLED, LotStatus.DESTROYED}:
        raise c.CellError(
            f"{text!r} cannot be imported: import the lot as released (or depleted) and record the "
            f"{'recall' if lowered == LotStatus.RECALLED else 'destruction'} with its date and reason afterwards"
        )
    if lowered == "expired":
        raise c.CellError("'expired' is worked out from expiry_date: give the status the lot had (e.g. released)")
    return _status_vocab(text)


# Spreadsheets name the unit of stock by the package ("prefilled_syringe", "vials"): each such synonym names
# exactly one unit, so it is read as that unit rather than rejected.
UNIT_SYNONYMS = {
    "vials": "vial",
    "lyophilized_vial": "vial",
    "frozen_vial": "vial",
    "solution_vial": "vial",
    "syringes": "syringe",
    "prefilled_syringe": "syringe",
    "prefilled_syringes": "syringe",
    "ampoules": "ampoule",
    "ampule": "ampoule",
    "ampules": "ampoule",
    "topical_ampoule": "ampoule",
    "kits": "kit",
    "millilitre": "ml",
    "milliliter": "ml",
}
_unit_vocab = c.vocabulary(Unit, "unit")


def _parse_unit(text: str) -> str:
    return _unit_vocab(UNIT_SYNONYMS.get(text.casefold().replace(" ", "_"), text))


QC_METHOD = c.vocabulary(("nta", "trps", "nano_flow"), "particle counting method")
SIZE_METHOD = c.vocabulary(("nta", "trps", "nano_flow", "dls"), "sizing method")

# column -> (parser, required)
LOT_COLUMNS: dict[str, tuple[Callable[[str], Any], bool]] = {
    "product_name": (c.text(200), True),
    "product_type": (c.vocabulary(ProductType, "product type"), True),
    "manufacturer": (c.text(200), False),
    "manufacturer_country": (c.parse_country, False),
    "supplier": (c.text(200), False),
    "gtin": (c.parse_gtin, False),
    "lot_number": (c.text(80), True),
    "expiry_date": (c.parse_date, False),
    "manufacture_date": (c.parse_date, False),
    "received_date": (c.parse_date, True),
    "received_by": (c.text(200), False),
    "quantity_received": (c.parse_positive, True),
    "status": (_parse_status, False),
    "unit": (_parse_unit, True),
    "presentation": (c.vocabulary(Presentation, "presentation"), False),
    "storage_form": (c.vocabulary(StorageForm, "storage form"), False),
    "receipt_temperature_c": (c.parse_number, False),
    "package_intact": (c.parse_yes_no, False),
    "source": (c.vocabulary(BiologicalSource, "biological source"), False),
    "source_description": (c.text(2000), False),
    "donor_use": (c.vocabulary(DonorUse, "donor use"), False),
    "donor_eligibility_ref": (c.text(200), False),
    "pn_species": (c.vocabulary(PnSpecies, "source species"), False),
    "isolation_method": (c.vocabulary(IsolationMethod, "isolation method"), False),
    "labelled_routes": (c.vocabulary_list(Route, "route"), False),
    "regulatory_jurisdiction": (c.parse_jurisdiction, False),
    "regulatory_status": (c.vocabulary(RegulatoryStatus, "regulatory status"), False),
    "regulatory_reference": (c.text(200), False),
    "coa_ref": (c.text(200), False),
    "labelled_particles_per_ml": (c.parse_positive, False),
    "particle_concentration_per_ml": (c.parse_non_negative, False),
    "particle_method": (QC_METHOD, False),
    "size_mode_nm": (c.parse_non_negative, False),
    "size_method": (SIZE_METHOD, False),
    "protein_ug_per_ml": (c.parse_non_negative, False),
    "markers_detected": (c.vocabulary_list(MARKERS, "marker"), False),
    "markers_not_detected": (c.vocabulary_list(MARKERS, "marker"), False),
    "imaging_method": (c.vocabulary(("tem", "cryo_em", "afm"), "imaging method"), False),
    "sterility": (c.vocabulary(("pass", "fail"), "sterility result"), False),
    "endotoxin_eu_per_ml": (c.parse_non_negative, False),
    "mycoplasma": (c.vocabulary(("negative", "positive"), "mycoplasma result"), False),
    "dna_mg_per_ml": (c.parse_non_negative, False),
    "molecular_weight_kda": (c.parse_non_negative, False),
    "result_source": (c.vocabulary(MeasuredBy, "result source"), False),
}
REQUIRED_LOT_COLUMNS = tuple(name for name, (_, required) in LOT_COLUMNS.items() if required)

PRODUCT_FIELDS = (
    "product_type",
    "gtin",
    "presentation",
    "storage_form",
    "unit",
    "source",
    "source_description",
    "donor_use",
    "isolation_method",
    "pn_species",
)
LOT_FIELDS = (
    "lot_number",
    "expiry_date",
    "manufacture_date",
    "received_date",
    "received_by",
    "quantity_received",
    "status",
    "receipt_temperature_c",
    "package_intact",
    "donor_eligibility_ref",
    "coa_ref",
    "labelled_particles_per_ml",
)
# column -> (parameter, unit, method column)
NUMERIC_RESULTS: dict[str, tuple[str, str, str | None]] = {
    "particle_concentration_per_ml": ("particle_concentration", "particles/mL", "particle_method"),
    "size_mode_nm": ("size_mode", "nm", "size_method"),
    "protein_ug_per_ml": ("protein_concentration", "µg/mL", None),
    "endotoxin_eu_per_ml": ("endotoxin", "EU/mL", None),
    "dna_mg_per_ml": ("dna_concentration", "mg/mL", None),
    "molecular_weight_kda": ("molecular_weight", "kDa", None),
}
QUALITATIVE_RESULTS: dict[str, str] = {"sterility": "sterility", "mycoplasma": "mycoplasma"}


@dataclass
class LotImportRow:
    """One valid row: `values` holds the parsed non-empty cells by column name."""

    row: int
    values: dict[str, Any]
    product_key: str = ""

    def __post_init__(self) -> None:
        if not self.product_key:
            self.product_key = name_key(self.values["product_name"])

    @property
    def lot_number(self) -> str:
        return str(self.values["lot_number"])

    def product_fields(self) -> dict[str, Any]:
        values = self.values
        return {k: values[k] for k in PRODUCT_FIELDS if k in values}

    def lot_fields(self) -> dict[str, Any]:
        values = self.values
        return {k: values[k] for k in LOT_FIELDS if k in values}

    def results(self) -> list[dict[str, Any]]:
        """The row's characterization results as characterization_result rows (without lot_id)."""
        values = self.values
        measured_by = values.get("result_source")
        source_ref = values.get("coa_ref")
        found: list[dict[str, Any]] = []

        def add(
            parameter: str,
            value: float | None = None,
            unit: str | None = None,
            result: str | None = None,
            method: str | None = None,
            marker: str | None = None,
        ) -> None:
            found.append(
                {
                    "parameter": parameter,
                    "method": method,
                    "marker": marker,
                    "value": value,
                    "unit": unit,
                    "result": result,
                    "measured_by": measured_by,
                    "source_ref": source_ref,
                }
            )

        for column, (parameter, unit, method_column) in NUMERIC_RESULTS.items():
            if column in values:
                add(
                    parameter,
                    value=values[column],
                    unit=unit,
                    method=values.get(method_column) if method_column else None,
                )
        for marker in values.get("markers_detected", ()):
            add("marker", result="detected", marker=marker)
        for marker in values.get("markers_not_detected", ()):
            add("marker", result="not_detected", marker=marker)
        if "imaging_method" in values:
            add("imaging", result="performed", method=values["imaging_method"])
        for column, parameter in QUALITATIVE_RESULTS.items():
            if column in values:
                add(parameter, result=values[column])
        return found


@dataclass
class ValidatedLots:
    """The file's valid rows, held column by column: `columns[name][i]` is the parsed cell of the i-th valid
    row (None where the cell is empty), `numbers[i]` its spreadsheet row and `product_keys[i]` the product it
    names. A 100,000-row file is checked and written a column at a time, with no per-row dicts; `rows` gives
    the same rows as LotImportRow objects for the paths that work a row at a time (--update, tests)."""

    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0
    numbers: list[int] = field(default_factory=list)
    product_keys: list[str] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.numbers)

    def row_at(self, position: int) -> LotImportRow:
        values = {name: column[position] for name, column in self.columns.items() if column[position] is not None}
        return LotImportRow(self.numbers[position], values, self.product_keys[position])

    @property
    def rows(self) -> list[LotImportRow]:
        return [self.row_at(position) for position in range(len(self.numbers))]

    def column(self, name: str) -> list[Any]:
        """A column of the format, all None when the file does not have it."""
        found = self.columns.get(name)
        return found if found is not None else [None] * len(self.numbers)


Progress = Callable[[int, int], bool | None]


class _ParsedCells(dict[str, Any]):
    """Cell text -> parsed value, filled on first sight of each text: mapping a column through it parses each
    distinct text once (spreadsheet columns repeat a few values over thousands of rows) in a single pass at
    C speed. Empty and malformed cells map to None; `bad` holds the message of each malformed text."""

    def __init__(self, parse: Callable[[str], Any]) -> None:
        super().__init__({"": None})
        self.parse = parse
        self.bad: dict[str, str] = {}

    def __missing__(self, text: str) -> Any:
        try:
            value = self[text] = self.parse(text)
        except c.CellError as error:
            self.bad[text] = str(error)
            value = self[text] = None
        return value


_NONE_FOR_EMPTY: dict[str, None] = {"": None}  # get(text, text): None for "", any other text as it is


def _parse_column(cells: tuple[str, ...], parse: Callable[[str], Any]) -> tuple[list[Any], dict[str, str]]:
    """Parse a column: the values (None for empty and malformed cells) and the error message of each
    malformed text."""
    if not any(cells):
        return [None] * len(cells), {}
    if isinstance(parse, c.TextParser) and max(map(len, cells)) <= parse.limit:
        # Free text, all of it short enough: kept as typed, empty cells None (mapped at C speed).
        return list(map(_NONE_FOR_EMPTY.get, cells, cells)), {}
    parsed = _ParsedCells(parse)
    return list(map(parsed.__getitem__, cells)), parsed.bad


def validate_lots(
    table: Table,
    today: date,
    update: bool = False,
    progress: Progress | None = None,
    progress_total: int | None = None,
    progress_every: int = 2000,
) -> ValidatedLots:
    """Validate every row; rows with any malformed cell are left out and each problem is listed (in row order,
    a row's problems in the order of its cells).

    Validation goes column by column; after a column, `progress(done, total)` is called with the rows-worth
    of work done so far, whenever that has passed another multiple of `progress_every` (so a small file
    reports nothing until it is written, as a row-by-row check would). If it returns False, validation stops
    and the result is marked by `total_rows == -1` (the caller treats that as cancelled).
    """
    out = ValidatedLots(total_rows=len(table.rows))
    out.errors.extend(check_header(table.columns, LOT_COLUMNS, REQUIRED_LOT_COLUMNS))
    if out.errors:
        return out
    columns = table.columns
    width = len(columns)
    numbers = [number for number, _ in table.rows]
    grid = [cells for _, cells in table.rows]
    total = progress_total or len(grid)
    # (row position, error): appended phase by phase and column by column, then sorted by row only (stable),
    # which lists each row's problems in the order the row-by-row check named them.
    found: list[tuple[int, RowError]] = []
    if set(map(len, grid)) - {width}:  # some row is short or long: the rare case, row by row
        for position, cells in enumerate(grid):
            if len(cells) > width and any(cells[width:]):
                found.append(
                    (
                        position,
                        RowError(numbers[position], "", f"has {len(cells)} cells but the header names {width} columns"),
                    )
                )
        grid = [cells[:width] if len(cells) >= width else cells + [""] * (width - len(cells)) for cells in grid]
    raw: list[tuple[str, ...]] = list(zip(*grid, strict=True)) if grid else [() for _ in columns]
    parsed: dict[str, list[Any]] = {}
    reported = 0  # progress is reported as the rows-worth of work done passes each multiple of progress_every
    for index, name in enumerate(columns):
        values, bad = _parse_column(raw[index], LOT_COLUMNS[name][0])
        if bad:
            found.extend(
                (position, RowError(numbers[position], name, bad[text]))
                for position, text in enumerate(raw[index])
                if text in bad
            )
        parsed[name] = values
        done = total * (index + 1) // (width + 1)
        if progress is not None and done // progress_every > reported // progress_every:
            reported = done
            if progress(done, total) is False:
                out.total_rows = -1
                return out
    for name in REQUIRED_LOT_COLUMNS:
        column_cells = raw[columns.index(name)]
        if "" in column_cells:
            found.extend(
                (position, RowError(numbers[position], name, "is required but the cell is empty"))
                for position, text in enumerate(column_cells)
                if not text
            )
    future = {d for d in set(parsed["received_date"]) if d is not None and d > today}
    if future:
        found.extend(
            (position, RowError(numbers[position], "received_date", f"{d.isoformat()} is in the future"))
            for position, d in enumerate(parsed["received_date"])
            if d in future
        )
    if "markers_detected" in parsed and "markers_not_detected" in parsed:
        pairs = list(zip(parsed["markers_detected"], parsed["markers_not_detected"], strict=True))
        # The few distinct pairs first: only when one lists a marker twice are the rows visited.
        if not any(detected and absent and not set(detected).isdisjoint(absent) for detected, absent in set(pairs)):
            pairs = []
        for position, (detected, absent) in enumerate(pairs):
            both = set(detected) & set(absent) if detected and absent else None
            if both:
                found.append(
                    (
                        position,
                        RowError(
                            numbers[position],
                            "markers_not_detected",
                            f"{', '.join(sorted(both))} also listed in markers_detected",
                        ),
                    )
                )
    references = parsed.get("regulatory_reference")
    if references is not None and any(references):
        # A reference is kept with the status it documents: without one it would be dropped unseen.
        given = raw[columns.index("regulatory_status")] if "regulatory_status" in parsed else ("",) * len(references)
        found.extend(
            (
                position,
                RowError(
                    numbers[position],
                    "regulatory_status",
                    f"is empty, but "
                    f"regulatory_reference gives {reference}: give the status it documents, "
                    "or leave the reference out",
                ),
            )
            for position, (reference, status) in enumerate(zip(references, given, strict=True))
            if reference is not None and not status
        )
    rejected = {position for position, _ in found}
    found.sort(key=lambda item: item[0])
    errors = out.errors
    errors.extend(error for _, error in found)

    # Checks across rows, in file order: a product keeps one type, a lot appears once (unless --update). When
    # every row is valid and the sets say there is no conflict, which is the usual case, no row is visited.
    names = parsed["product_name"]
    keys_of: dict[str | None, str] = {name: name_key(name) for name in set(names) if name is not None}
    keys_of[None] = ""  # an empty product name: the row is already rejected
    keys = list(map(keys_of.__getitem__, names))
    types = parsed["product_type"]
    lot_numbers = parsed["lot_number"]
    if (
        not rejected
        and len(set(zip(keys, types, strict=True))) == len(set(keys))
        and (update or len(set(zip(keys, lot_numbers, strict=True))) == len(keys))
    ):
        out.numbers, out.columns, out.product_keys = numbers, parsed, keys
        return out
    product_types: dict[str, tuple[str, int]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    keep: list[int] = []
    late: list[RowError] = []
    for position, number in enumerate(numbers):
        if position in rejected:
            continue
        key = keys[position]
        product_type = types[position]
        known_type = product_types.setdefault(key, (product_type, number))
        if known_type[0] != product_type:
            late.append(
                RowError(
                    number,
                    "product_type",
                    f"{product_type} differs from row "
                    f"{known_type[1]}, which gives {names[position]} as {known_type[0]}",
                )
            )
            continue
        earlier = first_seen.setdefault((key, lot_numbers[position]), number)
        if earlier != number and not update:
            late.append(
                RowError(
                    number,
                    "lot_number",
                    f"{lot_numbers[position]} of {names[position]} is "
                    f"already in row {earlier}: give each lot once, or use --update",
                )
            )
            continue
        keep.append(position)
    if late:
        errors.extend(late)
        errors.sort(key=lambda error: error.row)
    out.numbers = [numbers[p] for p in keep]
    out.columns = {name: [values[p] for p in keep] for name, values in parsed.items()}
    out.product_keys = [keys[p] for p in keep]
    return out
