"""`registry-app demo`: fill a registry with realistic demo records, fast and reproducible for a seed.

The catalogue (demo_data.PRODUCTS) is small and inserted with the ORM; lots, characterization results,
administrations and the rest are built as tuples with ids computed here and written with the driver's bulk
path (executemany on SQLite, COPY on PostgreSQL), in the one transaction of the service. The first lots are
a fixed showcase that raises every rule of rules.md at least once; the rest are drawn at random, with
defects only on the products that are not compliant.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..domain import (
    Document,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    ProductRoute,
    Supplier,
    User,
    name_key,
    utcnow,
)
from ..domain.result_facts import FACT_COLUMNS, facts_of_results
from ..domain.vocab import DEVICE_ASSISTED_ROUTES, HUMAN_DERIVED_SOURCES, INJECTION_ROUTES
from .audit import AuditRecord, append, snapshot
from .auth import _insert_user
from .context import ServiceContext, changing, current_site
from .demo_data import (
    BODY_AREAS,
    CONTRAINDICATIONS,
    DEMO_USERS,
    MANUFACTURERS,
    PRACTITIONERS,
    PRODUCTS,
    SUPPLIERS,
    DemoProduct,
)
from .errors import ConflictError, PermissionDenied, ValidationError

DEMO_ROLES: tuple[str, ...] = ("pharmacist", "medical_director", "admin")
MIN_LOTS = 40
MAX_LOTS = 2_000_000
DEMO_CACHE_KIB = 512 * 1024  # SQLite page cache while the demo writes (a ceiling: pages are taken as needed)

LOT_DEFECTS = (
    "UNDOC-DONOR", "UNDOC-COA", "UNDOC-EXPIRY", "UNDOC-SUPPLIER", "UNDOC-RECEIPT", "UNDOC-EV-CHARACTERIZATION",
    "UNDOC-PN-CHARACTERIZATION", "UNDOC-SAFETY-TESTS", "OOS-STERILITY", "OOS-MYCOPLASMA", "OOS-ENDOTOXIN",
    "OOS-SIZE", "OOS-CONCENTRATION", "OOS-CONTAMINANT", "USE-OVERDRAWN", "USE-TEMPERATURE",
)
ADMIN_DEFECTS = (
    "USE-EXPIRED", "USE-NOT-RELEASED", "TRACE-INCOMPLETE", "CONTRA-SCREENING-MISSING", "CONTRA-PN-FISH-ALLERGY",
    "CONTRA-RECORDED", "AE-UNREPORTED",
)
RECALL = "RECALL"


@dataclass(frozen=True)
class DemoSummary:
    counts: dict[str, int]
    seed: int
    demo_users: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, password)


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


class _QuickRandom(random.Random):
    """The same seeded generator, with `choice` and `randint` drawn from one `random()` call each: the
    library's versions (rejection sampling on getrandbits, in Python) were a third of the demo's Python time.
    Still reproducible for a seed; the tiny bias of scaling a float does not matter for demo data."""

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


@lru_cache(maxsize=1 << 16)
def _sqlite_datetime(value: datetime) -> str:
    # The demo's datetimes repeat (days x quarter hours), and strftime was a visible share of its time.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=1 << 14)
def _sqlite_date(value: date) -> str:
    return value.isoformat()


class _Writer:
    """Bulk rows in the database's own form: ISO text for dates on SQLite, native values on PostgreSQL."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        if self.sqlite:
            self.d: Callable[[date | None], Any] = lambda v: None if v is None else _sqlite_date(v)
            self.dt: Callable[[datetime | None], Any] = lambda v: None if v is None else _sqlite_datetime(v)
            self.b: Callable[[bool | None], Any] = lambda v: None if v is None else int(v)
        else:
            self.d = self.dt = self.b = lambda v: v

    @contextmanager
    def roomy_cache(self) -> Iterator[None]:
        """A page cache that holds the demo's indexes while they are filled (SQLite only), then the usual one.

        With the default 2 MB cache the random-order index inserts (lot numbers, dates, patients) of a large
        demo evicted and re-read pages all the time, and the one transaction spilled to the WAL early.
        Only memory use changes: durability and integrity checks are as always."""
        if not self.sqlite:
            yield
            return
        driver = self.session.connection().connection.driver_connection
        (previous,) = driver.execute("PRAGMA cache_size").fetchone()  # type: ignore[union-attr]
        driver.execute(f"PRAGMA cache_size = {-DEMO_CACHE_KIB}")  # type: ignore[union-attr]
        try:
            yield
        finally:
            driver.execute(f"PRAGMA cache_size = {int(previous)}")  # type: ignore[union-attr]

    def next_id(self, table: str) -> int:
        return int(self.session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()) + 1

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        driver = self.session.connection().connection.driver_connection
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            # SQLite re-evaluates every CHECK's IN-list per row of an executemany, which made the bulk insert
            # 4-6x slower; the rows come from our own vocabularies, so the checks are skipped for this
            # statement only (foreign keys and NOT NULL still apply) and switched back on straight after.
            driver.execute("PRAGMA ignore_check_constraints = ON")  # type: ignore[union-attr]
            try:
                driver.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # type: ignore[union-attr]
            finally:
                driver.execute("PRAGMA ignore_check_constraints = OFF")  # type: ignore[union-attr]
        else:
            with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
            if "id" not in columns:
                return
            # Ids were given explicitly: move the sequence past them for rows added later.
            self.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def create_demo_users(ctx: ServiceContext) -> list[tuple[str, str, str]]:
    """On a registry with no users: one demo user per role with the documented passwords (is_demo).
    The context then acts as the demo pharmacist. One audit entry."""
    with ctx.db.write() as session:
        if session.execute(select(func.count(User.id))).scalar_one():
            raise PermissionDenied("the registry has users already: sign in to generate demo data")
        users = [_insert_user(session, name, role, password, full_name, True)
                 for name, role, password, full_name in DEMO_USERS]
        append(session, users[0].id, users[0].username, AuditRecord(
            "create demo users", "user", None, before={},
            after={"users": [snapshot(u, exclude=("password_hash",)) for u in users]},
            reason="demo registry: fixed, documented passwords"))
    pharmacist = next(u for u in users if u.role == "pharmacist")
    from .context import Actor

    ctx.actor = Actor(pharmacist.id, pharmacist.username, pharmacist.role, pharmacist.full_name)
    return [(name, role, password) for name, role, password, _ in DEMO_USERS]


