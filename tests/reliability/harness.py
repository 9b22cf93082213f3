"""Trials that try to break the registry from outside: kill a writing process, run writers side by side.
Used by the tests in this folder (a few trials) and by bench/bench_reliability.py (many)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from registry_app.db import Database
from registry_app.domain import Administration, AuditEntry, Lot
from registry_app.services.audit import verify

REPO = Path(__file__).resolve().parents[2]


def start_worker(*args: str, password: str) -> subprocess.Popen[str]:
    env = dict(os.environ, REGISTRY_PASSWORD=password, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.workers", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_started(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "started":
        process.kill()
        raise AssertionError(f"worker did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
    return []


def integrity(path: str | Path) -> str:
    with sqlite3.connect(path, timeout=30) as conn:
        result = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    conn.close()
    return result


@dataclass
class Check:
    """What one trial found; `problems` empty means the registry came through intact."""

    saved: int = 0
    problems: list[str] = field(default_factory=list)


def check_administrations(db: Database, lot_id: int, saved: dict[int, float], check: Check) -> None:
    """Every administration reported saved is there with its quantity; the lot's stock matches its rows."""
    with db.read() as session:
        rows = dict(
            session.execute(
                select(Administration.id, Administration.quantity).where(Administration.lot_id == lot_id)
            ).all()
        )
        stock = session.execute(select(Lot.quantity_administered).where(Lot.id == lot_id)).scalar_one()
        entries = session.execute(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "record administration")
        ).scalar_one()
    lost = [i for i in saved if i not in rows]
    if lost:
        check.problems.append(f"administrations reported saved but missing: {lost[:5]}")
    if any(rows.get(i) != q for i, q in saved.items() if i in rows):
        check.problems.append("an administration's quantity differs from the one saved")
    if abs(sum(q or 0 for q in rows.values()) - stock) > 1e-6:
        check.problems.append(f"lot stock {stock} != sum of its administrations {sum(rows.values())}")
    if entries != len(rows):
        check.problems.append(f"{len(rows)} administrations but {entries} audit entries")
    result = verify(db)
    if not result.ok:
        check.problems.append(result.describe())


def parse_saved(lines: list[str]) -> dict[int, float]:
    saved = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "saved":
            saved[int(parts[1])] = float(parts[2])
    return saved


def kill_administrations_trial(url: str, path: Path, lot_id: int, password: str, rng: random.Random, tag: str) -> Check:
    """Kill a burst of administrations at a random moment; everything reported saved must be there."""
    process = start_worker("administrations", url, str(lot_id), "100000", tag, password=password)
    wait_started(process)
    time.sleep(rng.uniform(0.02, 1.2))
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate()
    saved = parse_saved(out.splitlines())
    check = Check(saved=len(saved))
    if (state := integrity(path)) != "ok":
        check.problems.append(f"integrity_check: {state}")
    db = Database(url)
    try:
        check_administrations(db, lot_id, saved, check)
    finally:
        db.dispose()
    return check


def kill_import_trial(
    url: str, path: Path, lot_file: Path, rows: int, password: str, rng: random.Random, window: float
) -> tuple[Check, str]:
    """Kill an import at a random moment within `window` seconds of its start: all its lots or none."""
    process = start_worker("import", url, str(lot_file), password=password)
    wait_started(process)
    time.sleep(rng.uniform(0.0, window))
    process.send_signal(signal.SIGKILL)
    process.communicate()
    check = Check()
    if (state := integrity(path)) != "ok":
        check.problems.append(f"integrity_check: {state}")
    db = Database(url)
    try:
        with db.read() as session:
            lots = session.execute(select(func.count(Lot.id))).scalar_one()
            imports = session.execute(
                select(func.count(AuditEntry.id)).where(AuditEntry.action.like("import%"))
            ).scalar_one()
        result = verify(db)
    finally:
        db.dispose()
    if lots not in (0, rows):
        check.problems.append(f"half an import: {lots} of {rows} lots")
    if (lots == rows) != (imports == 1):
        check.problems.append(f"{lots} lots but {imports} import entries in the audit trail")
    if not result.ok:
        check.problems.append(result.describe())
    return check, "present" if lots == rows else "absent"


def concurrent_administrations(
    url: str, db: Database, lot_id: int, password: str, per_process: int, processes: int = 2
) -> Check:
    """Writers in separate interpreters record administrations of one lot at once: none may be lost, none
    may see "database is locked", and the lot's stock must equal the sum of what they saved."""
    workers = [
        start_worker("administrations", url, str(lot_id), str(per_process), f"w{i}", password=password)
        for i in range(processes)
    ]
    saved: dict[int, float] = {}
    check = Check()
    for process in workers:
        out, err = process.communicate(timeout=600)
        saved |= parse_saved(out.splitlines())
        if process.returncode != 0 or "locked" in err.lower():
            check.problems.append(f"worker failed ({process.returncode}): {err.strip().splitlines()[-1:]}")
    check.saved = len(saved)
    if len(saved) != per_process * processes:
        check.problems.append(f"{len(saved)} of {per_process * processes} administrations reported saved")
    check_administrations(db, lot_id, saved, check)
    return check
