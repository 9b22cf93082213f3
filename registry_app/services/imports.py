"""Import use cases: a clinic's lot spreadsheet and treatment log (shared/formats/lot-import.md).

All-or-nothing: the whole file is validated (cells first, then against the registry) before anything is
written, and the writing happens in one transaction that a cancel or any failure rolls back. One audit entry
records the import (file name, SHA-256, row count, the ids created and the values changed); the records are
written with bulk inserts, since an import may hold years of history.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.orm import Session

from registry_app.db.bulk import sqlite_page_cache
from registry_app.domain import (
    Administration,
    CharacterizationResult,
    Lot,
    Manufacturer,
    Product,
    Supplier,
    name_key,
    refresh_lot_result_facts,
    utcnow,
)
from registry_app.domain.base import table_of
from registry_app.domain.exact import Exact, exact_sql
from registry_app.domain.vocab import LotStatus, Role
from registry_app.importers.administration_rows import AdministrationRow, validate_administrations
from registry_app.importers.lot_rows import LotImportRow, ValidatedLots, validate_lots
from registry_app.importers.tabular import RowError
from registry_app.rules import table as flag_table
from registry_app.services import audit_records, site_scope
from registry_app.services.audit import AuditRecord
from registry_app.services.clock import site_today
from registry_app.services.context import STAFF, ServiceContext, changing, current_site
from registry_app.services.import_catalog import ProductPlan, ensure_names, name_ids, plan_products, write_products
from registry_app.services.import_common import ERROR_LINES_SHOWN as ERROR_LINES_SHOWN
from registry_app.services.import_common import IMPORT_MAX_BYTES_KEY as IMPORT_MAX_BYTES_KEY
from registry_app.services.import_common import Cancelled as _Cancelled
from registry_app.services.import_common import ImportResult as ImportResult
from registry_app.services.import_common import Progress as Progress
from registry_app.services.import_common import Reporter as _Reporter
from registry_app.services.import_common import bulk_insert_rows as _bulk_insert
from registry_app.services.import_common import chunks_of as _chunks
from registry_app.services.import_common import cyclic_gc_paused as _cyclic_gc_paused
from registry_app.services.import_common import expiry_warnings as _expiry_warnings
from registry_app.services.import_common import id_ranges as id_ranges
from registry_app.services.import_common import import_size_limit as import_size_limit
from registry_app.services.import_common import read_import_file as _read
from registry_app.services.import_common import registry_size_limit as registry_size_limit  # for the command line
from registry_app.services.import_pipeline import (
    ValidationAhead,
    import_lots_in_pipeline,
    suits_pipeline,
)
from registry_app.services.import_pipeline import validating_ahead as validating_ahead  # for the command line
from registry_app.services.import_writer import NewLots, new_lots, write_new_lots
from registry_app.services.lots.receipt_checks import receipt_excursions, record_receipt_excursions
from registry_app.services.privacy import patient_ref_pattern, patient_ref_problem

_LOT_TABLE = table_of(Lot)
_RESULT_TABLE = table_of(CharacterizationResult)


# ---- lots ------------------------------------------------------------------------------------------------


@changing("import lots", STAFF)
def import_lots(
    ctx: ServiceContext,
    path: str | Path,
    dry_run: bool = False,
    update: bool = False,
    progress: Progress | None = None,
    ahead: ValidationAhead | None = None,
) -> ImportResult:
    """Import a lot file (CSV or XLSX). With `update`, rows for lots already in the registry change them
    (only the cells given); without it such rows are rejected as duplicates. `progress(done, total)` may
    return False to cancel, which writes nothing. `ahead`: the file's validation, started earlier with
    `validating_ahead`."""
    with _cyclic_gc_paused():
        return _import_lots(ctx, path, dry_run, update, progress, ahead)


def _import_lots(
    ctx: ServiceContext,
    path: str | Path,
    dry_run: bool,
    update: bool,
    progress: Progress | None,
    ahead: ValidationAhead | None,
) -> ImportResult:
    # The limits come first: only a regular file within the registry's size limit takes the pipeline, so a
    # FIFO, a device or an oversized file is refused by the one-piece read below before any process starts.
    max_bytes = registry_size_limit(ctx)
    if suits_pipeline(path, dry_run, update, max_bytes):
        pipelined = import_lots_in_pipeline(ctx, Path(path), progress, ahead, max_bytes)
        if pipelined is not None:
            return pipelined
        # The file has a problem (or the second process failed), and nothing was written: the import in one
        # piece lists every problem.
    path, digest, table = _read(ctx, path)
    result = ImportResult("lots", path.name, digest, len(table.rows), dry_run=dry_run)
    reporter = _Reporter(progress, len(table.rows))
    checked = validate_lots(table, site_today(ctx), update=update, progress=reporter.validating)
    if checked.total_rows == -1:
        result.cancelled = True
        return result
    result.errors = checked.errors
    if result.errors:
        if len(checked):
            # The valid rows are still checked against the registry (a read, nothing written), so that every
            # rejected row is listed at once rather than one kind of problem per attempt.
            with ctx.db.read() as session:
                _import_lots_in(ctx, session, checked, result, update, reporter)
        result.errors.sort()
        return result
    opener = ctx.db.read if dry_run else ctx.db.write
    try:
        with opener() as session:
            _import_lots_in(ctx, session, checked, result, update, reporter)
    except _Cancelled:
        result.cancelled = True
        result.created = result.updated = result.accepted = 0
        return result
    reporter.finish()
    return result


def _import_lots_in(
    ctx: ServiceContext, session: Session, lots: ValidatedLots, result: ImportResult, update_: bool, reporter: _Reporter
) -> None:
    site = current_site(session, ctx.site_code)
    plans = plan_products(lots, site.jurisdiction, update_)
    products = {
        key: (pid, ptype)
        for key, pid, ptype in session.execute(select(Product.name_key, Product.id, Product.product_type))
    }
    errors = result.errors
    for plan in plans.values():
        known = products.get(plan.key)
        if known is not None and known[1] != plan.product_type:
            errors.append(
                RowError(plan.row, "product_type", f"{plan.name} is registered as {known[1]}, not {plan.product_type}")
            )
    existing_ids = [pid for key, (pid, _) in products.items() if key in plans]
    # The lots of this site: another site of the group may hold the same lot (migration 0011), which is its own.
    existing_lots: dict[tuple[int, str], int] = {}
    existing_status: dict[int, str] = {}
    for chunk in _chunks(existing_ids, 500):
        for found_id, pid, number, status in session.execute(
            select(Lot.id, Lot.product_id, Lot.lot_number, Lot.status).where(
                Lot.product_id.in_(chunk), *site_scope.held_at(site.id)
            )
        ):
            existing_lots[(pid, number)] = found_id
            existing_status[found_id] = status
    statuses = lots.column("status")
    _check_new_lot_statuses(ctx, lots, statuses, existing_lots, products, errors)
    updates: dict[int, LotImportRow] = {}
    positions: list[int] | None = None  # None: every row of the file is a new lot, given once
    merged: dict[int, LotImportRow] = {}
    if existing_lots or update_:
        positions = []
        first: dict[tuple[str, str], int] = {}
        lot_numbers = lots.columns["lot_number"]
        for position, (key, number) in enumerate(zip(lots.product_keys, lot_numbers, strict=True)):
            known = products.get(key)
            lot_id = existing_lots.get((known[0], number)) if known else None
            if lot_id is not None:
                if not update_:
                    errors.append(
                        RowError(
                            lots.numbers[position],
                            "lot_number",
                            f"{number} of "
                            f"{lots.columns['product_name'][position]} is already in the registry: "
                            "use --update to change it",
                        )
                    )
                elif (wanted := statuses[position]) is not None and wanted != existing_status[lot_id]:
                    errors.append(
                        RowError(
                            lots.numbers[position],
                            "status",
                            _STATUS_CHANGE.format(number=number, current=existing_status[lot_id], wanted=wanted),
                        )
                    )
                elif lot_id in updates:
                    updates[lot_id].values.update(lots.row_at(position).values)  # a later row corrects
                else:
                    updates[lot_id] = lots.row_at(position)
            elif (earlier := first.setdefault((key, number), position)) != position:
                if earlier not in merged:
                    merged[earlier] = lots.row_at(earlier)
                merged[earlier].values.update(lots.row_at(position).values)
            else:
                positions.append(position)
    if errors:
        errors.sort()
        return
    result.warnings = _expiry_warnings(lots)
    new = new_lots(lots, positions, merged)
    result.accepted = len(lots)
    result.created = len(new)
    result.updated = len(updates)
    result.products_created = sum(1 for key in plans if key not in products)
    if result.dry_run:
        return
    connection = session.connection()
    # The lot indexes are written all over the page cache; enough cache keeps them from being re-read.
    restore_cache = sqlite_page_cache(connection, min(256 * 1024, max(2048, len(new))))
    try:
        _write_lots(ctx, session, site.id, plans, products, new, updates, result, update_, reporter)
    finally:
        restore_cache()


# A lot's status changes only through the lifecycle services (release, reject, recall, destroy), which check
# the role, take a signature where the rules ask for one and say why in the audit trail. An import may only
# give the status a lot arrives with, and a pharmacist (who may not release) only quarantine.
_STATUS_CHANGE = (
    "{number} is {current} in the registry; an import does not change a lot's status (to {wanted}): "
    "use release, reject, recall or destroy, or leave the status cell empty"
)
_PHARMACIST_STATUSES = frozenset({LotStatus.QUARANTINE.value})


def _check_new_lot_statuses(
    ctx: ServiceContext,
    lots: ValidatedLots,
    statuses: list[Any],
    existing_lots: dict[tuple[int, str], int],
    products: dict[str, tuple[int, str]],
    errors: list[RowError],
) -> None:
    if ctx.actor is None or ctx.actor.role != Role.PHARMACIST:
        return
    numbers = lots.columns["lot_number"]
    for position, status in enumerate(statuses):
        if status is None or status in _PHARMACIST_STATUSES:
            continue
        known = products.get(lots.product_keys[position])
        if known is not None and (known[0], numbers[position]) in existing_lots:
            continue  # an existing lot's row: the status-change check above speaks for it
        errors.append(
            RowError(
                lots.numbers[position],
                "status",
                f"a pharmacist imports new lots in quarantine "
                f"only, not {status}: a medical director releases them (or imports them as {status})",
            )
        )


def _write_lots(
    ctx: ServiceContext,
    session: Session,
    site_id: int,
    plans: dict[str, ProductPlan],
    products: dict[str, tuple[int, str]],
    new: NewLots,
    updates: dict[int, LotImportRow],
    result: ImportResult,
    update_: bool,
    reporter: _Reporter,
) -> None:
    now = utcnow()
    batch = uuid.uuid4().hex
    result.batch = batch
    before: dict[str, Any] = {}
    after: dict[str, Any] = {
        "file_name": result.file_name,
        "sha256": result.sha256,
        "rows": result.rows,
        "batch": batch,
        "update": update_,
    }
    connection = session.connection()
    audit_records.note_inserts_from_here(session)  # the rows written below the ORM go into the entry's records

    manufacturers = name_ids(session, Manufacturer)
    wanted_m = {
        name_key(p.manufacturer): {
            "name": " ".join(p.manufacturer.split()),
            "extra": {"country": p.manufacturer_country},
        }
        for p in plans.values()
        if p.manufacturer
    }
    new_m = ensure_names(session, Manufacturer, wanted_m, manufacturers, now)
    suppliers = name_ids(session, Supplier)
    supplier_names = [name for name in dict.fromkeys(new.columns.get("supplier", ())) if name is not None]
    supplier_names += [row.values["supplier"] for row in updates.values() if "supplier" in row.values]
    wanted_s: dict[str, dict[str, Any]] = {}
    for name in supplier_names:
        wanted_s.setdefault(name_key(name), {"name": " ".join(name.split())})
    new_s = ensure_names(session, Supplier, wanted_s, suppliers, now)
    result.manufacturers_created, result.suppliers_created = len(new_m), len(new_s)

    products_before, products_after, known_keys = write_products(session, plans, products, manufacturers, now, update_)
    result.products_updated = len(products_before)
    if products_before:
        before["products"], after["products_changed"] = products_before, products_after
    after["products_created"] = id_ranges(
        pid for key, (pid, _) in products.items() if key in plans and key not in known_keys
    )
    after["manufacturers_created"], after["suppliers_created"] = id_ranges(new_m), id_ranges(new_s)

    hashed = audit_records.RowHashes()  # the new rows' hashes, from the values written (nothing read back)
    lot_ids, results_created = write_new_lots(
        connection, new, products, suppliers, site_id, batch, now, reporter.writing, hashed
    )
    hashed.note(session)
    # Written without the ORM: the persisted flags of what changed are brought up to date before the commit.
    # The products of the file, and the lots' and uses' flags of those it changed; the new lots (consecutive
    # ids above every existing one) as one range.
    flag_table.touch(session, "product", (pid for key, (pid, _) in products.items() if key in plans))
    flag_table.touch(session, "product", (int(pid) for pid in products_before), dependents=True)
    if len(lot_ids):
        flag_table.touch_range(session, "lot", min(lot_ids), max(lot_ids))
    after["lots_created"] = id_ranges(lot_ids)
    if updates:
        update_results: list[dict[str, Any]] = []
        lots_before, lots_after = _update_lots(session, updates, suppliers, now, update_results, batch)
        before["lots"], after["lots_changed"] = lots_before, lots_after
        reporter.writing(len(new) + len(updates))
        _bulk_insert(session, _RESULT_TABLE, update_results)
        results_created += len(update_results)
        # The bulk path bypasses the ORM flush that keeps the lots' results facts: the lots given new results
        # by --update are refreshed from the table (a result is voided only when another replaces it, so these
        # are all the lots whose results changed).
        changed = {item["lot_id"] for item in update_results}
        if changed:
            refresh_lot_result_facts(connection, changed)
            flag_table.touch(session, "lot", changed)
    result.excursions_opened = _open_receipt_excursions(session, new, lot_ids, products, after, now)
    result.results_created = results_created
    after.update(lots_created_count=len(lot_ids), lots_updated_count=len(updates), results_created=results_created)
    ctx.audit(session, AuditRecord("import lots", "import", batch, before=before, after=after))
    reporter.writing(len(new) + len(updates))


def _open_receipt_excursions(
    session: Session,
    new: NewLots,
    lot_ids: Any,
    products: dict[str, tuple[int, str]],
    after: dict[str, Any],
    now: datetime,
) -> int:
    """Ruling 2: the new lots (and lots whose receipt temperature --update gives) received outside their
    product's storage range get an open excursion, as a receipt at the desktop does."""
    readings = new.columns.get("receipt_temperature_c")
    # An updated lot counts only when the update changed its reading: the same reading again is not a new
    # excursion.
    changed = [int(lot_id) for lot_id, diff in after.get("lots_changed", {}).items() if "receipt_temperature_c" in diff]
    if readings is None and not changed:
        return 0
    form_of_product = dict(session.execute(select(Product.id, Product.storage_form)).all())
    forms = {
        lot_id: form_of_product.get(products[key][0]) for lot_id, key in zip(lot_ids, new.product_keys, strict=True)
    }
    received: list[tuple[int, date | None, Any]] = []
    if readings is not None:
        received += zip(lot_ids, new.columns["received_date"], readings, strict=True)
    for lot_id in changed:
        lot = session.get(Lot, lot_id)
        assert lot is not None
        forms[lot_id] = form_of_product.get(lot.product_id)
        received.append((lot_id, lot.received_date, lot.receipt_temperature_c))
    found = receipt_excursions(received, forms)
    if found:
        after["excursions_opened_on_lots"] = id_ranges(item.lot_id for item in found)
    return record_receipt_excursions(session.connection(), found, now)


