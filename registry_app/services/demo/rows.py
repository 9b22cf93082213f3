"""The demo's rows: lots, characterization results, administrations and the rest, built from a seed.

Pure Python with no database: the generator runs in a separate process for large demos (see demo.py), so that
building rows and storing them overlap on two cores. The rows are tuples in the column order of TABLES, with
ids computed here from the first free id of each table, and dates, datetimes and booleans already in the form
the database's driver stores (ISO text and 0/1 on SQLite, native values on PostgreSQL).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING, Any, TypeVar

from registry_app.domain import Base
from registry_app.domain.result_facts import FACT_COLUMNS, facts_of_results
from registry_app.domain.row_hash import HASHED_COLUMNS, RowHasher
from registry_app.domain.vocab import DEVICE_ASSISTED_ROUTES, HUMAN_DERIVED_SOURCES, INJECTION_ROUTES
from registry_app.rules.lot_rules import LOT_CODES
from registry_app.services.demo.data import BODY_AREAS, CONTRAINDICATIONS, PRACTITIONERS, PRODUCTS, DemoProduct

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem  # typeshed's own name for what random.Random.choice takes

_T = TypeVar("_T")

LOTS_PER_CHUNK = 5000  # lots whose rows travel together from the generator to the writer

# Every lot rule the demo can break on purpose: all but the recall lookback (a recall is made apart, RECALL) and
# the expiry alerts (they follow from the dates). In the rules' order, which a seed's plan depends on.
LOT_DEFECTS = LOT_CODES[: LOT_CODES.index("RECALL-LOOKBACK-OPEN")]
ADMIN_DEFECTS = (
    "USE-EXPIRED",
    "USE-NOT-RELEASED",
    "TRACE-INCOMPLETE",
    "CONTRA-SCREENING-MISSING",
    "CONTRA-PN-FISH-ALLERGY",
    "CONTRA-RECORDED",
    "AE-UNREPORTED",
)
RECALL = "RECALL"

# The tables the demo writes in bulk, parents first, with their columns in the order of the built rows.
TABLES: dict[str, tuple[str, ...]] = {
    "lot": (
        "id",
        "product_id",
        "supplier_id",
        "lot_number",
        "expiry_date",
        "manufacture_date",
        "received_date",
        "quantity_received",
        "quantity_administered",
        "status",
        "receipt_temperature_c",
        "donor_eligibility_ref",
        "coa_ref",
        "labelled_particles_per_ml",
        "released_at",
        "released_on",
        "recall_date",
        "recall_reason",
    ),
    # Ids given here too (nothing refers to a result): the rows are hashed for the audit trail with their ids.
    "characterization_result": (
        "id",
        "lot_id",
        "parameter",
        "method",
        "marker",
        "value",
        "unit",
        "result",
        "source_ref",
    ),
    # The bulk path bypasses the ORM flush that keeps the lots' results facts: the facts of the new lots are
    # computed from their rows here (aggregating 800k rows again in SQL took longer than writing them).
    "lot_result_facts": FACT_COLUMNS,
    "administration": (
        "id",
        "lot_id",
        "administered_at",
        "patient_ref",
        "route",
        "body_areas",
        "quantity",
        "practitioner",
        "device_procedure",
        "ind_reference",
        "screening_done",
        "contraindications",
        "patient_notified_on",
    ),
    "document": ("id", "kind", "lot_id", "reference", "uploaded_at"),
    "temperature_excursion": (
        "id",
        "lot_id",
        "occurred_at",
        "reading_c",
        "duration_minutes",
        "notes",
        "resolution",
        "resolution_note",
        "resolved_at",
        "recorded_at",
    ),
    "adverse_event": (
        "id",
        "administration_id",
        "event_type",
        "onset_date",
        "severity",
        "description",
        "report_status",
        "report_reference",
        "not_reportable_reason",
        "reported_on",
        "recorded_at",
    ),
}


def shared_values(job: DemoJob) -> dict[str, dict[str, Any]]:
    """Per table, the columns every row of the demo has the same value in: written once into the statement
    (SQLite) instead of built, sent and bound a million times."""
    now = _sqlite_datetime(job.now) if job.sqlite else job.now
    return {
        "lot": {
            "site_id": job.site_id,
            "received_by": "Demo Pharmacist",
            "quantity_destroyed": 0.0,
            "package_intact": True,
            "created_at": now,
        },
        "characterization_result": {"measured_by": "manufacturer", "recorded_at": now},
        "administration": {"volume_ml": 0.5, "superseded": False, "recorded_at": now},
    }


# (table, rows, the rows' hashes for the audit trail or None for a table it does not cover), in the order of TABLES
Chunk = list[tuple[str, list[tuple[Any, ...]], bytes | None]]


@dataclass(frozen=True)
class DemoJob:
    """Everything the row generator needs, picklable for the generator's process."""

    lots: int
    rng_state: tuple[Any, ...]  # the seeded generator after the catalogue drew its dates
    today: date
    now: datetime
    site_id: int
    sqlite: bool
    product_ids: list[int]  # in the order of PRODUCTS
    supplier_ids: list[int]
    first_ids: dict[str, int]  # the first free id of each table of TABLES that has an id


