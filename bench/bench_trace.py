"""Recall lookback at scale: builds (or reuses) a registry with 1,000,000 administrations and times the trace
query (lot -> every recipient) and the reverse query (patient -> every lot).

    python bench/bench_trace.py [--administrations 1000000] [--lots 10000] [--database URL] [--rebuild]

Default database: an SQLite file /tmp/registry-trace-1m.sqlite3, built once with bulk inserts
(`session.execute(insert(Model), dicts)`) and reused while its administration count matches. Prints, for a
sample of lots and patients, the median and worst query time (execute + fetch, ms) of the exact queries
`trace_lot` and `lots_for_patient` run, the whole `trace_lot` service call, and the ratio against the same
query forced to scan the table (the index defeated with `lot_id + 0`), run in the same process.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from registry_app.db import Database, open_database  # noqa: E402
from registry_app.domain import Administration, Lot, Manufacturer, Product, Supplier, name_key  # noqa: E402
from registry_app.services import Actor, ServiceContext  # noqa: E402
from registry_app.services.administrations import current_only, view_query  # noqa: E402
from registry_app.services.recalls import lots_for_patient, patient_query, trace_lot, trace_query  # noqa: E402

DEFAULT_URL = "sqlite:////tmp/registry-trace-1m.sqlite3"
ROUTES = ("topical_intact", "topical_post_microneedling", "intradermal", "subdermal", "scalp_injection")
AREAS = ("face", "face;neck", "periorbital", "scalp", "hands", "decollete")
PRACTITIONERS = ("dr.nguyen", "dr.ahn", "dr.kim", "dr.tran", "dr.lee", "dr.park")
BATCH = 50_000


def build(db: Database, administrations: int, lots: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    with db.write() as session:
        maker = Manufacturer(name="Bench Maker", name_key=name_key("Bench Maker"))
        supplier = Supplier(name="Bench Supply", name_key=name_key("Bench Supply"))
        session.add_all([maker, supplier])
        session.flush()
        products = []
        for i in range(20):
            product = Product(
                name=f"Bench Product {i}",
                name_key=name_key(f"Bench Product {i}"),
                product_type="exosome" if i % 2 else "polynucleotide",
                manufacturer_id=maker.id,
            )
            session.add(product)
            products.append(product)
        session.flush()
        start = date(2020, 1, 1)
        session.execute(
            insert(Lot),
            [
                {
                    "product_id": products[i % len(products)].id,
                    "lot_number": f"BL-{i:06d}",
                    "status": "released",
                    "quantity_received": administrations / lots * 2,
                    "received_date": start + timedelta(days=i % 1500),
                    "expiry_date": start + timedelta(days=i % 1500 + 730),
                    "supplier_id": supplier.id,
                }
                for i in range(lots)
            ],
        )
        lot_ids = list(session.execute(select(Lot.id).order_by(Lot.id)).scalars())
    patients = max(1, administrations // 5)
    base = datetime(2021, 1, 1, 9, 0)
    for first in range(0, administrations, BATCH):
        rows: list[dict[str, Any]] = []
        for n in range(first, min(first + BATCH, administrations)):
            rows.append(
                {
                    "lot_id": lot_ids[rng.randrange(lots)],
                    "administered_at": base + timedelta(minutes=n * 2 + rng.randrange(2)),
                    "patient_ref": f"PT-{rng.randrange(patients):07d}",
                    "route": ROUTES[n % len(ROUTES)],
                    "body_areas": AREAS[n % len(AREAS)],
                    "quantity": 1.0,
                    "practitioner": PRACTITIONERS[n % len(PRACTITIONERS)],
                    "screening_done": True,
                    "superseded": False,
                    "recorded_at": base + timedelta(minutes=n * 2),
                }
            )
        with db.write() as session:
            session.execute(insert(Administration), rows)
        print(f"  {min(first + BATCH, administrations):>9,} administrations", end="\r", flush=True)
    with db.write() as session:
        session.execute(text("ANALYZE"))
    print(
        f"\nbuilt {administrations:,} administrations over {lots:,} lots and {patients:,} patients in "
        f"{time.perf_counter() - started:.1f} s"
    )


def timed(db: Database, make_query: Callable[[Any], Any], keys: list[Any]) -> tuple[list[float], int]:
    """ms per query (execute + fetch all rows), each in its own read transaction; and the rows returned."""
    samples, rows = [], 0
    for key in keys:
        with db.read() as session:
            start = time.perf_counter()
            rows += len(session.execute(make_query(key)).all())
            samples.append((time.perf_counter() - start) * 1000)
    return samples, rows


def report(name: str, samples: list[float], rows: int) -> float:
    median = statistics.median(samples)
    print(
        f"{name:<46} median {median:8.2f} ms   worst {max(samples):8.2f} ms   "
        f"({len(samples)} queries, {rows / len(samples):.0f} rows each)"
    )
    return median


def plan(db: Database, query: Any) -> str:
    with db.read() as session:
        compiled = query.compile(session.bind, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        lines = session.execute(text(prefix + str(compiled))).all()
    return " | ".join(str(line[-1]) for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--administrations", type=int, default=1_000_000)
    parser.add_argument("--lots", type=int, default=10_000)
    parser.add_argument("--database", default=DEFAULT_URL)
    parser.add_argument("--rebuild", action="store_true", help="drop the SQLite file and build again")
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()

    if args.rebuild and args.database.startswith("sqlite:///"):
        path = Path(args.database.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = open_database(args.database)
    with db.read() as session:
        existing = session.execute(select(func.count(Administration.id))).scalar_one()
    if existing != args.administrations:
        if existing:
            print(f"{db.display_name} holds {existing:,} administrations; use --rebuild or another --database")
            return 2
        build(db, args.administrations, args.lots)
    else:
        print(f"reusing {db.display_name}: {existing:,} administrations")

    rng = random.Random(11)
    with db.read() as session:
        lot_ids = list(session.execute(select(Lot.id)).scalars())
        refs = list(session.execute(select(Administration.patient_ref).limit(20_000)).scalars())
    sample_lots = rng.sample(lot_ids, min(args.samples, len(lot_ids)))
    sample_refs = rng.sample(refs, min(args.samples, len(refs)))
    ctx = ServiceContext(db, Actor(None, "bench", "inspector"))

    print(f"trace plan: {plan(db, trace_query(sample_lots[0]))}")
    print(f"patient plan: {plan(db, patient_query(sample_refs[0]))}")
    trace_ms = report("trace query (lot -> recipients)", *timed(db, trace_query, sample_lots))
    report("patient query (patient -> lots)", *timed(db, patient_query, sample_refs))

    def service(call: Callable[[Any], list[Any]], keys: list[Any]) -> tuple[list[float], int]:
        samples, rows = [], 0
        for key in keys:
            start = time.perf_counter()
            rows += len(call(key))
            samples.append((time.perf_counter() - start) * 1000)
        return samples, rows

    report(
        "trace_lot service (lookup + query + rows)",
        *service(lambda lot_id: trace_lot(ctx, lot_id).administrations, sample_lots),
    )
    report("lots_for_patient service", *service(lambda ref: lots_for_patient(ctx, ref), sample_refs))

    def scan(lot_id: int) -> Any:
        return current_only(view_query().where(Administration.lot_id + 0 == lot_id)).order_by(
            Administration.administered_at
        )

    scan_ms = report("baseline: same query, index defeated (scan)", *timed(db, scan, sample_lots[:5]))
    print(f"index speed-up: {scan_ms / trace_ms:,.0f}x  (trace query median {trace_ms:.2f} ms; target < 100 ms)")
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
