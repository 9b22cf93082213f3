"""Compliance report and inspection bundle at clinic scale: 2,000 lots and 10,000 administrations in the period.

    python bench/bench_reports.py [--lots 2000] [--administrations 10000] [--runs 2] [--database URL]

Builds a registry with the demo generator (`registry-app demo --lots N`), tops the administrations up to the
number asked with one bulk insert (copies of the demo's own administrations spread over the period), then
times, in this process: the flag evaluation alone (the baseline every report needs), the compliance report,
and the bundle, each `--runs` times. Prints wall time AND this process's CPU time (`time.process_time()`, which
includes Qt's threads) with the load average, so a slow figure on a busy machine can be told apart from a slow
design; the verdicts use the best wall time of the runs, its ratio to the baseline, and the targets
(report < 10 s, bundle < 20 s).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import func, insert, select  # noqa: E402

from registry_app.db import open_database  # noqa: E402
from registry_app.domain import Administration  # noqa: E402
from registry_app.rules import evaluate_flags  # noqa: E402
from registry_app.services import ServiceContext, reports  # noqa: E402
from registry_app.services.auth import create_first_user  # noqa: E402
from registry_app.services.demo import generate as demo  # noqa: E402

TODAY = date(2025, 6, 30)
START, END = date(2024, 7, 1), TODAY


def build(url: str, lots: int, administrations: int) -> ServiceContext:
    database = open_database(url)
    ctx = ServiceContext(database)
    ctx.actor = create_first_user(ctx, "bench", "admin", "bench-password", "Bench Admin")
    demo.generate_demo(ctx, lots=lots, seed=1, today=TODAY)
    rng = random.Random(2)
    with database.write() as session:
        have = session.execute(select(func.count(Administration.id))).scalar_one()
        templates = (
            session.execute(
                select(Administration).where(Administration.voided_at.is_(None), Administration.superseded.is_(False))
            )
            .scalars()
            .all()
        )
        span = (END - START).days
        rows = []
        for index in range(max(0, administrations - have)):
            source = rng.choice(templates)
            at = datetime.combine(START + timedelta(days=rng.randrange(span)), datetime.min.time()) + timedelta(
                hours=rng.randrange(9, 19)
            )
            rows.append(
                {
                    "lot_id": source.lot_id,
                    "administered_at": at,
                    "patient_ref": f"BENCH-{rng.randrange(4000):05d}",
                    "route": source.route,
                    "body_areas": source.body_areas,
                    "quantity": source.quantity,
                    "volume_ml": source.volume_ml,
                    "practitioner": source.practitioner,
                    "screening_done": source.screening_done,
                    "contraindications": source.contraindications,
                    "ind_reference": source.ind_reference,
                    "notes": f"bench copy {index}",
                }
            )
        if rows:
            session.execute(insert(Administration), rows)
    return ctx


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<48} {elapsed:7.2f} s wall {used:7.2f} s CPU  (load {os.getloadavg()[0]:.1f})", flush=True)
    return elapsed, result


def best(label: str, runs: int, fn):  # type: ignore[no-untyped-def]
    """The best wall time of `runs` runs (and the last run's result)."""
    times, result = [], None
    for run in range(1, runs + 1):
        elapsed, result = timed(f"{label} [{run}/{runs}]", fn)
        times.append(elapsed)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=2000)
    parser.add_argument("--administrations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2, help="runs of each timed step (the best is reported)")
    parser.add_argument("--database", help="an empty database URL (default: a new SQLite file)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    url = args.database or f"sqlite:///{folder / 'registry.sqlite3'}"
    _, ctx = timed(
        f"build registry ({args.lots} lots, {args.administrations} adm.)",
        lambda: build(url, args.lots, args.administrations),
    )
    with ctx.db.read() as session:  # type: ignore[attr-defined]
        in_period = session.execute(
            select(func.count(Administration.id)).where(
                Administration.administered_at >= datetime.combine(START, datetime.min.time())
            )
        ).scalar_one()
    print(f"administrations in the period {START} to {END}: {in_period}")

    def flags() -> int:
        with ctx.db.read() as session:  # type: ignore[attr-defined]
            return len(evaluate_flags(session, "US", TODAY))

    baseline, count = best("baseline: evaluate every flag", args.runs, flags)
    print(f"  ({count} flags)")
    report_s, report = best(
        "compliance report (PDF)",
        args.runs,
        lambda: reports.compliance_report(ctx, START, END, folder / "report.pdf", today=TODAY),
    )
    print(f"  ({report.pages} pages, {(folder / 'report.pdf').stat().st_size / 1e6:.1f} MB)")  # type: ignore[attr-defined]
    bundle_s, bundle = best(
        "inspection bundle (ZIP)",
        args.runs,
        lambda: reports.bundle(ctx, START, END, folder / "bundle.zip", today=TODAY),
    )
    print(f"  ({len(bundle.files)} files, {(folder / 'bundle.zip').stat().st_size / 1e6:.1f} MB)")  # type: ignore[attr-defined]
    export_s, _ = best(
        "export administrations (XLSX)",
        args.runs,
        lambda: reports.export(ctx, "administrations", "xlsx", folder / "administrations.xlsx"),
    )
    print()
    print(f"best of {args.runs} runs, load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"report: {report_s:.2f} s = {report_s / baseline:.1f}x the flag baseline; target < 10 s: "
        f"{'met' if report_s < 10 else 'NOT met'}"
    )
    print(
        f"bundle: {bundle_s:.2f} s = {bundle_s / baseline:.1f}x the flag baseline; target < 20 s: "
        f"{'met' if bundle_s < 20 else 'NOT met'}"
    )
    print(f"administrations XLSX: {export_s:.2f} s; outputs in {folder}")


if __name__ == "__main__":
    main()