@lru_cache(maxsize=1 << 16)
def _sqlite_datetime(value: datetime) -> str:
    # The demo's datetimes repeat (days x quarter hours), and strftime was a visible share of its time.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=1 << 14)
def _sqlite_date(value: date) -> str:
    return value.isoformat()


def produce(jobs: Queue[DemoJob | None], chunks: Queue[Chunk | str | None]) -> None:
    """The generator process: waits for its job (None: nothing to do), then puts every chunk of rows into
    `chunks` and None; on failure a message instead."""
    job = jobs.get()
    if job is None:
        return
    try:
        for chunk in DemoRows(job).chunks():
            chunks.put(chunk)
        chunks.put(None)
    except BaseException as error:  # reported to the parent, which rolls back and raises
        chunks.put(f"{type(error).__name__}: {error}")


def _human(product: DemoProduct) -> bool:
    return product.source in HUMAN_DERIVED_SOURCES


def _needs_safety(product: DemoProduct) -> bool:
    return any(r in INJECTION_ROUTES or r in DEVICE_ASSISTED_ROUTES for r in product.labelled_routes)


def _defect_fits(defect: str, product: DemoProduct) -> bool:
    if product.compliant:
        return False
    if defect == "UNDOC-DONOR":
        return _human(product)
    if defect in ("UNDOC-EV-CHARACTERIZATION", "OOS-SIZE", "OOS-CONCENTRATION", "OOS-CONTAMINANT", "OOS-MYCOPLASMA"):
        return product.product_type == "exosome"
    if defect in ("UNDOC-PN-CHARACTERIZATION", "CONTRA-PN-FISH-ALLERGY"):
        return product.product_type == "polynucleotide"
    if defect == "UNDOC-SAFETY-TESTS":
        return _needs_safety(product)
    return True


def _as_is(value: Any) -> Any:
    return value


class QuickRandom(random.Random):
    """The same seeded generator, with `choice` and `randint` drawn from one `random()` call each: the
    library's versions (rejection sampling on getrandbits, in Python) were a third of the demo's Python time.
    Still reproducible for a seed; the tiny bias of scaling a float does not matter for demo data."""

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def row_hashers(job: DemoJob) -> dict[str, RowHasher]:
    """Per table the audit trail covers, how its rows (with the shared values and the database's defaults) are
    hashed: here, in the process that builds them, so that the writer reads nothing back."""
    dialect = "sqlite" if job.sqlite else "postgresql"
    shared = shared_values(job)
    return {
        table: RowHasher(Base.metadata.tables[table], dialect, columns, shared.get(table, {}))
        for table, columns in TABLES.items()
        if table in HASHED_COLUMNS
    }


