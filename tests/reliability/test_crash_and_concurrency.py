"""SIGKILL during writes and writers side by side (issue 10, items 1 and 2). A few trials here, in CI;
bench/bench_reliability.py runs many more and prints the figures."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from registry_app.db import Database
from registry_app.db.engine import sqlite_url_for

from ..conftest import PASSWORDS
from ..helpers import sqlite_only
from ..services.use_data import make_lot, make_product
from .harness import concurrent_administrations, kill_administrations_trial, kill_import_trial
from .workers import write_lot_file

KILLS = int(os.environ.get("REGISTRY_KILL_TRIALS", "3"))


def _released_lot(db: Database) -> int:
    product = make_product(db, routes=("topical_post_microneedling",))
    return make_lot(db, product, quantity=1_000_000)


@pytest.mark.slow
@sqlite_only()
def test_killed_burst_of_administrations_loses_nothing_reported_saved(database_url: str) -> None:
    path = Path(make_url(database_url).database or "")
    db = Database(database_url)
    lot_id = _released_lot(db)
    db.dispose()
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    saved = 0
    for trial in range(KILLS):
        check = kill_administrations_trial(database_url, path, lot_id, PASSWORDS["pharmacist"], rng, f"k{trial}")
        assert not check.problems, (seed, trial, check.problems)
        saved += check.saved
    print(f"administration bursts killed: {KILLS}, {saved} reported saved, all present (seed {seed})")
    assert saved > 0, "the kills came after some administrations were saved"


@pytest.mark.slow
@sqlite_only()
def test_killed_import_is_all_or_nothing(database_url: str, tmp_path: Path) -> None:
    template = Path(make_url(database_url).database or "")
    lot_file = write_lot_file(tmp_path / "lots.csv", 800)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    outcomes = []
    for trial in range(KILLS):
        path = tmp_path / f"trial-{trial}.sqlite3"
        shutil.copyfile(template, path)
        check, outcome = kill_import_trial(
            sqlite_url_for(path), path, lot_file, 800, PASSWORDS["pharmacist"], rng, window=2.5
        )
        assert not check.problems, (seed, trial, check.problems)
        outcomes.append(outcome)
    print(
        f"imports killed: {KILLS} ({outcomes.count('absent')} left nothing, {outcomes.count('present')} "
        f"completed before the kill), seed {seed}"
    )


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(database_url: str, db: Database) -> None:
    lot_id = _released_lot(db)
    check = concurrent_administrations(database_url, db, lot_id, PASSWORDS["pharmacist"], per_process=25)
    assert not check.problems, check.problems
    print(f"concurrent writes checked: {check.saved} administrations from 2 processes on one lot")
