"""A large lot CSV imported as a pipeline: a second process reads and validates the file chunk by chunk
(importers/lot_chunks.py, no database) while this one plans and writes each chunk already checked, in the
import's one transaction. Reading and validating took about as long as writing, and a thread could not overlap
them (both need the interpreter's lock); the demo generator does the same (services/demo/).

Only new lots of a valid file take this path (no --update, no dry run, CSV, large, a regular file within the
registry's size limit, checked before the second process starts; that process reads the file under the same
limits, and its reader refuses too wide or too long a file as read_table does): the first problem found,
in a chunk or against the registry, stops the pipeline and rolls the transaction back, and the service then
imports the file in one piece, which lists every problem and writes nothing. What is written, and the audit
entry, are those of the one-piece import: the product details a file gives are merged chunk by chunk as
`plan_products` merges them over the whole file and completed once the last chunk is in, and every row written
in the transaction is recorded by the audit entry (audit_records.note_inserts_from_here before the first write).
"""

from __future__ import annotations

import multiprocessing
import queue
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from registry_app.db.bulk import sqlite_indexes_deferred, sqlite_page_cache
from registry_app.domain import CharacterizationResult, Lot, Manufacturer, Product, Supplier, name_key, utcnow
from registry_app.domain.base import table_of
from registry_app.domain.vocab import LotStatus, Role
from registry_app.importers.lot_chunks import ROWS_PER_CHUNK, FileRead, Job, produce_validated_chunks
from registry_app.importers.lot_rows import PRODUCT_FIELDS, ValidatedLots
from registry_app.importers.tabular import MAX_IMPORT_BYTES, TableError, check_regular_file
from registry_app.rules import table as flag_table
from registry_app.services import audit_records, site_scope
from registry_app.services.audit import AuditRecord
from registry_app.services.clock import site_today
from registry_app.services.context import ServiceContext, current_site
from registry_app.services.import_catalog import ProductPlan, ensure_names, name_ids, plan_products, write_products
from registry_app.services.import_common import Cancelled, ImportResult, Progress, chunks_of, expiry_warnings, id_ranges
from registry_app.services.import_writer import new_lots, write_new_lots
from registry_app.services.lots.receipt_checks import receipt_excursions, record_receipt_excursions

# From about 15,000 rows: below, starting the second process (about a second, overlapped with reading the
# file's digest) would cost more than the overlap saves.
PIPELINE_FROM_BYTES = 4_000_000
PENDING_CHUNKS = 3  # chunks validated ahead of the writer: bounds the memory held while the database catches up
RESULTS_PER_LOT = 3  # a lower bound, for building the results table's plain indexes after a big write


class GiveUp(Exception):
    """The pipeline stops (rolling back what it wrote): the file has a problem, or the validating process
    failed. The one-piece import then says what is wrong."""


def suits_pipeline(path: str | Path, dry_run: bool, update_: bool, max_bytes: int = MAX_IMPORT_BYTES) -> bool:
    """Whether the file takes the pipeline: only a large CSV of new lots that is a regular file within
    `max_bytes` (the registry's limit). Checked from os.stat alone: a FIFO, a device or an oversized file never
    starts a process, and the one-piece import refuses it with its one line."""
    path = Path(path)
    if dry_run or update_ or path.suffix.lower() not in (".csv", ".txt"):
        return False
    try:
        return check_regular_file(path, max_bytes) >= PIPELINE_FROM_BYTES
    except (TableError, OSError):
        return False


class ValidatingProcess:
    """The second process: validates the file's chunks in order and hands them over through a bounded queue."""

    def __init__(self) -> None:
        # spawn, not fork: a forked copy of a process running Qt and database connections is not safe to use.
        context = multiprocessing.get_context("spawn")
        self.jobs: Queue[Job | None] = context.Queue(maxsize=1)
        self.out: Queue[FileRead | ValidatedLots | str | None] = context.Queue(maxsize=PENDING_CHUNKS)
        self.child = context.Process(
            target=produce_validated_chunks, args=(self.jobs, self.out), name="registry-import-validate", daemon=True
        )
        self.child.start()

    def send(self, path: Path, today: date, rows_per_chunk: int, max_bytes: int) -> None:
        """Hand the process its file (once): it starts reading (a regular file of at most `max_bytes`, checked
        again as it opens it) and validating straight away."""
        self.jobs.put(Job(path, today, rows_per_chunk, max_bytes))

    def receive(self) -> tuple[FileRead, Iterator[ValidatedLots]]:
        """What the process read of its file, and the validated chunks as they come."""
        read = self._next()
        if not isinstance(read, FileRead):
            raise GiveUp("the validating process did not read the file")
        return read, self._chunks()

    def _chunks(self) -> Iterator[ValidatedLots]:
        while (item := self._next()) is not None:
            if not isinstance(item, ValidatedLots):
                raise GiveUp("the validating process sent something else than a chunk")
            yield item

    def _next(self) -> FileRead | ValidatedLots | None:
        while True:
            try:
                item = self.out.get(timeout=1.0)
            except queue.Empty:
                if not self.child.is_alive():
                    raise GiveUp(f"the validating process stopped (exit code {self.child.exitcode})") from None
                continue
            if isinstance(item, str):
                raise GiveUp(item)
            return item

    def close(self) -> None:
        if self.child.is_alive():
            self.jobs.put(None)  # a child still waiting for its file ends; one still validating is stopped
            self.child.join(timeout=1)
        if self.child.is_alive():
            self.child.terminate()
        self.child.join(timeout=10)
        self.jobs.close()
        self.out.close()


