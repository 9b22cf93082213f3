"""Reliability figures for the README: tamper trials detected, kills survived, concurrent writes checked,
fuzzed inputs tried, migrations tested. Run from the repository root:

    python bench/bench_reliability.py [--kills 20] [--tamper 500] [--writes 100] [--fuzz 500]

Each figure comes from the same checks as tests/reliability and tests/services/test_audit.py, run more times.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry_app.db import Database, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.importers.gs1 import ScanError, parse_scan
from registry_app.services import ServiceContext
from registry_app.services.auth import create_first_user, create_user
from tests.reliability.harness import (
    concurrent_administrations,
    kill_administrations_trial,
    kill_import_trial,
)
from tests.reliability.tamper import KINDS, populate_trail, run_trial, trail_rows, user_ids
from tests.reliability.workers import write_lot_file
from tests.services.use_data import make_lot, make_product

PASSWORD = "bench-password"


def fresh_registry(folder: Path) -> Path:
    path = folder / "template.sqlite3"
    db = open_database(sqlite_url_for(path))
    ctx = ServiceContext(db)
    ctx.actor = create_first_user(ctx, "admin", "admin", PASSWORD)
    create_user(ctx, "pharmacist", "pharmacist", PASSWORD)
    db.dispose()
    return path


def copy(template: Path, folder: Path, name: str) -> Path:
    path = folder / name
    shutil.copyfile(template, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--tamper", type=int, default=500, help="trials per kind of tampering")
    parser.add_argument("--writes", type=int, default=100, help="administrations per writer process")
    parser.add_argument("--fuzz", type=int, default=5000, help="fuzzed scanner inputs")
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"seed {args.seed}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        template = fresh_registry(folder)

        start = time.perf_counter()
        path = copy(template, folder, "tamper.sqlite3")
        db = Database(sqlite_url_for(path))
        populate_trail(db, rng, transactions=40)
        rows, users = trail_rows(db.engine), user_ids(db.engine)
        for kind in KINDS:
            detected = 0
            for _ in range(args.tamper):
                trial = run_trial(db.engine, kind, rng, rows, users)
                detected += (not trial.result.ok) and trial.result.first_broken_seq == trial.expected_seq
            print(
                f"tamper trials ({kind}): {detected}/{args.tamper} detected at the right entry "
                f"({len(rows)}-entry trail)"
            )
        db.dispose()
        print(f"  {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        path = copy(template, folder, "kills.sqlite3")
        url = sqlite_url_for(path)
        db = Database(url)
        lot_id = make_lot(db, make_product(db, routes=("topical_post_microneedling",)), quantity=10**7)
        db.dispose()
        survived = saved = 0
        for trial in range(args.kills):
            check = kill_administrations_trial(url, path, lot_id, PASSWORD, rng, f"b{trial}")
            survived += not check.problems
            saved += check.saved
            for problem in check.problems:
                print(f"  trial {trial}: {problem}")
        print(
            f"SIGKILL during administration bursts: {survived}/{args.kills} survived intact "
            f"({saved} administrations reported saved, all checked)  {time.perf_counter() - start:.1f} s"
        )

        start = time.perf_counter()
        lot_file = write_lot_file(folder / "lots.csv", 1000)
        survived, outcomes = 0, []
        for trial in range(args.kills):
            path = copy(template, folder, f"import-{trial}.sqlite3")
            check, outcome = kill_import_trial(sqlite_url_for(path), path, lot_file, 1000, PASSWORD, rng, 4.0)
            survived += not check.problems
            outcomes.append(outcome)
            for problem in check.problems:
                print(f"  trial {trial}: {problem}")
        print(
            f"SIGKILL during 1000-lot imports: {survived}/{args.kills} all-or-nothing "
            f"({outcomes.count('absent')} absent, {outcomes.count('present')} complete)  "
            f"{time.perf_counter() - start:.1f} s"
        )

        start = time.perf_counter()
        path = copy(template, folder, "concurrent.sqlite3")
        url = sqlite_url_for(path)
        db = Database(url)
        lot_id = make_lot(db, make_product(db, routes=("topical_post_microneedling",)), quantity=10**7)
        check = concurrent_administrations(url, db, lot_id, PASSWORD, per_process=args.writes)
        db.dispose()
        print(
            f"concurrent writes (2 processes, one SQLite file): {check.saved} checked, "
            f"{len(check.problems)} problems {check.problems[:2]}  {time.perf_counter() - start:.1f} s"
        )

        start = time.perf_counter()
        clear, crashes = 0, set()
        alphabet = "0123456789()]C1d2\x1d~ABCxyz-/"
        for _ in range(args.fuzz):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            try:
                parse_scan(text, "~")
                clear += 1
            except ScanError:
                clear += 1
            except Exception as error:  # a crash: what the fuzzing is for
                crashes.add(f"{text!r}: {type(error).__name__}")
        print(
            f"fuzzed GS1 scans: {clear}/{args.fuzz} parsed or refused with a ScanError  "
            f"{time.perf_counter() - start:.1f} s"
        )
        for crash in sorted(crashes, key=len)[:3]:
            print(f"  CRASH {crash}")

        fixtures = sorted((Path(__file__).resolve().parents[1] / "tests" / "db" / "fixtures").glob("*.sqlite3"))
        for fixture in fixtures:
            path = copy(fixture, folder, fixture.name)
            open_database(sqlite_url_for(path)).dispose()
        print(
            f"migrations tested with data: {len(fixtures)} populated registries upgraded to head "
            "(tests/reliability/test_migrations_with_data.py checks counts and checksums)"
        )


if __name__ == "__main__":
    main()
