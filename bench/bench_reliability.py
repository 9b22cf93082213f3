"""Reliability figures for the README: tamper trials detected, kills survived, concurrent writes checked,
fuzzed inputs tried, migrations tested. Run from the repository root:

    python bench/bench_reliability.py [--kills 20] [--tamper 500] [--cuts 200] [--writes 100] [--fuzz 500]

Each figure comes from the same checks as tests/reliability and tests/services/test_audit.py, run more times.
Truncation and record-tampering trials (issue 17) work on a copy of the populated registry each, with
sqlite3 as an attacker with the file would: the trail cut by k entries with its head repointed, or one column
of one audited row changed.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry_app.db import Database, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.importers.gs1 import ScanError, parse_scan
from registry_app.services import ServiceContext, anchors, audit, audit_records
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


def _cut_trail(path: Path, rng: random.Random) -> int:
    """Cut the last k entries (and their record hashes) and repoint the head, as sqlite3 allows; returns k."""
    connection = sqlite3.connect(path)
    last = connection.execute("SELECT max(seq) FROM audit_entry").fetchone()[0]
    k = rng.randint(1, min(10, last - 1))
    connection.executescript(
        "DROP TRIGGER audit_entry_no_update; DROP TRIGGER audit_entry_no_delete;"
        f"DELETE FROM audit_row_hashes WHERE seq > {last - k}; DELETE FROM audit_entry WHERE seq > {last - k};"
        "UPDATE setting SET value = (SELECT seq || ':' || entry_hash FROM audit_entry ORDER BY seq DESC LIMIT 1) "
        "WHERE key = 'audit_head';"
    )
    connection.commit()
    connection.close()
    return k


def _changed(value: object, rng: random.Random) -> object:
    """A different value of the same kind (never one that reads back as the same record)."""
    if value is None:
        return rng.choice((1, "x"))
    if isinstance(value, int | float):
        return value + rng.choice((1, -1, 0.5))
    text = str(value)
    return text[:-1] + ("Y" if text[-1:] != "Y" else "Z") if text else "x"


def _tamper_record(path: Path, rng: random.Random) -> str:
    """Change one hashed column of one audited row (not its id); returns what was changed, '' if refused."""
    connection = sqlite3.connect(path)
    try:
        tables = [t for t in audit_records.AUDITED if connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0]]
        table = rng.choice(tables)
        columns = audit_records.hashed_columns(audit_records.audited_table(table))
        column = rng.choice([c for c in columns if c != "id"])
        (row_id,) = rng.choice(connection.execute(f"SELECT id FROM {table}").fetchall())
        (value,) = connection.execute(f'SELECT "{column}" FROM {table} WHERE id = ?', (row_id,)).fetchone()
        connection.execute(f'UPDATE {table} SET "{column}" = ? WHERE id = ?', (_changed(value, rng), row_id))
        connection.commit()
    except sqlite3.IntegrityError:  # a NOT NULL, CHECK, foreign key or UNIQUE constraint refused it
        return ""
    finally:
        connection.close()
    return f"{table}.{column} of row {row_id}"


def truncation_and_record_trials(template: Path, folder: Path, rng: random.Random, trials: int) -> None:
    populated = copy(template, folder, "populated.sqlite3")
    db = Database(sqlite_url_for(populated))
    populate_trail(db, rng, transactions=40)
    head = audit.current_head(db)  # the head an earlier verify kept on this computer
    db.dispose()  # checkpoints the WAL: each copy of the file is the whole registry
    start, by_chain, by_head, times = time.perf_counter(), 0, 0, []
    for trial in range(trials):
        path = copy(populated, folder, f"cut-{trial}.sqlite3")
        _cut_trail(path, rng)
        db = Database(sqlite_url_for(path))
        began = time.perf_counter()
        with db.read() as session:
            alone = audit.verify_registry(session)
            kept = anchors.anchor_problem(session, head)
        times.append(time.perf_counter() - began)
        by_chain += not alone.ok
        by_head += (not alone.ok) or kept is not None
        db.dispose()
        path.unlink()
    print(
        f"truncation trials (1-10 entries cut, head repointed): {by_head}/{trials} detected against the kept head "
        f"({by_chain} by the chain and records alone); verify {1000 * sum(times) / len(times):.0f} ms each, "
        f"{time.perf_counter() - start:.1f} s"
    )
    start, detected, tried, times, missed = time.perf_counter(), 0, 0, [], []
    for trial in range(trials):
        path = copy(populated, folder, f"record-{trial}.sqlite3")
        what = _tamper_record(path, rng)
        if what:
            tried += 1
            db = Database(sqlite_url_for(path))
            began = time.perf_counter()
            result = audit.verify(db)
            times.append(time.perf_counter() - began)
            detected += result.record_problem is not None
            if result.ok:
                missed.append(what)
            db.dispose()
        path.unlink()
    print(
        f"record tampering trials (one column of one audited row, sqlite3): {detected}/{tried} detected and named "
        f"({trials - tried} refused by a constraint); verify {1000 * sum(times) / max(1, len(times)):.0f} ms each, "
        f"{time.perf_counter() - start:.1f} s" + (f"; missed: {missed[:3]}" if missed else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--tamper", type=int, default=500, help="trials per kind of tampering")
    parser.add_argument("--cuts", type=int, default=200, help="truncation and record-tampering trials each")
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
        truncation_and_record_trials(template, folder, rng, args.cuts)

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
