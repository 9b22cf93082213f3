"""The persisted flags at scale (issue 22): a demo registry of a million lots and about two million
administrations, and what readers and writers of flags cost on it.

    python bench/bench_flags_scale.py [--lots 1000000] [--path /tmp/registry-flags-1m.sqlite3] [--runs 5]

The registry is made once by the demo generator (its rows written in bulk, the flag table built from them in
the same transaction) and reused while its lot count matches. Printed side by side with their targets:

- dashboard counts: count_flags (one GROUP BY) and the whole dashboard_figures service;
- the first page of the Flags page (services.queries.flags_page), no filter and a rule filter;
- a lot's flags after a change: the change committed (amend_lot, its flags kept in the same transaction),
  then flags_for_lot read back;
- a full rebuild of the current table (flags --rebuild: every rule evaluated, compared, nothing to write)
  against the rules' SQL alone (the same SELECTs re-run on the raw cursor), and a rebuild from an empty table;
- the resident memory of the desktop window (a child process) after showing the dashboard and the Flags page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROCESS_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN, ADMIN_PASSWORD = "admin", "admin-demo-only"
DIRECTOR, DIRECTOR_PASSWORD = "director", "director-demo"


def _ms(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """(best, median) milliseconds of `runs` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times), result


def _rss_mb() -> tuple[float, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def build(path: Path, lots: int) -> None:
    from registry_app.db import open_database
    from registry_app.db.engine import sqlite_url_for
    from registry_app.services import ServiceContext
    from registry_app.services.demo.generate import create_demo_users, generate_demo

    path.unlink(missing_ok=True)
    db = open_database(sqlite_url_for(path))
    ctx = ServiceContext(db)
    create_demo_users(ctx)
    start = time.perf_counter()
    summary = generate_demo(ctx, lots=lots, seed=1)
    print(f"demo registry built in {time.perf_counter() - start:.1f} s: {summary.counts}", flush=True)
    db.dispose()


def _count(path: Path, table: str) -> int:
    import sqlite3

    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return 0


def child(path: Path) -> int:
    """The desktop window on the registry: dashboard, then the Flags page; resident memory when both show."""
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from registry_app.db import open_database
    from registry_app.db.engine import sqlite_url_for
    from registry_app.services import ServiceContext
    from registry_app.services.auth import sign_in
    from registry_app.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    ctx = ServiceContext(open_database(sqlite_url_for(path)))
    sign_in(ctx, ADMIN, ADMIN_PASSWORD)
    settings_path = Path(f"{path}.bench-settings.ini")
    settings_path.unlink(missing_ok=True)
    window = MainWindow(ctx, QSettings(str(settings_path), QSettings.Format.IniFormat))
    window.show()
    QTest.qWaitForWindowExposed(window)

    def idle_until(done: Callable[[], bool], limit: float = 120.0) -> float:
        start = time.perf_counter()
        while not done() and time.perf_counter() - start < limit:
            app.processEvents()
            time.sleep(0.005)
        return time.perf_counter() - start

    dashboard = window.show_page("Dashboard")
    dashboard_s = idle_until(lambda: "Computing" not in dashboard.message.text())  # type: ignore[attr-defined]
    flags = window.show_page("Flags")
    flags_s = idle_until(lambda: not flags.loading and bool(flags.model.rows))  # type: ignore[attr-defined]
    idle_until(lambda: False, 2.0)  # background work (badges, counts) done before memory is read
    rss, peak = _rss_mb()
    print(
        json.dumps(
            {
                "dashboard_s": dashboard_s,
                "flags_page_s": flags_s,
                "rows": len(flags.model.rows),  # type: ignore[attr-defined]
                "rss_mb": rss,
                "peak_rss_mb": peak,
            }
        ),
        flush=True,
    )
    window.close()
    settings_path.unlink(missing_ok=True)
    sys.stdout.flush()
    os._exit(0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--path", type=Path, default=Path("/tmp/registry-flags-1m.sqlite3"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--skip-empty-rebuild", action="store_true")
    args = parser.parse_args()
    if args.child:
        return child(args.path)
    if _count(args.path, "lot") != args.lots:
        build(args.path, args.lots)

    from sqlalchemy import delete, event, func, select

    from registry_app.db import open_database
    from registry_app.db.engine import sqlite_url_for
    from registry_app.domain import Administration, FlagRecord, Lot
    from registry_app.services import ServiceContext, flag_table
    from registry_app.services import flags as flag_service
    from registry_app.services.auth import sign_in
    from registry_app.services.lots import receiving
    from registry_app.services.queries.flags_page import FlagFilters, count_flags_matching, flags_page
    from registry_app.services.queries.lot_record import dashboard_figures

    db = open_database(sqlite_url_for(args.path))
    ctx = ServiceContext(db)
    sign_in(ctx, ADMIN, ADMIN_PASSWORD)
    with db.read() as session:
        lots = session.execute(select(func.count(Lot.id))).scalar_one()
        uses = session.execute(select(func.count(Administration.id))).scalar_one()
        open_flags = session.execute(
            select(func.count()).select_from(FlagRecord).where(FlagRecord.closed_at.is_(None))
        ).scalar_one()
        lot_id = session.execute(select(Lot.id).where(Lot.coa_ref.is_not(None)).order_by(Lot.id).limit(1)).scalar()
    print(f"{lots:,} lots, {uses:,} administrations, {open_flags:,} open flags persisted", flush=True)
    rows: list[tuple[str, str, str]] = []

    best, median, counts = _ms(lambda: flag_service.count_flags(ctx), args.runs)
    rows.append(("dashboard counts (count_flags)", f"{best:.0f} ms (median {median:.0f})", "< 1 s"))
    best, median, _ = _ms(lambda: dashboard_figures(ctx), max(1, args.runs // 2))
    rows.append(("whole dashboard_figures service", f"{best:.0f} ms (median {median:.0f})", "reported"))
    best, median, page = _ms(lambda: flags_page(ctx, counted=False), args.runs)
    rows.append(
        (f"flags page, first page ({len(page.flags)} rows)", f"{best:.0f} ms (median {median:.0f})", "< 300 ms")
    )
    best, median, _ = _ms(lambda: count_flags_matching(ctx, FlagFilters()), args.runs)
    rows.append(("flags page, its count (asked after the rows)", f"{best:.0f} ms (median {median:.0f})", "reported"))
    best, median, page = _ms(lambda: flags_page(ctx, FlagFilters(codes=("UNDOC-COA",)), counted=False), args.runs)
    rows.append(("flags page, one rule's first page", f"{best:.0f} ms (median {median:.0f})", "< 300 ms"))
    best, median, _ = _ms(lambda: flags_page(ctx, after=page.next_key), args.runs)
    rows.append(("flags page, a further page (by key)", f"{best:.0f} ms (median {median:.0f})", "reported"))

    director = ServiceContext(db)
    sign_in(director, DIRECTOR, DIRECTOR_PASSWORD)
    changes, reads = [], []
    for run in range(args.runs):
        # Alternately removes and restores the lot's CoA reference: UNDOC-COA raised, then closed.
        value = None if run % 2 == 0 else "COA-BENCH"
        start = time.perf_counter()
        receiving.amend_lot(director, lot_id, {"coa_ref": value}, "bench")
        changes.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        found = flag_service.flags_for_lot(ctx, lot_id)
        reads.append((time.perf_counter() - start) * 1000)
        assert ("UNDOC-COA" in {f.code for f in found}) == (value is None)
    rows.append(
        (
            "a change committed (amend_lot, flags kept)",
            f"{min(changes):.0f} ms (median {statistics.median(changes):.0f})",
            "reported",
        )
    )
    rows.append(
        ("that lot's flags read after it", f"{min(reads):.1f} ms (median {statistics.median(reads):.1f})", "< 50 ms")
    )

    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        # The rules' queries only: not the reads of the stored rows the rebuild compares them with.
        if statement.lstrip().upper().startswith("SELECT") and "flag_record" not in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    start = time.perf_counter()
    result = flag_table.rebuild_flags(ctx)
    rebuild_s = time.perf_counter() - start
    event.remove(db.engine, "before_cursor_execute", capture)
    with db.read() as session:
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        start = time.perf_counter()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
        sql_s = time.perf_counter() - start
        cursor.close()
    rows.append(
        (
            f"rebuild of the current table (raised {result.raised}, closed {result.closed})",
            f"{rebuild_s:.1f} s; SQL alone {sql_s:.1f} s; ratio {rebuild_s / sql_s:.2f}x",
            "<= 3x",
        )
    )
    if not args.skip_empty_rebuild:
        with db.write() as session:
            session.execute(delete(FlagRecord))
        start = time.perf_counter()
        result = flag_table.rebuild_flags(ctx)
        empty_s = time.perf_counter() - start
        rows.append(
            (
                f"rebuild from an empty table ({result.raised:,} flags written)",
                f"{empty_s:.1f} s; ratio to SQL alone {empty_s / sql_s:.2f}x",
                "reported",
            )
        )
    db.dispose()

    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    process = subprocess.run(
        [sys.executable, __file__, "--child", "--path", str(args.path)], capture_output=True, text=True, env=env
    )
    report = json.loads(process.stdout.strip().splitlines()[-1]) if process.returncode == 0 else None
    if report:
        rows.append(("window: dashboard shown with its counts", f"{report['dashboard_s'] * 1000:.0f} ms", "reported"))
        rows.append(("window: Flags page's first rows shown", f"{report['flags_page_s'] * 1000:.0f} ms", "reported"))
        rows.append(
            ("window: resident memory / peak", f"{report['rss_mb']:.0f} / {report['peak_rss_mb']:.0f} MB", "< 500 MB")
        )
    else:
        rows.append(("window", f"failed: {process.stderr.strip().splitlines()[-1:]}", "< 500 MB"))
    width = max(len(r[0]) for r in rows)
    for what, measured, target in rows:
        print(f"{what:<{width}}  {measured:<44} target {target}")
    print(f"dashboard counts: {counts.total:,} open, {counts.waived:,} waived")
    print("load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
