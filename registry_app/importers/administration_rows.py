"""The administration import format (shared/formats/lot-import.md): a clinic's treatment log, validated row by
row into plain dicts. Historical rows are recorded even when they break a rule; only malformed cells reject."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.base import name_key
from ..domain.vocab import BodyArea, Contraindication, Route
from . import cells as c
from .tabular import RowError, Table, check_header

ADMINISTRATION_COLUMNS: dict[str, tuple[Callable[[str], Any], bool]] = {
    "administered_at": (c.parse_datetime, True),
    "product_name": (c.text(200), True),
    "lot_number": (c.text(80), True),
    "patient_ref": (c.text(80), False),
    "route": (c.vocabulary(Route, "route"), True),
    "body_area": (c.vocabulary_list(BodyArea, "body area"), False),
    "quantity": (c.parse_positive, False),
    "volume_ml": (c.parse_positive, False),
    "practitioner": (c.text(200), False),
    "device_procedure": (c.text(200), False),
    "ind_reference": (c.text(100), False),
    "screening_done": (c.parse_yes_no, False),
    "contraindications": (c.vocabulary_list(Contraindication, "contraindication"), False),
    "notes": (c.text(5000), False),
}
REQUIRED_ADMINISTRATION_COLUMNS = tuple(n for n, (_, required) in ADMINISTRATION_COLUMNS.items() if required)
_PLAIN_FIELDS = (
    "administered_at",
    "patient_ref",
    "route",
    "quantity",
    "volume_ml",
    "practitioner",
    "device_procedure",
    "ind_reference",
    "screening_done",
    "notes",
)


@dataclass
class AdministrationRow:
    row: int
    values: dict[str, Any]

    @property
    def product_key(self) -> str:
        return name_key(self.values["product_name"])

    @property
    def lot_number(self) -> str:
        return str(self.values["lot_number"])

    def fields(self) -> dict[str, Any]:
        """The administration's columns (without lot_id); list cells `;`-joined in vocabulary order."""
        values = self.values
        out: dict[str, Any] = {k: values.get(k) for k in _PLAIN_FIELDS}
        # A date alone keeps "no time recorded": administered_at holds midnight, which nobody recorded.
        out["time_recorded"] = not values.get("administered_date_only", False)
        out["body_areas"] = ";".join(values["body_area"]) if values.get("body_area") else None
        out["contraindications"] = ";".join(values["contraindications"]) if values.get("contraindications") else None
        return out


@dataclass
class ValidatedAdministrations:
    rows: list[AdministrationRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0


def validate_administrations(
    table: Table,
    now: datetime,
    progress: Callable[[int, int], bool | None] | None = None,
    progress_total: int | None = None,
    progress_every: int = 2000,
) -> ValidatedAdministrations:
    """Validate every row (`total_rows == -1` on return means `progress` asked to stop)."""
    out = ValidatedAdministrations(total_rows=len(table.rows))
    out.errors.extend(check_header(table.columns, ADMINISTRATION_COLUMNS, REQUIRED_ADMINISTRATION_COLUMNS))
    if out.errors:
        return out
    width = len(table.columns)
    plan = [(index, name, ADMINISTRATION_COLUMNS[name][0]) for index, name in enumerate(table.columns)]
    required_indexes = [(table.columns.index(name), name) for name in REQUIRED_ADMINISTRATION_COLUMNS]
    errors = out.errors
    total = progress_total or len(table.rows)
    for position, (number, cells) in enumerate(table.rows, start=1):
        if progress is not None and position % progress_every == 0 and progress(position, total) is False:
            out.total_rows = -1
            return out
        before = len(errors)
        values: dict[str, Any] = {}
        for index, name, parse in plan:
            if index < len(cells) and (cell := cells[index]):
                try:
                    values[name] = parse(cell)
                    if name == "administered_at" and c.is_date_only(cell):
                        values["administered_date_only"] = True
                except c.CellError as error:
                    errors.append(RowError(number, name, str(error)))
        if len(cells) > width and any(cells[width:]):
            errors.append(RowError(number, "", f"has {len(cells)} cells but the header names {width} columns"))
        for index, name in required_indexes:
            if index >= len(cells) or not cells[index]:
                errors.append(RowError(number, name, "is required but the cell is empty"))
        when = values.get("administered_at")
        if when is not None and when > now:
            errors.append(RowError(number, "administered_at", f"{when.isoformat(sep=' ')} is in the future"))
        if len(errors) == before:
            out.rows.append(AdministrationRow(number, values))
    return out