def _taken(hashers: dict[str, RowHasher], *rows: list[tuple[Any, ...]]) -> Chunk:
    """The rows built so far (one list per table of TABLES, in its order) as a chunk, with their hashes; the
    lists are emptied."""
    chunk: Chunk = []
    for table, table_rows in zip(TABLES, rows, strict=True):
        hasher = hashers.get(table)
        chunk.append((table, list(table_rows), hasher.digests(table_rows) if hasher else None))
        table_rows.clear()
    return chunk


class DemoRows:
    def __init__(self, job: DemoJob) -> None:
        self.job = job
        self.rng = QuickRandom()
        self.rng.setstate(job.rng_state)
        self.today = job.today
        self.patients = 0
        if job.sqlite:
            self.d: Callable[[date | None], Any] = lambda v: None if v is None else _sqlite_date(v)
            self.dt: Callable[[datetime | None], Any] = lambda v: None if v is None else _sqlite_datetime(v)
            self.b: Callable[[bool | None], Any] = lambda v: None if v is None else int(v)
        else:
            self.d = self.dt = self.b = _as_is

    # -- the plan: which lot shows what ------------------------------------------------------------------
    def _plan(self, lots: int) -> list[tuple[int, str | None, str | None]]:
        """(product index, lot defect, administration defect) per lot: the showcase first, then random."""
        plan: list[tuple[int, str | None, str | None]] = [(i, None, None) for i in range(len(PRODUCTS))]
        flawed = [i for i, p in enumerate(PRODUCTS) if not p.compliant]
        for defect in (*LOT_DEFECTS, *ADMIN_DEFECTS):
            index = next(i for i in flawed if _defect_fits(defect, PRODUCTS[i]))
            plan.append((index, defect, None) if defect in LOT_DEFECTS else (index, None, defect))
        plan.append((flawed[0], RECALL, None))
        cum_weights = list(accumulate(p.weight for p in PRODUCTS))
        rng = self.rng
        for _ in range(lots - len(plan)):
            index = rng.choices(range(len(PRODUCTS)), cum_weights=cum_weights)[0]
            product = PRODUCTS[index]
            lot_defect = admin_defect = None
            if not product.compliant:
                roll = rng.random()
                if roll < 0.25:
                    lot_defect = rng.choice([d for d in LOT_DEFECTS if _defect_fits(d, product)])
                elif roll < 0.30:
                    admin_defect = rng.choice([d for d in ADMIN_DEFECTS if _defect_fits(d, product)])
            plan.append((index, lot_defect, admin_defect))
        return plan[:lots]

    def chunks(self) -> Iterator[Chunk]:
        """The rows of the job's lots, LOTS_PER_CHUNK lots (with all their records) at a time."""
        job = self.job
        w, rng, today = self, self.rng, self.today
        product_ids, supplier_ids = job.product_ids, job.supplier_ids
        first = job.first_ids
        lot_id, admin_id, result_id = first["lot"], first["administration"], first["characterization_result"]
        hashers = row_hashers(job)
        doc_id, exc_id, ae_id = first["document"], first["temperature_excursion"], first["adverse_event"]
        lot_rows: list[tuple[Any, ...]] = []
        result_rows: list[tuple[Any, ...]] = []
        fact_rows: list[tuple[Any, ...]] = []
        admin_rows: list[tuple[Any, ...]] = []
        doc_rows: list[tuple[Any, ...]] = []
        exc_rows: list[tuple[Any, ...]] = []
        ae_rows: list[tuple[Any, ...]] = []
        now = w.dt(job.now)
        for number, (index, lot_defect, admin_defect) in enumerate(self._plan(job.lots)):
            spec = PRODUCTS[index]
            received = today - timedelta(days=rng.randint(20, 400))
            expiry: date | None = received + timedelta(days=rng.choice((365, 540, 730)))
            if number % 23 == 5 and spec.compliant is False:
                expiry = today + timedelta(days=rng.randint(3, 28))  # expiring soon: a dashboard alert
            quarantine = lot_defect is None and admin_defect is None and rng.random() < 0.04
            status = "quarantine" if quarantine or admin_defect == "USE-NOT-RELEASED" else "released"
            released_at = None if status == "quarantine" else datetime.combine(received + timedelta(days=1), time(9, 0))
            recall_date: date | None = None
            if lot_defect == RECALL:
                status, recall_date = "recalled", today - timedelta(days=15)
                received = today - timedelta(days=120)
                released_at = datetime.combine(received + timedelta(days=1), time(9, 0))
            # administrations
            first_day = received + timedelta(days=2)
            last_day = min(today - timedelta(days=1), expiry or today)
            n_admin = 0 if quarantine else rng.choice((0, 1, 2, 2, 3, 4))
            showcase = number < len(PRODUCTS)  # one lot per product, used by every route the clinic uses
            if showcase:
                status, released_at = "released", datetime.combine(received + timedelta(days=1), time(9, 0))
                quarantine, n_admin = False, max(n_admin, len(spec.use_routes))
            if lot_defect in ("USE-OVERDRAWN", RECALL) or admin_defect:
                n_admin = max(n_admin, 4 if lot_defect == RECALL else 2)
            if admin_defect == "USE-EXPIRED":
                expiry = today - timedelta(days=40)
                first_day, last_day = expiry + timedelta(days=1), today - timedelta(days=1)
                received = expiry - timedelta(days=365)
                released_at = datetime.combine(received + timedelta(days=1), time(9, 0))
            if last_day < first_day:
                n_admin = 0
            span = (last_day - first_day).days if n_admin else 0
            for k in range(n_admin):
                day = first_day + timedelta(days=rng.randint(0, span))
                if recall_date is not None:  # a recalled lot
                    day = recall_date + timedelta(days=3) if k == 0 else recall_date - timedelta(days=10 + k)
                at = datetime.combine(day, time(rng.randint(9, 18), rng.choice((0, 15, 30, 45))))
                self.patients += 1 if rng.random() < 0.6 or self.patients == 0 else 0
                patient = f"PT-{rng.randint(1, self.patients):05d}"
                route = spec.use_routes[k % len(spec.use_routes)] if showcase else rng.choice(spec.use_routes)
                practitioner: str | None = rng.choice(PRACTITIONERS)
                quantity: float | None = 1.0
                screening: bool | None = True
                contra: str | None = None
                flawed_admin = admin_defect is not None and k == 0
                if flawed_admin and admin_defect == "TRACE-INCOMPLETE":
                    practitioner = None
                elif flawed_admin and admin_defect == "CONTRA-SCREENING-MISSING":
                    screening = None
                elif flawed_admin and admin_defect == "CONTRA-PN-FISH-ALLERGY":
                    contra = "fish_allergy"
                elif flawed_admin and admin_defect == "CONTRA-RECORDED":
                    contra = rng.choice(CONTRAINDICATIONS)
                notified = None
                if recall_date is not None and k % 2 == 1:
                    notified = recall_date + timedelta(days=2)
                admin_rows.append(
                    (
                        admin_id,
                        lot_id,
                        w.dt(at),
                        patient,
                        route,
                        rng.choice(BODY_AREAS),
                        quantity,
                        practitioner,
                        "Dermapen 4" if route in DEVICE_ASSISTED_ROUTES else None,
                        "IND 029417" if spec.needs_ind else None,
                        w.b(screening),
                        contra,
                        w.d(notified),
                    )
                )
                if (flawed_admin and admin_defect == "AE-UNREPORTED") or rng.random() < 0.01:
                    ae_rows.append(
                        self._adverse_event(
                            ae_id, admin_id, day, spec, flawed_admin and admin_defect == "AE-UNREPORTED"
                        )
                    )
                    ae_id += 1
                admin_id += 1
            administered = float(n_admin)
            received_qty = administered + rng.randint(1, 6)
            if lot_defect == "USE-OVERDRAWN":
                received_qty = administered - 1
            if lot_defect == "UNDOC-EXPIRY":
                expiry = None
            human = _human(spec)
            coa_ref: str | None = f"COA-{spec.manufacturer or 'X'}-{number:06d}".upper()
            if lot_defect == "UNDOC-COA":
                coa_ref = None
            elif rng.random() < 0.1:
                doc_rows.append((doc_id, "coa", lot_id, f"CoA scan {number:06d}", now))
                doc_id += 1
                coa_ref = None
            donor = f"DE-{number:06d}" if human and lot_defect != "UNDOC-DONOR" else None
            labelled = round(rng.choice((1.0, 2.0, 5.0, 10.0)) * 1e10, 0) if spec.product_type == "exosome" else None
            lot_rows.append(
                (
                    lot_id,
                    product_ids[index],
                    None if lot_defect == "UNDOC-SUPPLIER" else rng.choice(supplier_ids),
                    f"{spec.name[:2].upper()}{received:%y%m}-{number:06d}",
                    w.d(expiry),
                    w.d(received - timedelta(days=rng.randint(20, 90))),
                    w.d(received),
                    received_qty,
                    administered,
                    status,
                    None if lot_defect == "UNDOC-RECEIPT" else round(rng.uniform(2.5, 7.5), 1),
                    donor,
                    coa_ref,
                    labelled,
                    w.dt(released_at),
                    w.d(released_at.date() if released_at else None),
                    w.d(recall_date),
                    "Supplier notice: particle count out of specification" if recall_date else None,
                )
            )
            results = self._results(spec, lot_defect, labelled)
            source_ref = f"COA-{number:06d}"
            result_rows.extend([(result_id + k, lot_id, *row, source_ref) for k, row in enumerate(results)])
            result_id += len(results)
            facts = facts_of_results(lot_id, [(p, m, mk, v, res) for p, m, mk, v, _unit, res in results])
            if facts is not None:
                fact_rows.append(facts)
            if lot_defect == "USE-TEMPERATURE" or rng.random() < 0.02:
                resolved = lot_defect != "USE-TEMPERATURE" and (spec.compliant or rng.random() < 0.8)
                occurred = datetime.combine(received + timedelta(days=rng.randint(1, 10)), time(3, 10))
                exc_rows.append(
                    (
                        exc_id,
                        lot_id,
                        w.dt(occurred),
                        round(rng.uniform(9.0, 14.0), 1),
                        rng.randint(20, 240),
                        "Fridge door left ajar overnight",
                        "use" if resolved else None,
                        "Within manufacturer's stability data" if resolved else None,
                        w.dt(occurred + timedelta(hours=8)) if resolved else None,
                        now,
                    )
                )
                exc_id += 1
            lot_id += 1
            if len(lot_rows) == LOTS_PER_CHUNK:
                yield _taken(hashers, lot_rows, result_rows, fact_rows, admin_rows, doc_rows, exc_rows, ae_rows)
        yield _taken(hashers, lot_rows, result_rows, fact_rows, admin_rows, doc_rows, exc_rows, ae_rows)

    def _adverse_event(
        self, ae_id: int, admin_id: int, day: date, spec: DemoProduct, unreported: bool
    ) -> tuple[Any, ...]:
        w, rng = self, self.rng
        onset = day + timedelta(days=rng.randint(0, 3))
        recorded = datetime.combine(onset + timedelta(days=1), time(12, 0))
        kind = rng.choice(("erythema", "swelling", "bruising", "papule", "delayed_nodule_granuloma"))
        if unreported:
            recorded = datetime.combine(self.today - timedelta(days=30), time(12, 0))
            return (
                ae_id,
                admin_id,
                kind,
                w.d(onset),
                "moderate",
                "Persistent swelling at injection sites",
                "not_reported",
                None,
                None,
                None,
                w.dt(recorded),
            )
        if (self.today - recorded.date()).days <= 15 and not spec.compliant:
            return (
                ae_id,
                admin_id,
                kind,
                w.d(onset),
                "mild",
                "Transient redness",
                "not_reported",
                None,
                None,
                None,
                w.dt(recorded),
            )
        status = rng.choice(("reported_manufacturer", "reported_regulator", "not_reportable"))
        return (
            ae_id,
            admin_id,
            kind,
            w.d(onset),
            "mild",
            "Transient reaction, resolved",
            status,
            f"MW-{ae_id:06d}"
            if status == "reported_regulator"
            else (f"MFR-{ae_id:06d}" if status == "reported_manufacturer" else None),
            "Expected, mild and self-limiting" if status == "not_reportable" else None,
            w.d(recorded.date() + timedelta(days=2)) if status != "not_reportable" else None,
            w.dt(recorded),
        )

    def _results(self, spec: DemoProduct, defect: str | None, labelled: float | None) -> list[tuple[Any, ...]]:
        """(parameter, method, marker, value, unit, result) rows for one lot."""
        rng = self.rng
        rows: list[tuple[Any, ...]] = []
        endotoxin_limit = spec.spec.get("spec_endotoxin_max", 0.5)
        if spec.product_type == "exosome":
            low, high = spec.spec.get("spec_size_min_nm", 30.0), spec.spec.get("spec_size_max_nm", 150.0)
            tolerance = spec.spec.get("spec_concentration_tolerance_pct", 20.0) / 100
            measured = (labelled or 1e10) * (1 + rng.uniform(-tolerance, tolerance) * 0.8)
            if defect == "OOS-CONCENTRATION":
                measured = (labelled or 1e10) * rng.uniform(0.3, 0.6)
            size = rng.uniform(low + 15, min(high - 5, low + 90))
            if defect == "OOS-SIZE":
                size = high + rng.uniform(20, 80)
            rows += [
                ("particle_concentration", "nta", None, round(measured, -6), "particles/mL", None),
                ("size_mode", "nta", None, round(size, 1), "nm", None),
                ("protein_concentration", "bca", None, round(rng.uniform(20, 120), 1), "µg/mL", None),
                ("marker", "western_blot", rng.choice(("cd9", "cd63", "cd81")), None, None, "detected"),
                (
                    "marker",
                    "western_blot",
                    "calnexin",
                    None,
                    None,
                    "detected" if defect == "OOS-CONTAMINANT" else "not_detected",
                ),
            ]
            if defect != "UNDOC-EV-CHARACTERIZATION":
                rows.append(
                    ("marker", "western_blot", rng.choice(("tsg101", "alix", "syntenin")), None, None, "detected")
                )
                rows.append(("imaging", "tem", None, None, None, "performed"))
        else:
            rows.append(("dna_concentration", "uv", None, round(rng.uniform(10, 25), 2), "mg/mL", None))
            if defect != "UNDOC-PN-CHARACTERIZATION":
                rows.append(("molecular_weight", "gel", None, round(rng.uniform(300, 1500), 0), "kDa", None))
        if defect != "UNDOC-SAFETY-TESTS":
            rows.append(("sterility", "usp71", None, None, None, "fail" if defect == "OOS-STERILITY" else "pass"))
            endotoxin = endotoxin_limit * (rng.uniform(1.5, 4) if defect == "OOS-ENDOTOXIN" else rng.uniform(0.1, 0.9))
            rows.append(("endotoxin", "lal", None, round(endotoxin, 3), "EU/mL", None))
            if spec.product_type == "exosome":
                rows.append(
                    ("mycoplasma", "qpcr", None, None, None, "positive" if defect == "OOS-MYCOPLASMA" else "negative")
                )
        return rows