def _started() -> ValidatingProcess | None:
    """A new validating process, or None where none can be started (a sandbox, a frozen program without
    multiprocessing's support): the import then runs in one piece."""
    try:
        return ValidatingProcess()
    except (OSError, RuntimeError):
        return None


class ValidationAhead:
    """A validating process started before the import service is called: the command line starts it before the
    sign-in's deliberately slow password check, which the process's start and first chunk then overlap. Used
    by the first import of its file; a retried import (the database was busy) starts a process of its own."""

    def __init__(self, path: Path, process: ValidatingProcess, max_bytes: int) -> None:
        self.path = path
        self.process: ValidatingProcess | None = process
        self.max_bytes = max_bytes

    def take(self, path: Path, max_bytes: int) -> ValidatingProcess | None:
        """The process, for an import of its file under a size limit no lower than the one it reads under."""
        if path != self.path or self.max_bytes > max_bytes:
            return None
        process, self.process = self.process, None
        return process

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None


@contextmanager
def validating_ahead(
    path: str | Path, dry_run: bool = False, update_: bool = False, max_bytes: int = MAX_IMPORT_BYTES
) -> Iterator[ValidationAhead | None]:
    """Start validating a file that suits the pipeline now, for an import_lots(..., ahead=) inside the block
    (None when the file does not suit it: `max_bytes` is the registry's size limit, which the file is checked
    against before the process starts). The process ends with the block."""
    if not suits_pipeline(path, dry_run, update_, max_bytes):
        yield None
        return
    process = _started()
    if process is None:
        yield None
        return
    process.send(Path(path), date.today(), ROWS_PER_CHUNK, max_bytes)
    ahead = ValidationAhead(Path(path), process, max_bytes)
    try:
        yield ahead
    finally:
        ahead.close()


def import_lots_in_pipeline(
    ctx: ServiceContext,
    path: Path,
    progress: Progress | None,
    ahead: ValidationAhead | None = None,
    max_bytes: int = MAX_IMPORT_BYTES,
) -> ImportResult | None:
    """Import a large CSV of new lots; None when the file is to be imported in one piece instead (nothing
    written). `max_bytes`: the registry's size limit, which the caller checked with suits_pipeline."""
    process = ahead.take(path, max_bytes) if ahead is not None else None
    if process is None:
        process = _started()
        if process is None:
            return None
        process.send(path, site_today(ctx), ROWS_PER_CHUNK, max_bytes)
    result = ImportResult("lots", path.name, "", 0)
    try:
        # The digest is of the bytes the other process validates, read once: the audit entry names what was
        # imported even if the file changes meanwhile.
        read, chunks = process.receive()
        result.sha256 = read.sha256
        writer = _ChunkWriter(ctx, result, progress, max(read.lines - 1, 1))
        with ctx.db.write() as session:
            writer.write(session, chunks)
    except GiveUp:
        return None
    except Cancelled:
        return ImportResult("lots", path.name, result.sha256, result.rows, cancelled=True)
    finally:
        process.close()
    if progress is not None:
        progress(max(2 * result.rows, 1), max(2 * result.rows, 1))
    return result


