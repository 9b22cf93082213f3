"""Several clinics on one PostgreSQL server (issue 23): client processes recording administrations and browsing
the lots page against one registry, for a fixed time. Run from the repository root:

    bash .ci/pg.sh start /tmp/pg-network      # prints the server URL
    python bench/bench_multisite.py --server URL [--clients 10] [--seconds 60] [--lots 2000] [--think 0.5]

Makes a new database `registry_bench_multisite` on the server (dropped first if it exists): migrated, the demo
registry of --lots lots, plus 20 well-documented released lots to administer. Two sites: the demo's `main` and
`BUSAN` (Korea), each with half of the demo lots and half of the bench lots (moved by one UPDATE when the
registry is prepared: setup, not a use case) and its own pharmacist (`auth.create_user(..., site_code=...)`,
what `user add --site` calls). The clients are split over the two sites; each signs in as its site's
pharmacist at its site and repeats, until the time is up: record an administration on one of its site's lots
(the service, guard rails, site scoping and audit entry included), wait --think seconds, load the first lots
page (the desktop's query, 200 rows with their severity badges, its site's lots only), wait again. Prints the
throughput, the p50/p95 latency of a save and of a page, and checks afterwards that every administration a
client was told was saved is there once: 0 lost, 0 duplicated, and that each page showed its site's lots only.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from multiprocessing import get_context
from multiprocessing.queues import Queue
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from registry_app.db import Database, open_database
from registry_app.domain import Administration, Lot, Site, User
from registry_app.services import Actor, RegistryError, ServiceContext, auth, sites
from registry_app.services.administrations import AdministrationInput, record_administration
from registry_app.services.demo.generate import create_demo_users, generate_demo
from registry_app.services.queries.lots_page import LotQuery, lot_page
from tests.services.use_data import make_lot, make_product

DATABASE = "registry_bench_multisite"
BENCH_LOTS = 20
SITES = ("main", "BUSAN")
PASSWORD = "bench-pharmacist-password"  # each site's pharmacist: pharmacist-main, pharmacist-BUSAN


def prepare(server: str, lots: int) -> tuple[str, dict[str, list[int]]]:
    """The registry, and each site's bench lots (by site code)."""
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    url = make_url(server).set(database=DATABASE).render_as_string(hide_password=False)
    db = open_database(url)
    ctx = ServiceContext(db)
    create_demo_users(ctx)
    generate_demo(ctx, lots=lots, seed=1)
    product = make_product(db, "Bench Cordexa UC-EV")
    lot_ids = [make_lot(db, product, f"BENCH-{i:03d}", quantity=1_000_000) for i in range(BENCH_LOTS)]
    with db.read() as session:
        user = session.execute(select(User).where(User.username == "admin")).scalar_one()
        admin = ServiceContext(db, Actor(user.id, user.username, user.role, user.full_name))
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")
    for code in SITES:
        auth.create_user(admin, f"pharmacist-{code}", "pharmacist", PASSWORD, site_code=code)
    with db.write() as session:
        ids = {code: session.execute(select(Site.id).where(Site.code == code)).scalar_one() for code in SITES}
        session.execute(text("UPDATE lot SET site_id = :main"), {"main": ids["main"]})
        session.execute(text("UPDATE lot SET site_id = :busan WHERE id % 2 = 1"), {"busan": ids["BUSAN"]})
        at = dict(session.execute(select(Lot.id, Lot.site_id).where(Lot.id.in_(lot_ids))).all())
    db.dispose()
    return url, {code: [i for i in lot_ids if at[i] == ids[code]] for code in SITES}


