"""Lot import speed against the plainest possible load of the same file, measured side by side.

    python bench/bench_import.py [--rows 100000] [--seed 1] [--repeat 1]

Baseline: `csv.reader` + `sqlite3.executemany` of every row into one table of text columns, one transaction.
Import: `registry_app.services.imports.import_lots` on a fresh migrated SQLite registry (validation, product
and supplier matching, duplicate checks, lots, characterization results, their per-lot facts, audit entry),
constraints on. Target: ratio <= 3. The machine's load average is printed with the figures, since both sides
run on whatever CPU the other processes leave.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry_app.db import open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.services import ServiceContext
from registry_app.services.auth import create_first_user, create_user, sign_in
from registry_app.services.imports import import_lots
from tests.importers.generator import LOT_HEADER, write_lots_csv


def baseline(csv_path: Path, db_path: Path) -> float:
    start = time.perf_counter()
    connection = sqlite3.connect(db_path)
    columns = ", ".join(f'"{c}" TEXT' for c in LOT_HEADER)
    connection.execute(f"CREATE TABLE lots ({columns})")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader)
        marks = ", ".join("?" for _ in LOT_HEADER)
        connection.executemany(f"INSERT INTO lots VALUES ({marks})", reader)
    connection.commit()
    connection.close()
    return time.perf_counter() - start


def registry_import(csv_path: Path, db_path: Path) -> tuple[float, str]:
    database = open_database(sqlite_url_for(db_path))
    ctx = ServiceContext(database)
    ctx.actor = create_first_user(ctx, "admin", "admin", "admin-password")
    # A medical director: the generated file holds released and depleted lots, which a pharmacist may not import.
    create_user(ctx, "director", "medical_director", "director-password")
    sign_in(ctx, "director", "director-password")
    start = time.perf_counter()
    result = import_lots(ctx, csv_path)
    elapsed = time.perf_counter() - start
    database.dispose()
    if not result.ok:
        raise SystemExit(f"the import failed: {result.error_lines()[:5]}")
    return elapsed, (
        f"{result.created} lots, {result.results_created} characterization results, {result.products_created} products"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="run both sides this many times; best of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        csv_path = write_lots_csv(work / "lots.csv", args.rows, args.seed)
        print(f"{args.rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB CSV")
        plains, ours = [], []
        for run in range(1, args.repeat + 1):
            plains.append(baseline(csv_path, work / f"baseline-{run}.sqlite3"))
            print(f"baseline csv + sqlite3.executemany: {plains[-1]:.2f} s")
            elapsed, what = registry_import(csv_path, work / f"registry-{run}.sqlite3")
            ours.append(elapsed)
            print(f"registry-app import lots:            {elapsed:.2f} s ({what})")
            print(f"ratio import / baseline:             {elapsed / plains[-1]:.2f} (target <= 3.00)")
            print("load average (1, 5, 15 min):         " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
        if args.repeat > 1:
            print(
                f"best of {args.repeat}: baseline {min(plains):.2f} s, import {min(ours):.2f} s, "
                f"ratio {min(ours) / min(plains):.2f} (target <= 3.00)"
            )


if __name__ == "__main__":
    main()