@changing("generate demo data", DEMO_ROLES)
def generate_demo(ctx: ServiceContext, lots: int = 200, seed: int = 1, today: date | None = None) -> DemoSummary:
    if not MIN_LOTS <= lots <= MAX_LOTS:
        raise ValidationError(f"give between {MIN_LOTS} and {MAX_LOTS} lots, so that every rule is shown",
                              field="lots")
    today = today or date.today()
    with ctx.db.write() as session:
        taken = session.execute(
            select(Product.name).where(Product.name_key.in_([name_key(p.name) for p in PRODUCTS]))
        ).scalars().all()
        if taken:
            raise ConflictError(f"the registry holds demo products already ({taken[0]}, ...): run the demo on a "
                                "new registry")
        builder = _DemoBuilder(session, _QuickRandom(seed), today, current_site(session, ctx.site_code).id)
        with builder.w.roomy_cache():
            counts = builder.build(lots)
        ctx.audit(session, AuditRecord("generate demo data", "registry", None, before={},
                                       after={"seed": seed, "lots": lots, **counts}, reason="demo records"))
    return DemoSummary(counts, seed)


class _DemoBuilder:
    def __init__(self, session: Session, rng: random.Random, today: date, site_id: int) -> None:
        self.session = session
        self.rng = rng
        self.today = today
        self.site_id = site_id
        self.w = _Writer(session)
        self.now = utcnow()
        self.patients = 0

    # -- catalogue ---------------------------------------------------------------------------------------
    def _catalogue(self) -> tuple[list[int], list[int]]:
        session = self.session
        makers: dict[str, int] = {}
        for key, (name, country) in MANUFACTURERS.items():
            existing = session.execute(select(Manufacturer).where(Manufacturer.name_key == name_key(name)))
            maker = existing.scalar_one_or_none() or Manufacturer(name=name, name_key=name_key(name),
                                                                  country=country)
            session.add(maker)
            session.flush()
            makers[key] = maker.id
        supplier_ids = []
        for name in SUPPLIERS:
            existing = session.execute(select(Supplier).where(Supplier.name_key == name_key(name)))
            supplier = existing.scalar_one_or_none() or Supplier(name=name, name_key=name_key(name))
            session.add(supplier)
            session.flush()
            supplier_ids.append(supplier.id)
        product_ids = []
        for spec in PRODUCTS:
            product = Product(
                name=spec.name, name_key=name_key(spec.name), product_type=spec.product_type,
                manufacturer_id=makers[spec.manufacturer] if spec.manufacturer else None,
                presentation=spec.presentation, storage_form=spec.storage_form, unit=spec.unit,
                source=spec.source, source_description=spec.source_description, donor_use=spec.donor_use,
                isolation_method=spec.isolation_method, pn_species=spec.pn_species, **spec.spec,
            )
            session.add(product)
            session.flush()
            product_ids.append(product.id)
            for route in spec.labelled_routes:
                session.add(ProductRoute(product_id=product.id, route=route))
            for jurisdiction, (status, reference) in spec.statuses.items():
                session.add(ProductRegulatoryStatus(
                    product_id=product.id, jurisdiction=jurisdiction, status=status, reference=reference,
                    verified_on=self.today - timedelta(days=self.rng.randint(20, 200)),
                    verified_by="Demo Pharmacist" if reference else None))
            session.add(Document(kind="ifu", product_id=product.id, reference=f"IFU-{product.id:03d}-rev2"))
            if spec.compliant:
                session.add(Document(kind="regulatory_certificate", product_id=product.id,
                                     reference=next(iter(spec.statuses.values()))[1]))
        session.flush()
        return product_ids, supplier_ids

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

    def build(self, lots: int) -> dict[str, int]:
        product_ids, supplier_ids = self._catalogue()
        w, rng, today = self.w, self.rng, self.today
        lot_id, result_id = w.next_id("lot"), w.next_id("characterization_result")
        admin_id = w.next_id("administration")
        doc_id, exc_id, ae_id = w.next_id("document"), w.next_id("temperature_excursion"), w.next_id("adverse_event")
        lot_rows: list[tuple[Any, ...]] = []
        result_rows: list[tuple[Any, ...]] = []
        fact_rows: list[tuple[Any, ...]] = []
        admin_rows: list[tuple[Any, ...]] = []
        doc_rows: list[tuple[Any, ...]] = []
        exc_rows: list[tuple[Any, ...]] = []
        ae_rows: list[tuple[Any, ...]] = []
        now = w.dt(self.now)
        for number, (index, lot_defect, admin_defect) in enumerate(self._plan(lots)):
            spec = PRODUCTS[index]
            received = today - timedelta(days=rng.randint(20, 400))
            expiry: date | None = received + timedelta(days=rng.choice((365, 540, 730)))
            if number % 23 == 5 and spec.compliant is False:
                expiry = today + timedelta(days=rng.randint(3, 28))  # expiring soon: a dashboard alert
            quarantine = lot_defect is None and admin_defect is None and rng.random() < 0.04
            status = "quarantine" if quarantine or admin_defect == "USE-NOT-RELEASED" else "released"
            released_at = None if status == "quarantine" else datetime.combine(received + timedelta(days=1),
                                                                                time(9, 0))
            recall_date = None
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
                if lot_defect == RECALL:
                    day = recall_date + timedelta(days=3) if k == 0 else recall_date - timedelta(days=10 + k)  # type: ignore[operator]
                at = datetime.combine(day, time(rng.randint(9, 18), rng.choice((0, 15, 30, 45))))
                self.patients += 1 if rng.random() < 0.6 or self.patients == 0 else 0
                patient = f"PT-{rng.randint(1, self.patients):05d}"
                route = spec.use_routes[k % len(spec.use_routes)] if showcase else rng.choice(spec.use_routes)
                practitioner: str | None = rng.choice(PRACTITIONERS)
                quantity: float | None = 1.0
                screening, contra = True, None
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
                if lot_defect == RECALL and k % 2 == 1:
                    notified = recall_date + timedelta(days=2)  # type: ignore[operator]
                admin_rows.append((
                    admin_id, lot_id, w.dt(at), patient, route, rng.choice(BODY_AREAS), quantity, 0.5,
                    practitioner, "Dermapen 4" if route in DEVICE_ASSISTED_ROUTES else None,
                    "IND 029417" if spec.needs_ind else None, w.b(screening), contra, w.d(notified),
                    w.b(False), now,
                ))
                if (flawed_admin and admin_defect == "AE-UNREPORTED") or rng.random() < 0.01:
                    ae_rows.append(self._adverse_event(ae_id, admin_id, day, spec, flawed_admin and
                                                       admin_defect == "AE-UNREPORTED"))
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
            lot_rows.append((
                lot_id, product_ids[index], self.site_id,
                None if lot_defect == "UNDOC-SUPPLIER" else rng.choice(supplier_ids),
                f"{spec.name[:2].upper()}{received:%y%m}-{number:06d}", w.d(expiry),
                w.d(received - timedelta(days=rng.randint(20, 90))), w.d(received), "Demo Pharmacist",
                received_qty, administered, 0.0, status,
                None if lot_defect == "UNDOC-RECEIPT" else round(rng.uniform(2.5, 7.5), 1), w.b(True),
                donor, coa_ref, labelled, w.dt(released_at), w.d(recall_date),
                "Supplier notice: particle count out of specification" if recall_date else None, now,
            ))
            results = self._results(spec, lot_defect, labelled)
            for row in results:
                result_rows.append((result_id, lot_id, *row, "manufacturer", f"COA-{number:06d}", now))
                result_id += 1
            facts = facts_of_results(lot_id, [(p, m, mk, v, res) for p, m, mk, v, _unit, res in results])
            if facts is not None:
                fact_rows.append(facts)
            if lot_defect == "USE-TEMPERATURE" or rng.random() < 0.02:
                resolved = lot_defect != "USE-TEMPERATURE" and (spec.compliant or rng.random() < 0.8)
                occurred = datetime.combine(received + timedelta(days=rng.randint(1, 10)), time(3, 10))
                exc_rows.append((exc_id, lot_id, w.dt(occurred), round(rng.uniform(9.0, 14.0), 1),
                                 rng.randint(20, 240), "Fridge door left ajar overnight",
                                 "use" if resolved else None,
                                 "Within manufacturer's stability data" if resolved else None,
                                 w.dt(occurred + timedelta(hours=8)) if resolved else None, now))
                exc_id += 1
            lot_id += 1
        w.insert("lot", (
            "id", "product_id", "site_id", "supplier_id", "lot_number", "expiry_date", "manufacture_date",
            "received_date", "received_by", "quantity_received", "quantity_administered", "quantity_destroyed",
            "status", "receipt_temperature_c", "package_intact", "donor_eligibility_ref", "coa_ref",
            "labelled_particles_per_ml", "released_at", "recall_date", "recall_reason", "created_at"), lot_rows)
        w.insert("characterization_result", (
            "id", "lot_id", "parameter", "method", "marker", "value", "unit", "result", "measured_by",
            "source_ref", "recorded_at"), result_rows)
        # The bulk path bypasses the ORM flush that keeps the lots' results facts: the facts of the new lots
        # were computed from their rows above (aggregating 800k rows again in SQL took longer than writing them).
        w.insert("lot_result_facts", FACT_COLUMNS, fact_rows)
        w.insert("administration", (
            "id", "lot_id", "administered_at", "patient_ref", "route", "body_areas", "quantity", "volume_ml",
            "practitioner", "device_procedure", "ind_reference", "screening_done", "contraindications",
            "patient_notified_on", "superseded", "recorded_at"), admin_rows)
        w.insert("document", ("id", "kind", "lot_id", "reference", "uploaded_at"), doc_rows)
        w.insert("temperature_excursion", (
            "id", "lot_id", "occurred_at", "reading_c", "duration_minutes", "notes", "resolution",
            "resolution_note", "resolved_at", "recorded_at"), exc_rows)
        w.insert("adverse_event", (
            "id", "administration_id", "event_type", "onset_date", "severity", "description", "report_status",
            "report_reference", "not_reportable_reason", "reported_on", "recorded_at"), ae_rows)
        return {
            "products": len(PRODUCTS), "lots": len(lot_rows), "characterization_results": len(result_rows),
            "administrations": len(admin_rows), "adverse_events": len(ae_rows),
            "temperature_excursions": len(exc_rows), "documents": len(doc_rows),
        }

    def _adverse_event(self, ae_id: int, admin_id: int, day: date, spec: DemoProduct,
                       unreported: bool) -> tuple[Any, ...]:
        w, rng = self.w, self.rng
        onset = day + timedelta(days=rng.randint(0, 3))
        recorded = datetime.combine(onset + timedelta(days=1), time(12, 0))
        kind = rng.choice(("erythema", "swelling", "bruising", "papule", "delayed_nodule_granuloma"))
        if unreported:
            recorded = datetime.combine(self.today - timedelta(days=30), time(12, 0))
            return (ae_id, admin_id, kind, w.d(onset), "moderate", "Persistent swelling at injection sites",
                    "not_reported", None, None, None, w.dt(recorded))
        if (self.today - recorded.date()).days <= 15 and not spec.compliant:
            return (ae_id, admin_id, kind, w.d(onset), "mild", "Transient redness", "not_reported", None, None,
                    None, w.dt(recorded))
        status = rng.choice(("reported_manufacturer", "reported_regulator", "not_reportable"))
        return (ae_id, admin_id, kind, w.d(onset), "mild", "Transient reaction, resolved", status,
                f"MW-{ae_id:06d}" if status == "reported_regulator" else (
                    f"MFR-{ae_id:06d}" if status == "reported_manufacturer" else None),
                "Expected, mild and self-limiting" if status == "not_reportable" else None,
                w.d(recorded.date() + timedelta(days=2)) if status != "not_reportable" else None, w.dt(recorded))

    def _results(self, spec: DemoProduct, defect: str | None,
                 labelled: float | None) -> list[tuple[Any, ...]]:
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
                ("marker", "western_blot", "calnexin", None, None,
                 "detected" if defect == "OOS-CONTAMINANT" else "not_detected"),
            ]
            if defect != "UNDOC-EV-CHARACTERIZATION":
                rows.append(("marker", "western_blot", rng.choice(("tsg101", "alix", "syntenin")), None, None,
                             "detected"))
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
                rows.append(("mycoplasma", "qpcr", None, None, None,
                             "positive" if defect == "OOS-MYCOPLASMA" else "negative"))
        return rows