def client(url: str, site: str, lot_ids: list[int], number: int, start_at: float, seconds: float, think: float,
           results: Queue) -> None:  # fmt: skip
    ctx = ServiceContext(Database(url), site_code=site)
    actor = auth.sign_in(ctx, f"pharmacist-{site}", PASSWORD)
    assert actor.site_id is not None  # a user of one site: the lots page and the saves go through the scoping
    given = datetime.combine(date.today() - timedelta(days=1), datetime.min.time()).replace(hour=10)
    saves: list[float] = []
    pages: list[float] = []
    saved: list[tuple[str, int]] = []
    refused = 0
    foreign = 0  # rows of a page showing a lot of the other site (must stay 0)
    site_id = actor.site_id
    lot_page(ctx, LotQuery())  # a warm connection and cache, as a desktop that has shown its window
    time.sleep(max(0.0, start_at - time.time()))
    end = start_at + seconds
    i = 0
    while time.time() < end:
        ref = f"PT-{number:02d}-{i:06d}"
        entry = AdministrationInput(
            lot_id=lot_ids[(number + i) % len(lot_ids)],
            administered_at=given,
            route="topical_intact",
            patient_ref=ref,
            body_areas=("face",),
            quantity=1,
            practitioner="dr.nguyen",
            screening_done=True,
        )
        i += 1
        started = time.perf_counter()
        try:
            result = record_administration(ctx, entry, confirm=True)
        except RegistryError:
            refused += 1
        else:
            saves.append(time.perf_counter() - started)
            saved.append((ref, result.administration_id))
        time.sleep(think)
        started = time.perf_counter()
        page = lot_page(ctx, LotQuery())
        pages.append(time.perf_counter() - started)
        if i == 1:  # once per client, outside the timings: the page holds its site's lots only
            with ctx.db.read() as session:
                shown = [row.id for row in page.rows]
                foreign += sum(
                    1 for (at,) in session.execute(select(Lot.site_id).where(Lot.id.in_(shown))) if at != site_id
                )
        time.sleep(think)
    ctx.db.dispose()
    results.put((saves, pages, saved, refused, foreign))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="a PostgreSQL server URL (its `postgres` database)")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--lots", type=int, default=2000, help="demo lots in the registry (default 2000)")
    parser.add_argument("--think", type=float, default=0.5, help="a user's pause after each action (s)")
    args = parser.parse_args()

    prepared = time.perf_counter()
    url, site_lots = prepare(args.server, args.lots)
    print(f"registry prepared in {time.perf_counter() - prepared:.1f} s: {args.lots} demo lots, {DATABASE}")
    spawn = get_context("spawn")
    results = spawn.Queue()
    start_at = time.time() + 5.0 + 0.5 * args.clients  # every client connected and warm before the clock starts
    processes = [
        spawn.Process(
            target=client,
            args=(url, SITES[n % 2], site_lots[SITES[n % 2]], n, start_at, args.seconds, args.think, results),
        )
        for n in range(args.clients)
    ]
    for process in processes:
        process.start()
    gathered = []
    for _ in processes:
        try:
            gathered.append(results.get(timeout=start_at - time.time() + args.seconds + 120))
        except queue.Empty:
            sys.exit("a client stopped answering")
    for process in processes:
        process.join()

    saves = [s for g in gathered for s in g[0]]
    pages = [p for g in gathered for p in g[1]]
    saved = [s for g in gathered for s in g[2]]
    refused = sum(g[3] for g in gathered)
    foreign = sum(g[4] for g in gathered)
    db = Database(url)
    with db.read() as session:
        stored = Counter(
            session.execute(select(Administration.patient_ref).where(Administration.patient_ref.like("PT-__-%")))
            .scalars()
            .all()
        )
        ids = dict(session.execute(select(Administration.patient_ref, Administration.id)).all())
    db.dispose()
    lost = sum(1 for ref, row_id in saved if ids.get(ref) != row_id)
    duplicated = sum(n - 1 for n in stored.values() if n > 1)
    unreported = len(stored) - len(saved)  # saved by the server but the client was told otherwise

    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    print(f"{args.clients} clients, {args.seconds:.0f} s, think time {args.think} s, one registry on one server")
    print(f"sites: {', '.join(SITES)}, the clients split between them, each its site's pharmacist (site scoping on); "
          f"rows of another site on a page: {foreign}")  # fmt: skip
    print(f"saves: {len(saves)} ({len(saves) / args.seconds:.1f}/s), refused {refused}")
    print(f"  save latency p50 {percentile(saves, 0.5) * 1000:.0f} ms, p95 {percentile(saves, 0.95) * 1000:.0f} ms "
          f"(target p95 < 200 ms), max {max(saves, default=0) * 1000:.0f} ms")  # fmt: skip
    print(f"pages: {len(pages)} ({len(pages) / args.seconds:.1f}/s)")
    print(f"  page latency p50 {percentile(pages, 0.5) * 1000:.0f} ms, p95 {percentile(pages, 0.95) * 1000:.0f} ms "
          f"(target p95 < 300 ms), max {max(pages, default=0) * 1000:.0f} ms")  # fmt: skip
    print(f"writes: {len(saved)} reported saved, {lost} lost, {duplicated} duplicated, {unreported} unreported")
    print(f"mean save {statistics.fmean(saves) * 1000 if saves else 0:.0f} ms, mean page "
          f"{statistics.fmean(pages) * 1000 if pages else 0:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
