"""Lot import speed against the plainest possible load of the same file, measured side by side.

    python bench/bench_import.py [--rows 100000] [--seed 1] [--repeat 3]

Baseline: `csv.reader` + `sqlite3.executemany` of every row into one table of text columns, one transaction.
Import: `registry_app.services.imports.import_lots` on a fresh migrated SQLite registry (validation, product
and supplier matching, duplicate checks, lots, characterization results, their per-lot facts, audit entry),
constraints on. Target: ratio <= 3, for the service call against the baseline in this process, and for the
whole `python3 -m registry_app import lots FILE` process (start, imports, sign-in, the import) against a whole
process doing the baseline load of the same file. Each side runs --repeat times, interleaved; best and median
are reported, with the machine's load average, since both sides run on whatever CPU other processes leave.

Floor: what storing the import's result costs at the least. Every row the import added (lots, results, their
facts, the persisted flags of issue 22, the audit entry and its row hashes of issue 17) is read back from the
imported registry and written with `sqlite3.executemany` into a fresh migrated registry, same schema, indexes and
pragmas, one transaction, foreign keys checked at commit. The import's ratio to the floor is what the
registry's own work (reading, validating, matching, hashing, evaluating the rules) adds to the writing.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sqlite3
import statistics
import subprocess
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

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the import's validating process, the
    timed subprocesses): unlike the elapsed time, it hardly depends on what else the machine runs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def baseline(csv_path: Path, db_path: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
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
    return time.perf_counter() - start, cpu_seconds() - cpu


def new_registry(db_path: Path) -> ServiceContext:
    """A migrated registry with an admin and a medical director (who may import released lots), signed in."""
    database = open_database(sqlite_url_for(db_path))
    ctx = ServiceContext(database)
    ctx.actor = create_first_user(ctx, "admin", "admin", "admin-password")
    # A medical director: the generated file holds released and depleted lots, which a pharmacist may not import.
    create_user(ctx, "director", "medical_director", "director-password")
    sign_in(ctx, "director", "director-password")
    return ctx


def stored_rows(imported: Path, fresh: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Each table's rows that the import added: those past the last rowid a fresh registry holds."""
    added: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
    with sqlite3.connect(fresh) as before, sqlite3.connect(imported) as after:
        tables = [name for (name,) in after.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table.startswith("sqlite_") or table == "alembic_version":
                continue
            last = before.execute(f'SELECT coalesce(max(rowid), 0) FROM "{table}"').fetchone()[0]
            cursor = after.execute(f'SELECT * FROM "{table}" WHERE rowid > ?', (last,))
            rows = cursor.fetchall()
            if rows:
                added[table] = ([column[0] for column in cursor.description], rows)
    return added


def floor(rows: dict[str, tuple[list[str], list[tuple[object, ...]]]], db_path: Path) -> tuple[float, float]:
    """Write `rows` into the fresh registry at db_path with the app's pragmas, timed."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    start, cpu = time.perf_counter(), cpu_seconds()
    connection.execute("BEGIN")
    connection.execute("PRAGMA defer_foreign_keys = ON")  # any table order; checked at commit
    for table, (columns, values) in rows.items():
        names, marks = ", ".join(f'"{c}"' for c in columns), ", ".join("?" for _ in columns)
        connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', values)
    connection.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    connection.close()
    return elapsed, cpu


def registry_import(csv_path: Path, db_path: Path) -> tuple[float, float, str]:
    ctx = new_registry(db_path)
    start, cpu = time.perf_counter(), cpu_seconds()
    result = import_lots(ctx, csv_path)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    ctx.db.dispose()
    if not result.ok:
        raise SystemExit(f"the import failed: {result.error_lines()[:5]}")
    return (
        elapsed,
        cpu,
        (
            f"{result.created} lots, {result.results_created} characterization results, "
            f"{result.products_created} products"
        ),
    )


# The baseline as a program of its own: Python's start, the csv and sqlite3 modules, the load.
RAW_LOAD_PROGRAM = """
import csv, sqlite3, sys
csv_path, db_path = sys.argv[1:3]
connection = sqlite3.connect(db_path)
with open(csv_path, newline="", encoding="utf-8-sig") as handle:
    reader = csv.reader(handle)
    header = next(reader)
    connection.execute("CREATE TABLE lots (" + ", ".join(f'"{c}" TEXT' for c in header) + ")")
    connection.executemany("INSERT INTO lots VALUES (" + ", ".join("?" for _ in header) + ")", reader)
connection.commit()
connection.close()
"""


def timed_process(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, cpu


def raw_load_process(csv_path: Path, db_path: Path) -> tuple[float, float]:
    return timed_process([sys.executable, "-c", RAW_LOAD_PROGRAM, str(csv_path), str(db_path)])


def cli_import_process(csv_path: Path, db_path: Path) -> tuple[float, float]:
    new_registry(db_path).db.dispose()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "REGISTRY_USER": "director",
        "REGISTRY_PASSWORD": "director-password",
    }
    argv = [sys.executable, "-m", "registry_app", "--database", sqlite_url_for(db_path), "import", "lots"]
    return timed_process([*argv, str(csv_path)], env)


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def summary(label: str, ours: list[tuple[float, float]], theirs: list[tuple[float, float]], target: bool = True) -> str:
    """Best and median elapsed time of each side and their ratios, and the same of CPU time."""
    parts = []
    for what, index in (("elapsed", 0), ("CPU", 1)):
        mine, plain = [run[index] for run in ours], [run[index] for run in theirs]
        parts.append(
            f"{what}: best {min(mine):.2f} s vs {min(plain):.2f} s, ratio {min(mine) / min(plain):.2f}; median "
            f"{statistics.median(mine):.2f} s vs {statistics.median(plain):.2f} s, "
            f"ratio {statistics.median(mine) / statistics.median(plain):.2f}"
        )
    return f"{label}{' (target <= 3.00)' if target else ''}: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="run each side this many times; best and median")
    parser.add_argument("--no-process", action="store_true", help="skip the whole-process comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        csv_path = write_lots_csv(work / "lots.csv", args.rows, args.seed)
        print(f"{args.rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB CSV; load average {load_average()}")
        plains, ours, floors, raw_processes, cli_processes = [], [], [], [], []
        for run in range(1, args.repeat + 1):
            plains.append(baseline(csv_path, work / f"baseline-{run}.sqlite3"))
            elapsed, cpu, what = registry_import(csv_path, work / f"registry-{run}.sqlite3")
            ours.append((elapsed, cpu))
            empty = work / f"empty-{run}.sqlite3"
            new_registry(empty).db.dispose()
            added = stored_rows(work / f"registry-{run}.sqlite3", empty)
            floors.append(floor(added, empty))
            counts = ", ".join(f"{table} {len(values):,}" for table, (_, values) in added.items())
            print(f"run {run}: floor {floors[-1][0]:.2f} s (CPU {floors[-1][1]:.2f} s) to store {counts}")
            print(
                f"run {run}: baseline {plains[-1][0]:.2f} s (CPU {plains[-1][1]:.2f} s), import_lots {elapsed:.2f} s "
                f"(CPU {cpu:.2f} s; {what}), ratio {elapsed / plains[-1][0]:.2f}; load average {load_average()}"
            )
            if not args.no_process:
                raw_processes.append(raw_load_process(csv_path, work / f"raw-process-{run}.sqlite3"))
                cli_processes.append(cli_import_process(csv_path, work / f"cli-{run}.sqlite3"))
                print(
                    f"run {run}: raw-load process {raw_processes[-1][0]:.2f} s (CPU {raw_processes[-1][1]:.2f} s), "
                    f"`registry_app import lots` process {cli_processes[-1][0]:.2f} s "
                    f"(CPU {cli_processes[-1][1]:.2f} s), ratio {cli_processes[-1][0] / raw_processes[-1][0]:.2f}; "
                    f"load average {load_average()}"
                )
        print(summary(f"service, {args.repeat} runs", ours, plains))
        print(summary(f"floor (storing the import's rows), {args.repeat} runs", floors, plains, target=False))
        print(summary(f"service against the floor, {args.repeat} runs", ours, floors, target=False))
        if raw_processes:
            print(summary(f"whole process, {args.repeat} runs", cli_processes, raw_processes))


if __name__ == "__main__":
    main()
