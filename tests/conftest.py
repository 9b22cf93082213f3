"""Shared fixtures: one migrated template registry per test session, copied for each test.

SQLite (the default): the template is a file, copied per test. PostgreSQL: set REGISTRY_TEST_DATABASE_URL to a
server URL (e.g. postgresql://postgres@/postgres?host=/tmp/pg) and the template is a database that each test
clones with CREATE DATABASE ... TEMPLATE. Tests that use a registry are marked `db` automatically, so
`pytest -m db` is "the database tests", which .ci/run runs again against a real PostgreSQL server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The tests' logs (the launcher configures logging on each in-process command) stay out of the user's folder.
os.environ.setdefault("REGISTRY_LOG_DIR", tempfile.mkdtemp(prefix="registry-test-logs-"))
# ... and so do the audit heads kept after each verify (services/anchors.py).
os.environ.setdefault("REGISTRY_ANCHOR_DIR", tempfile.mkdtemp(prefix="registry-test-anchors-"))

from registry_app.db import Database, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.services import Actor, ServiceContext, auth, passwords
from registry_app.services.auth import create_first_user, create_user

# TEST-ONLY: hashes at scrypt N=2**10 instead of the application's OWASP cost (N=2**17, 128 MiB, ~0.5 s each),
# or the thousands of sign-ins of the suite would take an hour. tests/security checks the application's default
# in a fresh process. Subprocesses the tests start (tests/reliability) run at the real cost.
passwords.lower_cost_for_tests()


def _zone_far_from_midnight(now: datetime) -> str:
    """A POSIX TZ whose local time is now between 06:00 and 07:00: the local date then stays the same for 17 hours.
    The tests compare dates they computed (often at import) with the services' `date.today()`; a run that crossed
    local midnight failed where those two met a day apart. Every process of the run (the CLI subprocesses, the
    reliability workers, Qt) reads TZ, so all of them agree on the day. The code must be right in any zone (a
    clinic's machine is rarely on UTC), so moving the zone hides nothing: the suite also passes at UTC-3 late in
    the evening, where the local and UTC dates differ."""
    offset = (6 - now.astimezone(UTC).hour) % 24
    if offset > 12:
        offset -= 24  # UTC-11 .. UTC+12, the zones that exist
    return f"<{offset:+03d}>{-offset:+d}"  # POSIX counts west of Greenwich as positive


# REGISTRY_TEST_TZ runs the suite in a zone of one's choosing (e.g. Asia/Seoul, or EST5 for five hours behind UTC).
os.environ["TZ"] = os.environ.get("REGISTRY_TEST_TZ") or _zone_far_from_midnight(datetime.now(UTC))
time.tzset()


PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL")
UI_TESTS = Path(__file__).parent / "ui"
DB_FIXTURES = {
    "empty_database_url",
    "database_url",
    "db",
    "registry",
    "admin",
    "pharmacist",
    "director",
    "inspector",
    "template_users",
}

# Every test registry has one user per role with these passwords.
PASSWORDS = {
    "admin": "admin-password",
    "pharmacist": "pharmacist-password",
    "director": "director-password",
    "inspector": "inspector-password",
}
ROLES = {"admin": "admin", "pharmacist": "pharmacist", "director": "medical_director", "inspector": "inspector"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("sqlite_only") is None:
            item.add_marker(pytest.mark.db)
        if UI_TESTS in item.path.parents:
            item.add_marker(pytest.mark.qt)


@pytest.fixture(autouse=True)
def _qapplication_for_qt_tests(request: pytest.FixtureRequest) -> object:
    """One QApplication (pytest-qt's session-wide `qapp`) for the tests that use Qt, made before they run.

    Only those: the core (services, rules, importers, CLI) runs and passes with no Qt installed, which CI checks.
    Tests that write a PDF are marked `qt` too: the report writer makes a bare QGuiApplication when it finds
    none (as the CLI needs), and a widget test after it would then abort the process ("Cannot create a QWidget
    without QApplication")."""
    if request.node.get_closest_marker("qt") is None:
        return None
    return request.getfixturevalue("qapp")


@pytest.fixture(autouse=True)
def sign_in_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The growing delay after each failed sign-in (services/auth.py FailureDelay), recorded instead of slept:
    no test waits, and a test that asks for this fixture sees the delays that would have been."""
    waited: list[float] = []
    monkeypatch.setattr(auth.FAILURE_DELAY, "sleep", waited.append)
    return waited


def _populate_template(url: str) -> dict[str, Actor]:
    database = open_database(url)
    ctx = ServiceContext(database)
    actors = {"admin": create_first_user(ctx, "admin", "admin", PASSWORDS["admin"], "Ada Admin")}
    ctx.actor = actors["admin"]
    names = {"pharmacist": "Lee Pharmacist", "director": "Dana Director", "inspector": "Ian Inspector"}
    for key, full_name in names.items():
        user_id = create_user(ctx, key, ROLES[key], PASSWORDS[key], full_name)
        actors[key] = Actor(user_id, key, ROLES[key], full_name)
    database.dispose()
    return actors


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Actor]]]:
    if PG_URL:
        server = make_url(PG_URL)
        name = f"registry_template_{uuid.uuid4().hex[:8]}"
        # Pre-ping: tests/db/test_server_restart.py restarts the server, which ends the pooled connections.
        admin_engine = create_engine(server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        actors = _populate_template(url)
        yield url, actors
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        actors = _populate_template(sqlite_url_for(path))
        # Fold the WAL into the main file so a plain file copy is the whole registry.
        engine = create_engine(sqlite_url_for(path))
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("PRAGMA journal_mode = DELETE")
        engine.dispose()
        yield str(path), actors


@pytest.fixture
def template_users(_template: tuple[str, dict[str, Actor]]) -> dict[str, Actor]:
    return _template[1]


@pytest.fixture
def database_url(_template: tuple[str, dict[str, Actor]], tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated registry with one user per role, for this test only."""
    template, _ = _template
    if PG_URL:
        server = make_url(PG_URL)
        name = f"registry_test_{uuid.uuid4().hex[:10]}"
        template_name = make_url(template).database
        admin_engine = create_engine(server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    else:
        path = tmp_path / "registry.sqlite3"
        shutil.copyfile(template, path)
        yield sqlite_url_for(path)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it (no schema), for migration tests."""
    if PG_URL:
        server = make_url(PG_URL)
        name = f"registry_empty_{uuid.uuid4().hex[:10]}"
        admin_engine = create_engine(server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    else:
        yield sqlite_url_for(tmp_path / "empty.sqlite3")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _context(db: Database, actor: Actor) -> ServiceContext:
    return ServiceContext(db, actor)


@pytest.fixture
def admin(db: Database, template_users: dict[str, Actor]) -> ServiceContext:
    return _context(db, template_users["admin"])


@pytest.fixture
def pharmacist(db: Database, template_users: dict[str, Actor]) -> ServiceContext:
    return _context(db, template_users["pharmacist"])


@pytest.fixture
def director(db: Database, template_users: dict[str, Actor]) -> ServiceContext:
    return _context(db, template_users["director"])


@pytest.fixture
def inspector(db: Database, template_users: dict[str, Actor]) -> ServiceContext:
    return _context(db, template_users["inspector"])


@pytest.fixture
def registry(db: Database) -> ServiceContext:
    """The registry with nobody signed in."""
    return ServiceContext(db)
