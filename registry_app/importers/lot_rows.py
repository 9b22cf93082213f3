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
    "vials": "vial", "lyophilized_vial": "vial", "frozen_vial": "vial", "solution_vial": "vial",
    "syringes": "syringe", "prefilled_syringe": "syringe", "prefilled_syringes": "syringe",
    "ampoules": "ampoule", "ampule": "ampoule", "ampules": "ampoule", "topical_ampoule": "ampoule",
    "kits": "kit", "millilitre": "ml", "milliliter": "ml",
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

PRODUCT_FIELDS = ("product_type", "gtin", "presentation", "storage_form", "unit", "source", "source_description",
                  "donor_use", "isolation_method", "pn_species")
LOT_FIELDS = ("lot_number", "expiry_date", "manufacture_date", "received_date", "received_by",
              "quantity_received", "status", "receipt_temperature_c", "package_intact", "donor_eligibility_ref",
              "coa_ref", "labelled_particles_per_ml")
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
class LotRow:
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

        def add(parameter: str, value: float | None = None, unit: str | None = None, result: str | None = None,
                method: str | None = None, marker: str | None = None) -> None:
            found.append({"parameter": parameter, "method": method, "marker": marker, "value": value, "unit": unit,
                          "result": result, "measured_by": measured_by, "source_ref": source_ref})

        for column, (parameter, unit, method_column) in NUMERIC_RESULTS.items():
            if column in values:
                add(parameter, value=values[column], unit=unit,
                    method=values.get(method_column) if method_column else None)
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
    rows: list[LotRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0


Progress = Callable[[int, int], bool | None]


def validate_lots(table: Table, today: date, update: bool = False, progress: Progress | None = None,
                  progress_total: int | None = None, progress_every: int = 2000) -> ValidatedLots:
    """Validate every row; rows with any malformed cell are left out and each problem is listed.

    `progress(done, total)` is called every `progress_every` rows; if it returns False, validation stops and
    the result is marked by `total_rows == -1` (the caller treats that as cancelled).
    """
    out = ValidatedLots(total_rows=len(table.rows))
    out.errors.extend(check_header(table.columns, LOT_COLUMNS, REQUIRED_LOT_COLUMNS))
    if out.errors:
        return out
    width = len(table.columns)
    plan = [(index, name, LOT_COLUMNS[name][0]) for index, name in enumerate(table.columns)]
    required_indexes = [(table.columns.index(name), name) for name in REQUIRED_LOT_COLUMNS]
    first_seen: dict[tuple[str, str], int] = {}
    product_types: dict[str, tuple[str, int]] = {}
    errors = out.errors
    total = progress_total or len(table.rows)
    # Spreadsheet columns repeat a few values (dates, vocabularies, GTINs) over thousands of rows: each
    # distinct cell text is parsed once per column.
    memo: list[dict[str, Any]] = [{} for _ in plan]
    missing = object()
    for position, (number, cells) in enumerate(table.rows, start=1):
        if progress is not None and position % progress_every == 0 and progress(position, total) is False:
            out.total_rows = -1
            return out
        row_errors = len(errors)
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        elif len(cells) > width and any(cells[width:]):
            errors.append(RowError(number, "", f"has {len(cells)} cells but the header names {width} columns"))
        values: dict[str, Any] = {}
        for index, name, parse in plan:
            cell = cells[index]
            if cell:
                seen = memo[index]
                value = seen.get(cell, missing)
                if value is missing:
                    try:
                        value = seen[cell] = parse(cell)
                    except c.CellError as error:
                        errors.append(RowError(number, name, str(error)))
                        continue
                values[name] = value
        for index, name in required_indexes:
            if not cells[index]:
                errors.append(RowError(number, name, "is required but the cell is empty"))
        received = values.get("received_date")
        if received is not None and received > today:
            errors.append(RowError(number, "received_date", f"{received.isoformat()} is in the future"))
        both = set(values.get("markers_detected", ())) & set(values.get("markers_not_detected", ()))
        if both:
            errors.append(RowError(number, "markers_not_detected",
                                   f"{', '.join(sorted(both))} also listed in markers_detected"))
        if len(errors) > row_errors:
            continue
        row = LotRow(number, values)
        key = row.product_key
        known_type = product_types.setdefault(key, (values["product_type"], number))
        if known_type[0] != values["product_type"]:
            errors.append(RowError(number, "product_type", f"{values['product_type']} differs from row "
                                   f"{known_type[1]}, which gives {values['product_name']} as {known_type[0]}"))
            continue
        lot_key = (key, row.lot_number)
        earlier = first_seen.setdefault(lot_key, number)
        if earlier != number and not update:
            errors.append(RowError(number, "lot_number", f"{row.lot_number} of {values['product_name']} is "
                                   f"already in row {earlier}: give each lot once, or use --update"))
            continue
        out.rows.append(row)
    return out