def _update_lots(
    session: Session,
    updates: dict[int, LotImportRow],
    suppliers: dict[str, int],
    now: datetime,
    results: list[dict[str, Any]],
    batch: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply --update rows: only the cells given change; results given replace the current result of the
    same parameter (and marker), which is voided, unless they are identical."""
    lot_before: dict[str, Any] = {}
    lot_after: dict[str, Any] = {}
    for lot_id, row in updates.items():
        lot = session.get(Lot, lot_id)
        assert lot is not None
        wanted = row.lot_fields()
        if "supplier" in row.values:
            wanted["supplier_id"] = suppliers[name_key(row.values["supplier"])]
        diff_before, diff_after = {}, {}
        for name, value in wanted.items():
            if getattr(lot, name) != value:
                diff_before[name], diff_after[name] = getattr(lot, name), value
                setattr(lot, name, value)
        if diff_after:
            lot_before[str(lot_id)], lot_after[str(lot_id)] = diff_before, diff_after
    current: dict[tuple[int, str, str | None], list[tuple[int, Any, Any, Any, Any]]] = defaultdict(list)
    for chunk in _chunks(list(updates), 500):
        for rid, lot_id, parameter, marker, value, result, method, measured_by in session.execute(
            select(
                CharacterizationResult.id,
                CharacterizationResult.lot_id,
                CharacterizationResult.parameter,
                CharacterizationResult.marker,
                CharacterizationResult.value,
                CharacterizationResult.result,
                CharacterizationResult.method,
                CharacterizationResult.measured_by,
            ).where(CharacterizationResult.lot_id.in_(chunk), CharacterizationResult.voided_at.is_(None))
        ):
            current[(lot_id, parameter, marker)].append((rid, value, result, method, measured_by))
    voids: list[dict[str, Any]] = []
    for lot_id, row in updates.items():
        for item in row.results():
            same_kind = current.get((lot_id, item["parameter"], item["marker"]), [])
            signature = (item["value"], item["result"], item["method"], item["measured_by"])
            if any(old[1:] == signature for old in same_kind):
                continue
            voids.extend({"b_id": old[0]} for old in same_kind)
            if same_kind:
                lot_before.setdefault(str(lot_id), {})[f"result_{item['parameter']}_{item['marker'] or ''}"] = [
                    {"value": old[1], "result": old[2], "method": old[3]} for old in same_kind
                ]
            item.update(lot_id=lot_id, recorded_at=now, document_id=None, voided_at=None, void_reason=None)
            results.append(item)
            lot_after.setdefault(str(lot_id), {})[f"result_{item['parameter']}_{item['marker'] or ''}"] = {
                "value": item["value"],
                "result": item["result"],
                "method": item["method"],
            }
    if voids:
        audit_records.note_rows(session, _RESULT_TABLE, (void["b_id"] for void in voids))
        session.execute(
            update(_RESULT_TABLE)
            .where(_RESULT_TABLE.c.id == bindparam("b_id"))
            .values(voided_at=now, void_reason=f"replaced by import {batch}"),
            voids,
        )
    session.flush()
    return lot_before, lot_after


# ---- administrations --------------------------------------------------------------------------------------


@changing("import administrations", STAFF)
def import_administrations(
    ctx: ServiceContext, path: str | Path, dry_run: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Import a treatment log. Rows are history: recorded even when they break a rule (the flag rules report
    them), and each adds its quantity to the lot's quantity administered."""
    with _cyclic_gc_paused():
        return _import_administrations(ctx, path, dry_run, progress)


def _import_administrations(
    ctx: ServiceContext, path: str | Path, dry_run: bool, progress: Progress | None
) -> ImportResult:
    path, digest, table = _read(ctx, path)
    result = ImportResult("administrations", path.name, digest, len(table.rows), dry_run=dry_run)
    reporter = _Reporter(progress, len(table.rows))
    checked = validate_administrations(table, datetime.now(), progress=reporter.validating)
    if checked.total_rows == -1:
        result.cancelled = True
        return result
    result.errors = checked.errors
    if result.errors:
        if checked.rows:  # as for lots: the valid rows' lots are still looked up, so every rejected row is listed
            with ctx.db.read() as session:
                _import_administrations_in(ctx, session, checked.rows, result, reporter)
        result.errors.sort()
        return result
    opener = ctx.db.read if dry_run else ctx.db.write
    try:
        with opener() as session:
            _import_administrations_in(ctx, session, checked.rows, result, reporter)
    except _Cancelled:
        result.cancelled = True
        result.created = result.accepted = 0
        return result
    reporter.finish()
    return result


def _import_administrations_in(
    ctx: ServiceContext, session: Session, rows: list[AdministrationRow], result: ImportResult, reporter: _Reporter
) -> None:
    products = dict(session.execute(select(Product.name_key, Product.id)).all())
    site_id = current_site(session, ctx.site_code).id
    wanted = {(products[row.product_key], row.lot_number) for row in rows if row.product_key in products}
    lots: dict[tuple[int, str], int] = {}
    for chunk in _chunks(sorted(wanted), 500):
        lots.update(
            ((pid, number), lot_id)
            for lot_id, pid, number in session.execute(
                # The lot given at this site: another site may hold the same lot number of the product.
                select(Lot.id, Lot.product_id, Lot.lot_number).where(
                    tuple_(Lot.product_id, Lot.lot_number).in_(chunk), *site_scope.held_at(site_id)
                )
            )
        )
    now = utcnow()
    batch = uuid.uuid4().hex
    recorded_by = ctx.actor.user_id if ctx.actor else None
    records: list[dict[str, Any]] = []
    per_lot: dict[int, Decimal] = defaultdict(Decimal)
    ref_pattern = patient_ref_pattern(session)
    for row in rows:
        ref = row.values.get("patient_ref")
        ref_problem = patient_ref_problem(ref, ref_pattern) if ref else None
        if ref_problem:
            result.errors.append(RowError(row.row, "patient_ref", ref_problem))
            continue
        product_id = products.get(row.product_key)
        if product_id is None:
            result.errors.append(
                RowError(
                    row.row,
                    "product_name",
                    f"no product named {row.values['product_name']} in the registry: import or add its lots first",
                )
            )
            continue
        lot_id = lots.get((product_id, row.lot_number))
        if lot_id is None:
            result.errors.append(
                RowError(
                    row.row,
                    "lot_number",
                    f"{row.lot_number} is not a lot of {row.values['product_name']} in the registry",
                )
            )
            continue
        record = row.fields()
        record.update(lot_id=lot_id, recorded_by_id=recorded_by, recorded_at=now, import_batch=batch, superseded=False)
        records.append(record)
        if record["quantity"]:
            per_lot[lot_id] += record["quantity"]
    if result.errors:
        result.errors.sort()
        return
    result.accepted = result.created = len(records)
    if result.dry_run:
        return
    result.batch = batch
    audit_records.note_inserts_from_here(session)
    _bulk_insert(session, table_of(Administration), records, reporter.writing)
    if per_lot:
        audit_records.note_rows(session, _LOT_TABLE, per_lot)
        lot_table = _LOT_TABLE
        session.execute(
            update(lot_table)
            .where(lot_table.c.id == bindparam("b_id"))
            .values(
                quantity_administered=exact_sql(
                    lot_table.c.quantity_administered + bindparam("b_quantity", type_=Exact)
                )
            ),
            [{"b_id": lot_id, "b_quantity": quantity} for lot_id, quantity in per_lot.items()],
        )
    created = list(session.execute(select(Administration.id).where(Administration.import_batch == batch)).scalars())
    if created:
        # New rows above every existing id: one range. Their lots' quantities changed (USE-OVERDRAWN).
        flag_table.touch_range(session, "administration", min(created), max(created))
        flag_table.touch(session, "lot", per_lot)
    ctx.audit(
        session,
        AuditRecord(
            "import administrations",
            "import",
            batch,
            before={},
            after={
                "file_name": result.file_name,
                "sha256": result.sha256,
                "rows": result.rows,
                "batch": batch,
                "administrations_created": id_ranges(created),
                "administrations_created_count": len(records),
                "quantity_added_by_lot": {str(k): v for k, v in sorted(per_lot.items())},
            },
        ),
    )
