"""Flags over a large demo registry: the whole evaluation versus the rules' SQL queries alone.

    python bench/bench_flags.py [--lots 100000] [--database URL] [--reuse]

Without --database a new SQLite file under /tmp is filled by the demo generator. The SQL-alone figure re-runs
on the raw driver cursor, with fetchall, exactly the statements the evaluation issued (captured with a
cursor event), so the ratio is the cost of everything else: building flags, messages, waivers, sorting.
Wall and CPU time of this process are printed with the load average: the machine is shared, and a slow
wall figure with a steady CPU figure is the neighbours' doing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from registry_app.db import open_database
from registry_app.rules import evaluate_flags
from registry_app.services import ServiceContext
from registry_app.services.demo.generate import create_demo_users, generate_demo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--database")
    parser.add_argument("--reuse", action="store_true", help="the database holds demo data already")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = args.database or f"sqlite:////tmp/bench-flags-{args.lots}.sqlite3"
    if not args.database and not args.reuse:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    db = open_database(url)
    if not args.reuse:
        ctx = ServiceContext(db)
        create_demo_users(ctx)
        started = time.perf_counter()
        summary = generate_demo(ctx, lots=args.lots, seed=1)
        print(f"demo: {summary.counts} in {time.perf_counter() - started:.1f} s")
    today = date.today()
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    whole, whole_cpu, sql_only, sql_cpu, count = [], [], [], [], 0
    for _ in range(args.runs):
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", capture)
        with db.read() as session:
            started, cpu = time.perf_counter(), time.process_time()
            flags = evaluate_flags(session, "US", today)
            whole.append(time.perf_counter() - started)
            whole_cpu.append(time.process_time() - cpu)
        event.remove(db.engine, "before_cursor_execute", capture)
        count = len(flags)
        with db.read() as session:
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            started, cpu = time.perf_counter(), time.process_time()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            sql_only.append(time.perf_counter() - started)
            sql_cpu.append(time.process_time() - cpu)
            cursor.close()
    best_whole, best_sql = min(whole), min(sql_only)
    print(
        f"{db.display_name}: {count} flags; evaluate_flags best {best_whole:.2f} s "
        f"(median {statistics.median(whole):.2f}); rules' SQL alone best {best_sql:.2f} s "
        f"({len(statements)} queries); ratio {best_whole / best_sql:.2f}x"
    )
    print(
        f"CPU time best: evaluate_flags {min(whole_cpu):.2f} s, SQL alone {min(sql_cpu):.2f} s (CPU ratio "
        f"{min(whole_cpu) / min(sql_cpu):.2f}x; on PostgreSQL the server's CPU is not counted); load average "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        + f" on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