class _ChunkWriter:
    """Plans and writes the validated chunks as they come, then completes the products and writes the audit
    entry; raises GiveUp at the first row the one-piece import would reject."""

    def __init__(self, ctx: ServiceContext, result: ImportResult, progress: Progress | None, expected_rows: int):
        self.ctx = ctx
        self.result = result
        self.progress = progress
        self.expected_rows = expected_rows
        self.validated = self.written = 0
        self.pharmacist = ctx.actor is not None and ctx.actor.role == Role.PHARMACIST
        self.site_id = 0  # the site the lots are written at, set when writing starts

    def report(self) -> None:
        total = 2 * max(self.expected_rows, self.validated)
        if self.progress is not None and self.progress(self.validated + self.written, total) is False:
            raise Cancelled

    def write(self, session: Session, chunks: Iterator[ValidatedLots]) -> None:
        result, now = self.result, utcnow()
        batch = result.batch = uuid.uuid4().hex
        site = current_site(session, self.ctx.site_code)
        self.site_id = site.id
        products = {
            key: (pid, ptype)
            for key, pid, ptype in session.execute(select(Product.name_key, Product.id, Product.product_type))
        }
        registered = set(products)  # products before this import; `products` grows as it creates them
        registered_lots: set[tuple[int, str]] = set()
        looked_up: set[int] = set()
        suppliers = name_ids(session, Supplier)
        plans: dict[str, ProductPlan] = {}
        created_with: dict[str, dict[str, Any]] = {}  # product key -> the fields it was created with
        new_suppliers: list[int] = []
        lot_ids: list[int] = []
        received: list[Any] = []
        readings: list[Any] = []
        lot_products: list[str] = []
        results = 0
        connection = session.connection()
        # Every row inserted from here on (products, names, lots, results, excursions: all below the ORM) goes
        # into the import's audit entry, as in the one-piece import.
        audit_records.note_inserts_from_here(session)
        hashed = audit_records.RowHashes()
        with ExitStack() as stack:
            stack.callback(sqlite_page_cache(connection, min(256 * 1024, max(2048, self.expected_rows))))
            stack.enter_context(sqlite_indexes_deferred(connection, table_of(Lot), self.expected_rows))
            stack.enter_context(
                sqlite_indexes_deferred(
                    connection, table_of(CharacterizationResult), RESULTS_PER_LOT * self.expected_rows
                )
            )
            for chunk in chunks:
                self.validated += chunk.total_rows
                result.rows += chunk.total_rows
                if chunk.errors:
                    raise GiveUp("a row has errors")
                chunk_plans = plan_products(chunk, site.jurisdiction, False)
                self._check_against_registry(
                    session, chunk, chunk_plans, products, registered, registered_lots, looked_up
                )
                result.warnings += expiry_warnings(chunk)
                _merge_plans(plans, chunk_plans)
                self._create_products(session, chunk_plans, products, created_with, now)
                wanted_suppliers: dict[str, dict[str, Any]] = {}
                for name in dict.fromkeys(chunk.columns.get("supplier", ())):
                    if name is not None:
                        wanted_suppliers.setdefault(name_key(name), {"name": " ".join(name.split())})
                new_suppliers += ensure_names(session, Supplier, wanted_suppliers, suppliers, now)
                new = new_lots(chunk, None, {})
                written_before = self.written

                def after_chunk(done: int, base: int = written_before) -> None:
                    self.written = base + done
                    self.report()

                ids, count = write_new_lots(
                    connection, new, products, suppliers, site.id, batch, now, after_chunk, hashed
                )
                hashed.note(session)  # the chunk's new lots and results, hashed from the values written
                self.written = written_before + len(new)
                self.report()
                results += count
                lot_ids += ids
                lot_products += new.product_keys
                if "receipt_temperature_c" in new.columns:
                    received += new.columns["received_date"]
                    readings += new.columns["receipt_temperature_c"]
            manufacturers = name_ids(session, Manufacturer)
            new_manufacturers = ensure_names(
                session,
                Manufacturer,
                {
                    name_key(p.manufacturer): {
                        "name": " ".join(p.manufacturer.split()),
                        "extra": {"country": p.manufacturer_country},
                    }
                    for p in plans.values()
                    if p.manufacturer
                },
                manufacturers,
                now,
            )
            _complete_created_products(session, plans, products, created_with, manufacturers)
            products_before, products_after, _ = write_products(session, plans, products, manufacturers, now, False)
        # Written without the ORM: the persisted flags of what changed are brought up to date before the commit,
        # as in the one-piece import (services/imports.py).
        flag_table.touch(session, "product", (products[key][0] for key in plans))
        flag_table.touch(session, "product", (int(pid) for pid in products_before), dependents=True)
        if lot_ids:
            flag_table.touch_range(session, "lot", min(lot_ids), max(lot_ids))
        after: dict[str, Any] = {
            "file_name": result.file_name,
            "sha256": result.sha256,
            "rows": result.rows,
            "batch": batch,
            "update": False,
        }
        before: dict[str, Any] = {}
        result.products_updated = len(products_before)
        if products_before:
            before["products"], after["products_changed"] = products_before, products_after
        after["products_created"] = id_ranges(products[key][0] for key in plans if key not in registered)
        after["manufacturers_created"], after["suppliers_created"] = (
            id_ranges(new_manufacturers),
            id_ranges(new_suppliers),
        )
        after["lots_created"] = id_ranges(lot_ids)
        if readings:
            form_of_product = dict(session.execute(select(Product.id, Product.storage_form)).all())
            forms = {
                lot_id: form_of_product.get(products[key][0]) for lot_id, key in zip(lot_ids, lot_products, strict=True)
            }
            found = receipt_excursions(zip(lot_ids, received, readings, strict=True), forms)
            if found:
                after["excursions_opened_on_lots"] = id_ranges(item.lot_id for item in found)
            result.excursions_opened = record_receipt_excursions(connection, found, now)
        result.accepted = result.created = len(lot_ids)
        result.results_created = results
        result.products_created = len(products) - len(registered)
        result.manufacturers_created, result.suppliers_created = len(new_manufacturers), len(new_suppliers)
        after.update(lots_created_count=len(lot_ids), lots_updated_count=0, results_created=results)
        self.ctx.audit(session, AuditRecord("import lots", "import", batch, before=before, after=after))

    def _check_against_registry(
        self,
        session: Session,
        chunk: ValidatedLots,
        chunk_plans: dict[str, ProductPlan],
        products: dict[str, tuple[int, str]],
        registered: set[str],
        registered_lots: set[tuple[int, str]],
        looked_up: set[int],
    ) -> None:
        """GiveUp where the one-piece import lists an error: a product registered as another type, a lot
        already registered, a status a pharmacist may not give."""
        for key, plan in chunk_plans.items():
            known = products.get(key)
            if known is not None and known[1] != plan.product_type:
                raise GiveUp("a product is registered as another type")
        unseen = [products[key][0] for key in chunk_plans if key in registered and products[key][0] not in looked_up]
        for ids in chunks_of(unseen, 500):
            registered_lots.update(
                session.execute(
                    select(Lot.product_id, Lot.lot_number).where(
                        Lot.product_id.in_(ids), *site_scope.held_at(self.site_id)
                    )
                )
            )
        looked_up.update(unseen)
        if registered_lots:
            pid_of = {key: products[key][0] for key in chunk_plans if key in registered}
            for key, number in zip(chunk.product_keys, chunk.columns["lot_number"], strict=True):
                if key in pid_of and (pid_of[key], number) in registered_lots:
                    raise GiveUp("a lot is already registered")
        if self.pharmacist and set(chunk.column("status")) - {None, LotStatus.QUARANTINE.value}:
            raise GiveUp("a pharmacist imports new lots in quarantine only")

    @staticmethod
    def _create_products(
        session: Session,
        chunk_plans: dict[str, ProductPlan],
        products: dict[str, tuple[int, str]],
        created_with: dict[str, dict[str, Any]],
        now: Any,
    ) -> None:
        """The products this chunk names first, with the details given so far (completed at the end)."""
        fresh = [plan for key, plan in chunk_plans.items() if key not in products]
        if not fresh:
            return
        rows = []
        for plan in fresh:
            fields = {name: plan.fields.get(name) for name in PRODUCT_FIELDS}
            created_with[plan.key] = {**fields, "manufacturer_id": None}
            rows.append({**fields, "name": plan.name, "name_key": plan.key, "manufacturer_id": None, "created_at": now})
        session.execute(insert(Product), rows)
        products.update(
            (key, (pid, ptype))
            for key, pid, ptype in session.execute(
                select(Product.name_key, Product.id, Product.product_type).where(
                    Product.name_key.in_([plan.key for plan in fresh])
                )
            )
        )


