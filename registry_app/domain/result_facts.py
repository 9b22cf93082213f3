"""Per-lot facts derived from a lot's current characterization results, kept in their own table.

The lot rules ask the same questions of every lot (is there a sterility result? the highest endotoxin?), and
answering them from the results table meant one GROUP BY over every result ever recorded on each evaluation
(830k rows at 100k lots: most of the flag engine's time). The answers change only when results are written,
so they are stored here, one row per lot that has current results, and recomputed set-based for the lots a
write touched:

- every ORM flush that adds, changes or deletes a CharacterizationResult refreshes its lots (the listener at
  the end of this module), so services, tests and scripts using the ORM need do nothing;
- bulk writers that bypass the ORM (Core inserts/updates, driver executemany/COPY) call
  `refresh_lot_result_facts` for the lots they wrote, in the same transaction.

The definition is the single `lot_result_summary` query below; `refresh_lot_result_facts(conn)` with no lot
ids rebuilds the whole table from it, and `stale_lot_result_facts` lists lots whose stored row differs from a
recomputation (tests and `registry-app` maintenance use it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal
from itertools import chain
from typing import Any

from sqlalchemy import ForeignKey, Integer, and_, case, delete, event, func, insert, inspect, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from .base import Base, table_of
from .exact import Exact
from .lots import CharacterizationResult
from .vocab import CONTAMINANT_MARKERS, CYTOSOLIC_MARKERS, TRANSMEMBRANE_MARKERS

# SQLite limits bound parameters per statement; refreshes go in chunks of this many lots.
REFRESH_CHUNK = 500
SINGLE_PARTICLE_METHODS = ("nta", "trps", "nano_flow")


class LotResultFacts(Base):
    """What a lot's current (not voided) results document: 0/1 facts, and the extremes of its measurements.

    Derived data: never edited by hand, only rewritten by `refresh_lot_result_facts`. A lot with no current
    result has no row (readers treat a missing row as all facts 0 and no measurements)."""

    __tablename__ = "lot_result_facts"

    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), primary_key=True, autoincrement=False)
    ev_particles: Mapped[int] = mapped_column(Integer)
    ev_second_quant: Mapped[int] = mapped_column(Integer)
    ev_transmembrane: Mapped[int] = mapped_column(Integer)
    ev_cytosolic: Mapped[int] = mapped_column(Integer)
    ev_contaminant_tested: Mapped[int] = mapped_column(Integer)
    ev_imaging: Mapped[int] = mapped_column(Integer)
    pn_dna: Mapped[int] = mapped_column(Integer)
    pn_mw: Mapped[int] = mapped_column(Integer)
    has_sterility: Mapped[int] = mapped_column(Integer)
    has_endotoxin: Mapped[int] = mapped_column(Integer)
    has_mycoplasma: Mapped[int] = mapped_column(Integer)
    sterility_fail: Mapped[int] = mapped_column(Integer)
    mycoplasma_positive: Mapped[int] = mapped_column(Integer)
    # Bit i set: CONTAMINANT_MARKERS[i] detected. One column, so that the vocabulary can grow without a
    # schema change; bits are appended, never reordered.
    contaminants_detected: Mapped[int] = mapped_column(Integer)
    endotoxin_max: Mapped[Decimal | None] = mapped_column(Exact)
    size_min: Mapped[Decimal | None] = mapped_column(Exact)
    size_max: Mapped[Decimal | None] = mapped_column(Exact)
    particles_min: Mapped[Decimal | None] = mapped_column(Exact)
    particles_max: Mapped[Decimal | None] = mapped_column(Exact)


FACT_COLUMNS: tuple[str, ...] = tuple(c.name for c in LotResultFacts.__table__.c)


def _any(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.max(case((condition, 1), else_=0))


def lot_result_summary() -> Select[*tuple[Any, ...]]:
    """Per lot with current results, the row of lot_result_facts (same columns, same order)."""
    r = CharacterizationResult
    marker = r.parameter == "marker"
    detected = r.result == "detected"
    contaminant_bits: ColumnElement[int] = sum(
        (_any(and_(marker, r.marker == m, detected)) * (1 << i) for i, m in enumerate(CONTAMINANT_MARKERS)),
        start=literal(0),
    )
    return (
        select(
            r.lot_id,
            _any(and_(r.parameter == "particle_concentration", r.method.in_(SINGLE_PARTICLE_METHODS))),
            _any(r.parameter.in_(("protein_concentration", "lipid_concentration"))),
            _any(and_(marker, r.marker.in_(TRANSMEMBRANE_MARKERS), detected)),
            _any(and_(marker, r.marker.in_(CYTOSOLIC_MARKERS), detected)),
            _any(and_(marker, r.marker.in_(CONTAMINANT_MARKERS))),
            _any(r.parameter == "imaging"),
            _any(r.parameter == "dna_concentration"),
            _any(r.parameter == "molecular_weight"),
            _any(r.parameter == "sterility"),
            _any(r.parameter == "endotoxin"),
            _any(r.parameter == "mycoplasma"),
            _any(and_(r.parameter == "sterility", r.result == "fail")),
            _any(and_(r.parameter == "mycoplasma", r.result == "positive")),
            contaminant_bits,
            func.max(case((r.parameter == "endotoxin", r.value))),
            func.min(case((r.parameter == "size_mode", r.value))),
            func.max(case((r.parameter == "size_mode", r.value))),
            func.min(case((r.parameter == "particle_concentration", r.value))),
            func.max(case((r.parameter == "particle_concentration", r.value))),
        )
        .where(r.voided_at.is_(None))
        .group_by(r.lot_id)
    )


_TRANSMEMBRANE, _CYTOSOLIC = frozenset(TRANSMEMBRANE_MARKERS), frozenset(CYTOSOLIC_MARKERS)
_CONTAMINANT_BIT = {marker: 1 << i for i, marker in enumerate(CONTAMINANT_MARKERS)}
_PRESENCE = {
    "protein_concentration": 1,
    "lipid_concentration": 1,
    "imaging": 5,
    "dna_concentration": 6,
    "molecular_weight": 7,
    "sterility": 8,
    "endotoxin": 9,
    "mycoplasma": 10,
}  # index of the 0/1 fact


def facts_of_results(
    lot_id: int, results: Iterable[tuple[str, str | None, str | None, float | None, str | None]]
) -> tuple[Any, ...] | None:
    """The lot_result_facts row of one lot from its current results as (parameter, method, marker, value,
    result), computed in Python: for a bulk writer that has the rows in hand (the demo), so that it need not
    aggregate them again in SQL. Must equal `lot_result_summary` (a test compares them on every kind of row);
    None when there is no result."""
    bits = [0] * 13
    contaminants = 0
    endotoxin: list[float] = []
    size: list[float] = []
    particles: list[float] = []
    seen = False
    for parameter, method, marker, value, result in results:
        seen = True
        if parameter == "marker":
            if marker in _CONTAMINANT_BIT:
                bits[4] = 1
                if result == "detected":
                    contaminants |= _CONTAMINANT_BIT[marker]
            elif result == "detected":
                if marker in _TRANSMEMBRANE:
                    bits[2] = 1
                elif marker in _CYTOSOLIC:
                    bits[3] = 1
            continue
        if parameter in _PRESENCE:
            bits[_PRESENCE[parameter]] = 1
        if parameter == "particle_concentration":
            if method in SINGLE_PARTICLE_METHODS:
                bits[0] = 1
            if value is not None:
                particles.append(value)
        elif parameter == "size_mode" and value is not None:
            size.append(value)
        elif parameter == "endotoxin" and value is not None:
            endotoxin.append(value)
        elif parameter == "sterility" and result == "fail":
            bits[11] = 1
        elif parameter == "mycoplasma" and result == "positive":
            bits[12] = 1
    if not seen:
        return None
    return (
        lot_id,
        *bits,
        contaminants,
        max(endotoxin, default=None),
        min(size, default=None),
        max(size, default=None),
        min(particles, default=None),
        max(particles, default=None),
    )


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), REFRESH_CHUNK):
        yield ordered[start : start + REFRESH_CHUNK]


def refresh_lot_result_facts(connection: Connection, lot_ids: Collection[int] | None = None) -> None:
    """Recompute the facts of these lots (all lots when None) from their current results, in the caller's
    transaction. Call it after writing results without the ORM."""
    table = table_of(LotResultFacts)
    if lot_ids is None:
        connection.execute(delete(table))
        connection.execute(insert(table).from_select(FACT_COLUMNS, lot_result_summary()))
        return
    if isinstance(lot_ids, range) and lot_ids.step == 1 and len(lot_ids) > REFRESH_CHUNK:
        # Consecutive ids (the lots a bulk import just wrote): one range scan instead of an IN list per chunk.
        low, high = lot_ids.start, lot_ids.stop - 1
        connection.execute(delete(table).where(table.c.lot_id.between(low, high)))
        connection.execute(
            insert(table).from_select(
                FACT_COLUMNS, lot_result_summary().where(CharacterizationResult.lot_id.between(low, high))
            )
        )
        return
    for chunk in _chunks(lot_ids):
        connection.execute(delete(table).where(table.c.lot_id.in_(chunk)))
        connection.execute(
            insert(table).from_select(
                FACT_COLUMNS, lot_result_summary().where(CharacterizationResult.lot_id.in_(chunk))
            )
        )


def stale_lot_result_facts(connection: Connection) -> list[int]:
    """Lots whose stored facts differ from a recomputation (a missing or extra row counts): empty when the
    table is right."""
    stored = {row[0]: tuple(row[1:]) for row in connection.execute(select(LotResultFacts.__table__))}
    fresh = {row[0]: tuple(row[1:]) for row in connection.execute(lot_result_summary())}
    return sorted(lot for lot in stored.keys() | fresh.keys() if not _same(stored.get(lot), fresh.get(lot)))


def _same(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(
        x == y or (isinstance(x, float) and isinstance(y, float) and abs(x - y) <= 1e-9 * max(abs(x), 1))
        for x, y in zip(a, b, strict=True)
    )


@event.listens_for(Session, "after_flush")
def _refresh_after_flush(session: Session, _flush_context: Any) -> None:
    """Keep the facts of every lot whose results this flush wrote (new, changed, deleted; old and new lot)."""
    lots: set[int] = set()
    for item in chain(session.new, session.dirty, session.deleted):
        if isinstance(item, CharacterizationResult):
            history = inspect(item).attrs.lot_id.history
            lots.update(v for v in chain(history.added, history.unchanged, history.deleted) if v is not None)
    if lots:
        refresh_lot_result_facts(session.connection(), lots)
