"""The characterization sheet of one lot, for the desktop's grid: the items the lot rules expect (MISEV items
for exosomes, PN items, safety tests), the results on file for each, the lot's certificates of analysis, and
the product's specification, with `assess` to read a value against it as the user types.

Read-only: results are written by results.add_characterization_result and voided by
results.void_characterization_result. What is expected comes from rules.items, never from the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from registry_app.domain import CharacterizationResult, Document, LotResultFacts, ProductRoute
from registry_app.domain.exact import plain, to_decimal
from registry_app.domain.vocab import CONTAMINANT_MARKERS, DEVICE_ASSISTED_ROUTES, INJECTION_ROUTES, PARAMETER_SPEC
from registry_app.rules.items import SPECIFICATION_SLOTS, expected_items
from registry_app.rules.lot_rules import (
    DEFAULT_CONCENTRATION_TOLERANCE_PCT,
    DEFAULT_ENDOTOXIN_MAX,
    DEFAULT_SIZE_MAX_NM,
    DEFAULT_SIZE_MIN_NM,
)
from registry_app.services import site_scope
from registry_app.services.context import READERS, ServiceContext


@dataclass(frozen=True)
class Specification:
    """The limits a lot's results are read against: the product's own, else the defaults of rules.md."""

    product_type: str
    endotoxin_max: Decimal = DEFAULT_ENDOTOXIN_MAX
    size_low: Decimal = DEFAULT_SIZE_MIN_NM
    size_high: Decimal = DEFAULT_SIZE_MAX_NM
    labelled_particles_per_ml: Decimal | None = None
    tolerance_pct: Decimal = DEFAULT_CONCENTRATION_TOLERANCE_PCT


def assess(
    spec: Specification, parameter: str, *, value: Any = None, result: str | None = None, marker: str | None = None
) -> tuple[str, bool | None]:
    """(the specification the result is read against, whether it meets it; None: nothing to judge yet or no
    specification applies). Pure: the grid calls it at each keystroke, with no database round trip. Numbers
    are compared as decimals and shown as recorded (150.4 nm is outside 30-150 nm, never "150 nm")."""
    number = to_decimal(value)
    if parameter == "endotoxin":
        limit = to_decimal(spec.endotoxin_max)
        return f"≤ {plain(limit)} EU/mL", None if number is None or limit is None else number <= limit
    if parameter == "size_mode" and spec.product_type == "exosome":
        low, high = to_decimal(spec.size_low), to_decimal(spec.size_high)
        judged = None if number is None or low is None or high is None else low <= number <= high
        return f"{plain(low)}–{plain(high)} nm", judged
    if parameter == "particle_concentration" and spec.labelled_particles_per_ml:
        claim, tolerance = to_decimal(spec.labelled_particles_per_ml), to_decimal(spec.tolerance_pct)
        assert claim is not None and tolerance is not None
        text = f"{plain(claim)} particles/mL ± {plain(tolerance)} %"
        return text, None if number is None else abs(number - claim) <= claim * tolerance / 100
    if parameter == "sterility":
        return "pass", None if result is None else result == "pass"
    if parameter == "mycoplasma":
        return "negative", None if result is None else result == "negative"
    if parameter == "marker" and marker in CONTAMINANT_MARKERS:
        return "not detected (contaminant)", None if result is None else result == "not_detected"
    return "", None


@dataclass(frozen=True)
class ResultRow:
    id: int
    parameter: str
    marker: str | None
    method: str | None
    value: Decimal | None
    unit: str | None
    result: str | None
    measured_by: str | None
    source_ref: str | None
    laboratory: str | None
    tested_on: date | None
    document_id: int | None
    recorded_at: datetime
    specification: str
    in_spec: bool | None


@dataclass(frozen=True)
class GridRow:
    """One line of the grid: a parameter (and marker) an item asks for, and the current results of it."""

    item: str  # the rules' fact name, e.g. "ev_particles"; "" for a result no item asks for
    item_title: str
    required: bool
    parameter: str
    marker: str | None
    unit: str | None
    methods: tuple[str, ...]
    results: tuple[str, ...]  # the qualitative results allowed (empty: a number in `unit`)
    current: tuple[ResultRow, ...]


@dataclass(frozen=True)
class CharacterizationSheet:
    lot_id: int
    lot_number: str
    product_id: int
    product_name: str
    product_type: str
    specification: Specification
    rows: list[GridRow]
    satisfied: dict[str, bool]  # item fact -> the rules count it as documented
    item_titles: dict[str, str]
    certificates: list[dict[str, object]] = field(default_factory=list)  # the lot's CoA documents, newest first

    @property
    def missing(self) -> list[str]:
        """Titles of the required items the lot lacks (what the UNDOC flags name)."""
        required = {row.item for row in self.rows if row.required and row.item}
        return [self.item_titles[i] for i in self.item_titles if i in required and not self.satisfied.get(i)]


def _row(result: CharacterizationResult, spec: Specification) -> ResultRow:
    text, ok = assess(spec, result.parameter, value=result.value, result=result.result, marker=result.marker)
    return ResultRow(
        result.id,
        result.parameter,
        result.marker,
        result.method,
        result.value,
        result.unit,
        result.result,
        result.measured_by,
        result.source_ref,
        result.laboratory,
        result.tested_on,
        result.document_id,
        result.recorded_at,
        text,
        ok,
    )


def _slot_row(
    item: str, title: str, required: bool, parameter: str, marker: str | None, current: list[ResultRow]
) -> GridRow:
    unit, methods, results = PARAMETER_SPEC[parameter]
    return GridRow(
        item, title, required, parameter, marker, unit, tuple(sorted(methods)), tuple(sorted(results)), tuple(current)
    )


def characterization_sheet(ctx: ServiceContext, lot_id: int) -> CharacterizationSheet:
    """Everything the characterization grid shows for one lot, read in one transaction."""
    ctx.require(READERS, "view characterization results")
    with ctx.db.read() as session:
        lot = site_scope.visible_lot(session, ctx, lot_id)
        product = lot.product
        spec = Specification(
            product.product_type,
            product.spec_endotoxin_max if product.spec_endotoxin_max is not None else DEFAULT_ENDOTOXIN_MAX,
            product.spec_size_min_nm if product.spec_size_min_nm is not None else DEFAULT_SIZE_MIN_NM,
            product.spec_size_max_nm if product.spec_size_max_nm is not None else DEFAULT_SIZE_MAX_NM,
            lot.labelled_particles_per_ml,
            product.spec_concentration_tolerance_pct
            if product.spec_concentration_tolerance_pct is not None
            else DEFAULT_CONCENTRATION_TOLERANCE_PCT,
        )
        invasive = (
            session.execute(
                select(ProductRoute.route)
                .where(
                    ProductRoute.product_id == product.id,
                    ProductRoute.route.in_(sorted(INJECTION_ROUTES | DEVICE_ASSISTED_ROUTES)),
                )
                .limit(1)
            ).first()
            is not None
        )
        results = [
            _row(r, spec)
            for r in session.execute(
                select(CharacterizationResult)
                .where(CharacterizationResult.lot_id == lot_id, CharacterizationResult.voided_at.is_(None))
                .order_by(CharacterizationResult.id)
            ).scalars()
        ]
        facts = session.get(LotResultFacts, lot_id)
        certificates: list[dict[str, object]] = [
            {
                "id": d.id,
                "file_name": d.file_name,
                "reference": d.reference,
                "has_content": d.sha256 is not None,
                "media_type": d.media_type,
                "uploaded_at": d.uploaded_at,
            }
            for d in session.execute(
                select(Document)
                .where(Document.lot_id == lot_id, Document.kind == "coa")
                .order_by(Document.uploaded_at.desc(), Document.id.desc())
            ).scalars()
        ]
        lot_number, product_id, product_name = lot.lot_number, product.id, product.name
    by_slot: dict[tuple[str, str | None], list[ResultRow]] = {}
    for result in results:
        by_slot.setdefault((result.parameter, result.marker), []).append(result)
    rows: list[GridRow] = []
    titles: dict[str, str] = {}
    for item in expected_items(spec.product_type, invasive):
        titles[item.fact] = item.title
        for parameter, marker in item.slots:
            rows.append(
                _slot_row(item.fact, item.title, item.required, parameter, marker, by_slot.pop((parameter, marker), []))
            )
    for parameter, marker in SPECIFICATION_SLOTS.get(spec.product_type, ()):
        rows.append(_slot_row("", "specification", False, parameter, marker, by_slot.pop((parameter, marker), [])))
    for (parameter, marker), current in by_slot.items():  # results no item asks for: shown, never hidden
        rows.append(_slot_row("", "other result", False, parameter, marker, current))
    satisfied = {fact: bool(getattr(facts, fact, 0)) if facts is not None else False for fact in titles}
    return CharacterizationSheet(
        lot_id, lot_number, product_id, product_name, spec.product_type, spec, rows, satisfied, titles, certificates
    )
