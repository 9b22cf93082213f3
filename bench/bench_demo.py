"""Time the demo generator on a new registry.

    python bench/bench_demo.py [--lots 100000] [--database URL]

Without --database a new SQLite file under /tmp is used. Prints the generator's own time (one transaction,
bulk inserts) and the rows written per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry_app.db import open_database
from registry_app.services import ServiceContext
from registry_app.services.demo.generate import create_demo_users, generate_demo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--database", help="a new, empty registry (default: a new SQLite file in /tmp)")
    args = parser.parse_args()
    url = args.database
    if url is None:
        path = Path(f"/tmp/bench-demo-{args.lots}.sqlite3")
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    db = open_database(url)
    ctx = ServiceContext(db)
    create_demo_users(ctx)
    started = time.perf_counter()
    summary = generate_demo(ctx, lots=args.lots, seed=1)
    elapsed = time.perf_counter() - started
    rows = sum(summary.counts.values())
    print(
        f"{db.display_name}: demo with {args.lots} lots in {elapsed:.1f} s ({rows} rows, "
        f"{rows / elapsed:,.0f} rows/s): {summary.counts}"
    )


if __name__ == "__main__":
    main()
