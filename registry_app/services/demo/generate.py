"""`registry-app demo`: fill a registry with realistic demo records, fast and reproducible for a seed.

The catalogue (demo_data.PRODUCTS) is small and inserted with the ORM; lots, characterization results,
administrations and the rest are built as tuples by demo_rows (in a second process for a large demo) and
written with the driver's bulk path (multi-row INSERTs on SQLite, COPY on PostgreSQL) by demo_writer, in the
one transaction of the service. The first lots are a fixed showcase that raises every rule of rules.md at
least once; the rest are drawn at random, with defects only on the products that are not compliant.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from multiprocessing.queues import Queue

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.domain import (
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
from registry_app.rules import table as flag_table
from registry_app.services import audit_records, site_scope
from registry_app.services.audit import AuditRecord, append, snapshot
from registry_app.services.auth import _insert_user
from registry_app.services.context import ADMIN, Actor, ServiceContext, changing, current_site
from registry_app.services.demo.data import DEMO_USERS, MANUFACTURERS, PRODUCTS, SUPPLIERS
from registry_app.services.demo.rows import TABLES, Chunk, DemoJob, DemoRows, QuickRandom, produce, shared_values
from registry_app.services.demo.writer import DemoWriter
from registry_app.services.errors import ConflictError, PermissionDenied, ValidationError

# Demo records include released, recalled and destroyed lots written without the lifecycle services: only an
# admin may put them into a registry, and only into an empty one (they would mix with real records).
DEMO_ROLES: tuple[str, ...] = ADMIN
MIN_LOTS = 40
MAX_LOTS = 2_000_000
SEPARATE_PROCESS_FROM = 20_000  # lots from which the rows are built in a second process (its start costs ~1 s)
PENDING_CHUNKS = 3  # chunks built ahead of the writer: bounds the memory held while the database catches up
_COUNTED = {
    "lot": "lots",
    "characterization_result": "characterization_results",
    "administration": "administrations",
    "adverse_event": "adverse_events",
    "temperature_excursion": "temperature_excursions",
    "document": "documents",
}


@dataclass(frozen=True)
class DemoSummary:
    counts: dict[str, int]
    seed: int
    demo_users: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, password)


def create_demo_users(ctx: ServiceContext) -> list[tuple[str, str, str]]:
    """On a registry with no users: one demo user per role with the documented passwords (is_demo).
    The context then acts as the demo admin (who alone may generate demo data). One audit entry."""
    with ctx.db.write() as session:
        if session.execute(select(func.count(User.id))).scalar_one():
            raise PermissionDenied("the registry has users already: sign in to generate demo data")
        users = [
            _insert_user(session, name, role, password, full_name, True)
            for name, role, password, full_name in DEMO_USERS
        ]
        append(
            session,
            users[0].id,
            users[0].username,
            AuditRecord(
                "create demo users",
                "user",
                None,
                before={},
                after={"users": [snapshot(u, exclude=("password_hash",)) for u in users]},
                reason="demo registry: fixed, documented passwords",
            ),
        )
    admin = next(u for u in users if u.role == ADMIN[0])
    ctx.actor = Actor(admin.id, admin.username, admin.role, admin.full_name)
    return [(name, role, password) for name, role, password, _ in DEMO_USERS]


def demo_accounts(db: Database) -> list[tuple[str, str, str]]:
    """(user name, role, documented password) of the active demo users still on their documented passwords,
    for the sign-in screen of a demo registry; empty on a real registry. Asked before anyone signs in: it
    names only the demo accounts the README publishes."""
    documented = {name: (role, password) for name, role, password, _ in DEMO_USERS}
    with db.read() as session:
        names = (
            session.execute(
                select(User.username).where(User.is_demo.is_(True), User.active.is_(True)).order_by(User.id)
            )
            .scalars()
            .all()
        )
    return [(name, *documented[name]) for name in names if name in documented]


def check_lot_count(lots: int) -> None:
    """Raises ValidationError unless the demo can show every rule with this many lots (and stays buildable)."""
    if not MIN_LOTS <= lots <= MAX_LOTS:
        raise ValidationError(f"give between {MIN_LOTS} and {MAX_LOTS} lots, so that every rule is shown", field="lots")


@changing("generate demo data", DEMO_ROLES)
def generate_demo(ctx: ServiceContext, lots: int = 200, seed: int = 1, today: date | None = None) -> DemoSummary:
    site_scope.require_group(ctx, "the demo registry")
    check_lot_count(lots)
    today = today or date.today()
    rows_process = RowProcess() if lots >= SEPARATE_PROCESS_FROM else None
    try:
        return _generate_demo(ctx, lots, seed, today, rows_process)
    finally:
        if rows_process:
            rows_process.close()


def _generate_demo(
    ctx: ServiceContext, lots: int, seed: int, today: date, rows_process: RowProcess | None
) -> DemoSummary:
    with ctx.db.write() as session:
        taken = session.execute(select(Product.name).limit(1)).scalar_one_or_none()
        if taken is not None:
            raise ConflictError(
                f"the registry is not empty (it holds products, e.g. {taken}): demo data goes only "
                "into an empty registry; create a new one for the demo"
            )
        builder = _DemoBuilder(session, QuickRandom(seed), today, current_site(session, ctx.site_code).id, rows_process)
        counts = builder.build(lots)
        # The rows went in without the ORM: the persisted flags are built from them once, before the commit.
        flag_table.touch_all(session)
        ctx.audit(
            session,
            AuditRecord(
                "generate demo data",
                "registry",
                None,
                before={},
                after={"seed": seed, "lots": lots, **counts},
                reason="demo records",
            ),
        )
    return DemoSummary(counts, seed)


class _DemoBuilder:
    def __init__(
        self, session: Session, rng: random.Random, today: date, site_id: int, rows_process: RowProcess | None
    ) -> None:
        self.session = session
        self.rows_process = rows_process
        self.rng = rng
        self.today = today
        self.site_id = site_id
        self.w = DemoWriter(session)
        self.now = utcnow()

    # -- catalogue ---------------------------------------------------------------------------------------
    def _catalogue(self) -> tuple[list[int], list[int]]:
        session = self.session
        makers: dict[str, int] = {}
        for key, (name, country) in MANUFACTURERS.items():
            existing = session.execute(select(Manufacturer).where(Manufacturer.name_key == name_key(name)))
            maker = existing.scalar_one_or_none() or Manufacturer(name=name, name_key=name_key(name), country=country)
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
                name=spec.name,
                name_key=name_key(spec.name),
                product_type=spec.product_type,
                manufacturer_id=makers[spec.manufacturer] if spec.manufacturer else None,
                presentation=spec.presentation,
                storage_form=spec.storage_form,
                unit=spec.unit,
                source=spec.source,
                source_description=spec.source_description,
                donor_use=spec.donor_use,
                isolation_method=spec.isolation_method,
                pn_species=spec.pn_species,
                **spec.spec,
            )
            session.add(product)
            session.flush()
            product_ids.append(product.id)
            for route in spec.labelled_routes:
                session.add(ProductRoute(product_id=product.id, route=route))
            for jurisdiction, (status, reference) in spec.statuses.items():
                session.add(
                    ProductRegulatoryStatus(
                        product_id=product.id,
                        jurisdiction=jurisdiction,
                        status=status,
                        reference=reference,
                        verified_on=self.today - timedelta(days=self.rng.randint(20, 200)),
                        verified_by="Demo Pharmacist" if reference else None,
                    )
                )
            session.add(Document(kind="ifu", product_id=product.id, reference=f"IFU-{product.id:03d}-rev2"))
            if spec.compliant:
                session.add(
                    Document(
                        kind="regulatory_certificate",
                        product_id=product.id,
                        reference=next(iter(spec.statuses.values()))[1],
                    )
                )
        session.flush()
        return product_ids, supplier_ids

    def build(self, lots: int) -> dict[str, int]:
        """Writes the catalogue, then `lots` lots with their records; returns the counts written."""
        product_ids, supplier_ids = self._catalogue()
        # Lower bounds of what is coming (8 results and 2 administrations a lot on average), so that SQLite
        # builds the plain indexes of these tables after the rows when they hold little so far.
        w = self.w
        job = DemoJob(
            lots,
            self.rng.getstate(),
            self.today,
            self.now,
            self.site_id,
            w.sqlite,
            product_ids,
            supplier_ids,
            {table: w.next_id(table) for table in TABLES if "id" in TABLES[table]},
        )
        counts = dict.fromkeys(_COUNTED.values(), 0)
        shared = shared_values(job)
        # The entry records the rows written in bulk, with the hashes the row builder computed (checked to
        # account for every new row; any other row would be read back).
        audit_records.note_inserts_from_here(self.session)
        with w.writing({"lot": lots, "characterization_result": 5 * lots, "administration": lots}):
            for chunk in self.rows_process.rows(job) if self.rows_process else DemoRows(job).chunks():
                for table, rows, digests in chunk:
                    w.insert(table, TABLES[table], rows, shared.get(table, {}))
                    if digests is not None:
                        audit_records.note_hashed_rows(self.session, table, [row[0] for row in rows], digests)
                    if table in _COUNTED:
                        counts[_COUNTED[table]] += len(rows)
        return {"products": len(PRODUCTS), **counts}


class RowProcess:
    """A second process that builds the demo's rows while this one stores the chunks already built: building
    rows (Python) and storing them (mostly the driver binding values) took about as long each, and a thread
    could not overlap them, both needing the interpreter's lock. Started before the catalogue is written, so
    that the child's imports (about a second) overlap with that."""

    def __init__(self) -> None:
        # spawn, not fork: a forked copy of a process running Qt and database connections is not safe to use.
        context = multiprocessing.get_context("spawn")
        self.jobs: Queue[DemoJob | None] = context.Queue(maxsize=1)
        self.chunks: Queue[Chunk | str | None] = context.Queue(maxsize=PENDING_CHUNKS)
        self.child = context.Process(
            target=produce, args=(self.jobs, self.chunks), name="registry-demo-rows", daemon=True
        )
        self.child.start()

    def rows(self, job: DemoJob) -> Iterator[Chunk]:
        self.jobs.put(job)
        while True:
            try:
                item = self.chunks.get(timeout=1.0)
            except queue.Empty:
                if not self.child.is_alive():
                    raise RuntimeError(f"the demo's row generator stopped (exit code {self.child.exitcode})") from None
                continue
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(f"the demo's row generator failed: {item}")
            yield item

    def close(self) -> None:
        if self.child.is_alive():
            self.jobs.put(None)  # a child still waiting for its job ends; one still building is stopped
            self.child.join(timeout=1)
        if self.child.is_alive():
            self.child.terminate()
        self.child.join(timeout=10)
        self.jobs.close()
        self.chunks.close()