def _merge_plans(plans: dict[str, ProductPlan], chunk_plans: dict[str, ProductPlan]) -> None:
    """Fold a later chunk's product plans into the file's so far, as plan_products would over both: the first
    value given wins, routes add up, a jurisdiction's first status stays."""
    for key, later in chunk_plans.items():
        plan = plans.get(key)
        if plan is None:
            plans[key] = later
            continue
        for name, value in later.fields.items():
            plan.fields.setdefault(name, value)
        if plan.manufacturer is None and later.manufacturer is not None:
            plan.manufacturer, plan.manufacturer_country = later.manufacturer, later.manufacturer_country
        plan.routes.update(later.routes)
        for where, status in later.statuses.items():
            plan.statuses.setdefault(where, status)


def _complete_created_products(
    session: Session,
    plans: dict[str, ProductPlan],
    products: dict[str, tuple[int, str]],
    created_with: dict[str, dict[str, Any]],
    manufacturers: dict[str, int],
) -> None:
    """Give the products this import created the details later chunks gave, and their manufacturer, so that
    they are as the one-piece import creates them (and write_products finds nothing to change in them)."""
    for key, fields in created_with.items():
        plan = plans[key]
        wanted = {name: plan.fields.get(name) for name in PRODUCT_FIELDS}
        wanted["manufacturer_id"] = manufacturers[name_key(plan.manufacturer)] if plan.manufacturer else None
        changed = {name: value for name, value in wanted.items() if fields.get(name) != value}
        if changed:
            session.execute(update(Product).where(Product.id == products[key][0]).values(**changed))
