"""Migrations: upgrade from empty, downgrade to base and back, models equal migrations, newer refused."""

from __future__ import annotations

import json
import shutil
import time
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from registry_app.db import DatabaseTooNew, open_database
from registry_app.db.engine import create_registry_engine, sqlite_url_for
from registry_app.db.migrate import HEAD_REVISION, current_revision, downgrade, head_revision, upgrade
from registry_app.domain import Base, Lot
from registry_app.services import ServiceContext, audit, products
from registry_app.services.context import Actor
from registry_app.services.lots import lifecycle, receiving

from ..conftest import PASSWORDS

# The newest entry before 0010's "grant roles" (which a registry with users gets right after the baseline).
BASELINE_ENTRY = "SELECT seq, action, records FROM audit_entry WHERE action <> 'grant roles' ORDER BY seq DESC"


def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_creates_every_table_and_downgrade_removes_them(empty_database_url: str) -> None:
    engine = create_registry_engine(empty_database_url)
    try:
        assert _tables(engine) == set()
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert _tables(engine) == set(Base.metadata.tables)
        downgrade(engine, "base")
        assert _tables(engine) == set()
        assert current_revision(engine) is None
        upgrade(engine)
        assert _tables(engine) == set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    """What `alembic check` does: autogenerate finds no difference between models and the migrated schema."""
    engine = create_registry_engine(empty_database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection, warnings.catch_warnings():
            # SQLite's reflection cannot read an index on an expression (the lots' stock on hand), so autogenerate
            # skips it there; the next test checks it exists. PostgreSQL reflects and compares it.
            warnings.filterwarnings("ignore", message=".*expression-based index ix_lot_on_hand")
            warnings.filterwarnings("ignore", message=".*expression-based index 'ix_lot_on_hand'")
            # ... nor the lots' key per site (0011, coalescing a missing site), which test_0011 checks by use.
            warnings.filterwarnings("ignore", message=".*expression-based index '?ux_lot_product_lot_number_site")
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_on_hand_index_exists_and_sorts_the_lots(empty_database_url: str) -> None:
    engine = create_registry_engine(empty_database_url)
    try:
        upgrade(engine)
        on_hand = "lot.quantity_received - lot.quantity_administered - lot.quantity_destroyed"
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                plan = " ".join(
                    str(row[-1])
                    for row in connection.exec_driver_sql(
                        f"EXPLAIN QUERY PLAN SELECT id FROM lot ORDER BY {on_hand} DESC, id DESC LIMIT 10"
                    )
                )
                assert "ix_lot_on_hand" in plan and "TEMP B-TREE" not in plan, plan
            else:
                names = connection.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'lot'")
                assert "ix_lot_on_hand" in names.scalars().all()
    finally:
        engine.dispose()


def test_a_lot_number_search_in_the_default_order_reads_the_index_alone(empty_database_url: str) -> None:
    engine = create_registry_engine(empty_database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                plan = " ".join(
                    str(row[-1])
                    for row in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN SELECT id, received_date || '' AS k FROM lot "
                        "WHERE lot_number >= 'PLI23' AND lot_number < 'PLI24' ORDER BY k DESC, id DESC LIMIT 101"
                    )
                )
                assert "COVERING INDEX ix_lot_lot_number_received" in plan, plan
            else:
                names = connection.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'lot'")
                assert {"ix_lot_lot_number_received"} <= set(names.scalars().all())
    finally:
        engine.dispose()


def test_0004_gives_lots_the_local_dates_of_their_release_and_rejection(
    database_url: str, template_users: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = open_database(database_url)
    ctx = ServiceContext(database)
    ctx.actor = template_users["director"]
    try:
        product_id = products.create_product(
            ctx, {"name": "Rosa Vesicle Serum", "product_type": "exosome", "unit": "ampoule"}
        )
        kept, released, rejected = (
            receiving.receive_lot(ctx, product_id, {"lot_number": number, "quantity_received": 5}).lot_id
            for number in ("RV-1", "RV-2", "RV-3")
        )
        lifecycle.release_lot(
            ctx,
            released,
            PASSWORDS["director"],
            acknowledged=[f.code for f in lifecycle.findings_to_acknowledge(ctx, released)],
        )
        lifecycle.reject_lot(ctx, rejected, "arrived warm", password=PASSWORDS["director"])
        downgrade(database.engine, "0003")
        with database.engine.begin() as connection:
            assert not {"released_on", "rejected_on"} & {c["name"] for c in inspect(connection).get_columns("lot")}
            # Released at 03:00 UTC on 10 March: still 9 March on the clinic's clock, five hours behind UTC.
            connection.execute(
                text("UPDATE lot SET released_at = :at WHERE id = :id"),
                {"at": datetime(2026, 3, 10, 3, 0), "id": released},
            )
            rejected_at = connection.execute(
                text("SELECT max(occurred_at) FROM audit_entry WHERE action = 'reject lot'")
            ).scalar_one()
        with monkeypatch.context() as clock:
            clock.setenv("TZ", "EST5")  # POSIX: UTC-5, no time zone database needed
            time.tzset()
            upgrade(database.engine)
            rejected_at = rejected_at if isinstance(rejected_at, datetime) else datetime.fromisoformat(rejected_at)
            rejected_on = rejected_at.replace(tzinfo=UTC).astimezone().date()
        time.tzset()
        with database.read() as session:
            dates = {
                lot_id: (on, off)
                for lot_id, on, off in session.execute(
                    select(Lot.id, Lot.released_on, Lot.rejected_on).where(Lot.id.in_((kept, released, rejected)))
                )
            }
        assert dates == {kept: (None, None), released: (date(2026, 3, 9), None), rejected: (None, rejected_on)}
    finally:
        database.dispose()


def _signature_meanings_accepted(database, meanings: tuple[str, ...]) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """For each meaning, whether the signature table's CHECK accepts it (tried in a rolled-back savepoint)."""
    accepted = {}
    with database.engine.begin() as connection:
        user_id = connection.execute(text("SELECT min(id) FROM app_user")).scalar_one()
        for meaning in meanings:
            savepoint = connection.begin_nested()
            try:
                connection.execute(
                    text(
                        "INSERT INTO signature (user_id, signer_name, meaning, subject_type, subject_id, "
                        "content_hash, signed_at) VALUES (:user, 'x', :meaning, 'lot', '1', :hash, :at)"
                    ),
                    {"user": user_id, "meaning": meaning, "hash": "0" * 64, "at": datetime(2026, 12, 4)},
                )
                accepted[meaning] = True
            except Exception:  # the CHECK's IntegrityError, whose class differs between the drivers
                accepted[meaning] = False
            savepoint.rollback()
    return accepted


def test_0007_lets_rejections_and_destructions_be_signed_and_keeps_the_signatures(
    database_url: str, template_users: dict[str, Actor]
) -> None:
    database = open_database(database_url)
    ctx = ServiceContext(database)
    ctx.actor = template_users["director"]
    try:
        product_id = products.create_product(
            ctx, {"name": "Salmon PN", "product_type": "polynucleotide", "unit": "syringe"}
        )
        lot_id = receiving.receive_lot(ctx, product_id, {"lot_number": "PN-7", "quantity_received": 5}).lot_id
        acknowledged = [f.code for f in lifecycle.findings_to_acknowledge(ctx, lot_id)]
        lifecycle.release_lot(ctx, lot_id, PASSWORDS["director"], acknowledged=acknowledged)
        downgrade(database.engine, "0006")
        assert _signature_meanings_accepted(database, ("released", "rejected", "destroyed")) == {
            "released": True,
            "rejected": False,
            "destroyed": False,
        }
        upgrade(database.engine)
        assert _signature_meanings_accepted(database, ("released", "rejected", "destroyed", "deleted")) == {
            "released": True,
            "rejected": True,
            "destroyed": True,
            "deleted": False,
        }
        with database.read() as session:
            lot = session.get(Lot, lot_id)
            assert lot is not None and lot.status == "released" and lot.release_signature_id is not None
        lifecycle.destroy_lot(ctx, lot_id, "expired", password=PASSWORDS["director"])
        # With a destruction signed, going back keeps the wider CHECK rather than refuse a kept signature.
        downgrade(database.engine, "0006")
        assert _signature_meanings_accepted(database, ("destroyed",)) == {"destroyed": True}
        upgrade(database.engine)
    finally:
        database.dispose()


def test_new_registry_has_a_first_site_in_us_and_an_audit_head(empty_database_url: str) -> None:
    database = open_database(empty_database_url)
    try:
        with database.read() as session:
            assert session.execute(text("SELECT code, jurisdiction FROM site")).all() == [("main", "US")]
            head = session.execute(text("SELECT value FROM setting WHERE key = 'audit_head'")).scalar_one()
            # The first entry records the first site (migration 0008's baseline), so the site is covered too.
            first = session.execute(text("SELECT action, entry_hash FROM audit_entry")).one()
            assert first.action == "record baseline"
            assert head == f"1:{first.entry_hash}"
    finally:
        database.dispose()


def test_a_database_from_a_newer_version_is_refused(empty_database_url: str) -> None:
    database = open_database(empty_database_url)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    database.dispose()
    with pytest.raises(DatabaseTooNew, match="newer version"):
        open_database(empty_database_url)


def test_opening_migrates_an_empty_file_to_head(empty_database_url: str) -> None:
    database = open_database(empty_database_url)
    try:
        assert current_revision(database.engine) == head_revision()
    finally:
        database.dispose()


def test_the_fast_path_knows_the_real_head() -> None:
    """open_database skips Alembic for a registry at HEAD_REVISION: it must be the newest migration."""
    assert head_revision() == HEAD_REVISION


def test_opening_a_registry_at_head_does_not_load_alembic(database_url: str) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from registry_app.db import open_database; "
        f"open_database({database_url!r}).dispose(); "
        "print(any(m == 'alembic' or m.startswith('alembic.') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_0008_records_every_row_of_a_populated_registry_in_one_baseline_entry(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "registry-0001.sqlite3", path)
    engine = create_registry_engine(sqlite_url_for(path))
    upgrade(engine, "0006")
    with engine.begin() as connection:
        seq_before = connection.execute(text("SELECT max(seq) FROM audit_entry")).scalar_one()
        lot_id, lot_number = connection.execute(text("SELECT id, lot_number FROM lot ORDER BY id")).first()
        lots = connection.execute(text("SELECT count(*) FROM lot")).scalar_one()
    engine.dispose()
    database = open_database(sqlite_url_for(path))
    try:
        with database.read() as session:
            entry = session.execute(text(BASELINE_ENTRY)).first()
        assert (entry.seq, entry.action) == (seq_before + 1, "record baseline")
        assert json.loads(entry.records)["lot"]["rows"] == lots
        assert audit.verify(database).ok
        # From here on the records are checked: a lot changed behind the registry's back is named.
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE lot SET status = 'rejected' WHERE id = :id"), {"id": lot_id})
        result = audit.verify(database)
        assert not result.ok
        assert (
            f"lot {lot_id} ({lot_number}) differs from what audit entry {seq_before + 1} recorded" in result.describe()
        )
    finally:
        database.dispose()


def test_0008_baseline_on_either_database(empty_database_url: str) -> None:
    """Migration 0008 on a registry with records at 0007 (SQLite or, with REGISTRY_TEST_DATABASE_URL, PostgreSQL):
    one baseline entry records every row, the registry verifies, and a lot changed afterwards is named."""
    engine = create_registry_engine(empty_database_url)
    upgrade(engine, "0007")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO product (name, name_key, product_type, unit, created_at) "
                "VALUES ('Salmon PN', 'salmon pn', 'polynucleotide', 'syringe', :now)"
            ),
            {"now": datetime(2026, 1, 2, 3, 4, 5, 600000)},
        )
        product_id = connection.execute(text("SELECT id FROM product")).scalar_one()
        site_id = connection.execute(text("SELECT id FROM site")).scalar_one()
        for number, quantity in (("PN-1", "2.5"), ("PN-2", "0.1"), ("PN-3", "10")):
            connection.execute(
                text(
                    "INSERT INTO lot (product_id, site_id, lot_number, quantity_received, quantity_administered, "
                    "quantity_destroyed, status, received_date, created_at) VALUES (:product, :site, :number, "
                    ":quantity, 0, 0, 'quarantine', :received, :now)"
                ),
                {
                    "product": product_id,
                    "site": site_id,
                    "number": number,
                    "quantity": float(quantity) if engine.dialect.name == "sqlite" else Decimal(quantity),
                    "received": date(2026, 1, 2),
                    "now": datetime(2026, 1, 2, 3, 4, 5),
                },
            )
        seq_before = connection.execute(text("SELECT coalesce(max(seq), 0) FROM audit_entry")).scalar_one()
    engine.dispose()
    database = open_database(empty_database_url)
    try:
        with database.read() as session:
            entry = session.execute(text(BASELINE_ENTRY)).first()
        assert entry is not None and (entry.seq, entry.action) == (seq_before + 1, "record baseline")
        assert json.loads(entry.records)["lot"]["rows"] == 3
        result = audit.verify(database)
        assert result.ok and result.records_checked, result.describe()
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE lot SET quantity_received = 3 WHERE lot_number = 'PN-2'"))
        result = audit.verify(database)
        assert not result.ok and f"(PN-2) differs from what audit entry {seq_before + 1} recorded" in result.describe()
    finally:
        database.dispose()


def test_0009_creates_the_flag_table_empty_and_the_first_change_builds_it(
    database_url: str, template_users: dict[str, Actor]
) -> None:
    from registry_app.rules import evaluate_flags, table
    from registry_app.rules.table_read import stored_flags

    database = open_database(database_url)
    ctx = ServiceContext(database)
    ctx.actor = template_users["director"]
    try:
        product_id = products.create_product(
            ctx, {"name": "Rosa Vesicle Serum", "product_type": "exosome", "unit": "ml"}
        )
        receiving.receive_lot(ctx, product_id, {"lot_number": "RV-1", "quantity_received": 5})
        downgrade(database.engine, "0008")
        with database.engine.begin() as connection:
            assert "flag_record" not in inspect(connection).get_table_names()
            assert connection.execute(text("SELECT count(*) FROM setting WHERE key = 'flag_table'")).scalar() == 0
        upgrade(database.engine)
        with database.read() as session:
            assert session.execute(text("SELECT count(*) FROM flag_record")).scalar_one() == 0
            assert table.built_for(session) is None
        receiving.receive_lot(ctx, product_id, {"lot_number": "RV-2", "quantity_received": 5})
        with database.read() as session:
            assert table.built_for(session) == "US"
            fresh = evaluate_flags(session, "US", date(2026, 6, 1))
            assert stored_flags(session, date(2026, 6, 1)) == fresh
            assert {f.lot_number for f in fresh if f.subject_type == "lot"} == {"RV-1", "RV-2"}
    finally:
        database.dispose()


def test_0010_gives_every_existing_user_their_role_at_every_site(
    database_url: str, template_users: dict[str, Actor]
) -> None:
    from registry_app.services import auth, sites

    database = open_database(database_url)
    ctx = ServiceContext(database, template_users["admin"])
    try:
        sites.add_site(ctx, "BUSAN", "Busan clinic", "KR")
        auth.set_role(ctx, "inspector", "medical_director")
        downgrade(database.engine, "0009")
        with database.engine.begin() as connection:
            assert "site_role" not in inspect(connection).get_table_names()
            users = dict(connection.execute(text("SELECT id, role FROM app_user")).all())
        upgrade(database.engine)
        with database.read() as session:
            rows = session.execute(text("SELECT user_id, site_id, role, revoked_at FROM site_role")).all()
            entry = session.execute(text("SELECT action, records FROM audit_entry ORDER BY seq DESC")).first()
        assert sorted((r.user_id, r.site_id, r.role, r.revoked_at) for r in rows) == sorted(
            (user_id, None, role, None) for user_id, role in users.items()
        )
        assert entry is not None and entry.action == "grant roles" and json.loads(entry.records)["site_role"]
        # Nothing changes for the users: the same role, at either site.
        for site in ("main", "BUSAN"):
            signed = auth.sign_in(ServiceContext(database, site_code=site), "inspector", PASSWORDS["inspector"])
            assert (signed.role, signed.site_id) == ("medical_director", None)
    finally:
        database.dispose()


def test_0010_on_a_populated_registry_records_the_memberships_in_the_trail(tmp_path: Path) -> None:
    """From a registry made by the first release (users, lots, audit entries): every user gets a group role,
    recorded by one entry, and the whole registry still verifies."""
    path = tmp_path / "registry.sqlite3"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "registry-0001.sqlite3", path)
    database = open_database(sqlite_url_for(path))
    try:
        with database.read() as session:
            users = dict(session.execute(text("SELECT id, role FROM app_user")).all())
            rows = session.execute(text("SELECT user_id, site_id, role FROM site_role")).all()
            actions = session.execute(text("SELECT action FROM audit_entry ORDER BY seq DESC LIMIT 2")).scalars()
            assert list(actions) == ["grant roles", "record baseline"]
        assert users and sorted(rows) == sorted((user_id, None, role) for user_id, role in users.items())
        result = audit.verify(database)
        assert result.ok and result.records_checked, result.describe()
    finally:
        database.dispose()


def test_0011_lets_two_sites_hold_the_same_lot_and_keeps_every_row(
    database_url: str, template_users: dict[str, Actor]
) -> None:
    """On a registry with lots, administrations and their trail: the lot table rebuilt on SQLite (ids, values
    and hashes the same, foreign keys on again), then the same lot received at a second site, never twice at one."""
    from registry_app.services import ConflictError, sites
    from registry_app.services.administrations import AdministrationInput, Override, record_administration

    database = open_database(database_url)
    group = ServiceContext(database, template_users["director"])
    try:
        sites.add_site(ServiceContext(database, template_users["admin"]), "BUSAN", "Busan clinic", "US")
        product = products.create_product(group, {"name": "Nucleo-PN 20", "product_type": "polynucleotide"})
        lot_id = receiving.receive_lot(group, product, {"lot_number": "PN-7781", "quantity_received": 4}).lot_id
        given = AdministrationInput(lot_id, datetime.now().replace(microsecond=0), "intradermal", "PT-00001")
        record_administration(group, given, confirm=True, override=Override("trial", PASSWORDS["director"]))
        downgrade(database.engine, "0010")
        with database.read() as session:
            before = session.execute(text("SELECT * FROM lot ORDER BY id")).all()
        upgrade(database.engine)
        with database.read() as session:
            assert session.execute(text("SELECT * FROM lot ORDER BY id")).all() == before
            if database.engine.dialect.name == "sqlite":
                assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                assert session.execute(text("SELECT count(*) FROM administration")).scalar() == 1
        at_busan = ServiceContext(database, template_users["director"], site_code="BUSAN")
        other = receiving.receive_lot(at_busan, product, {"lot_number": "PN-7781", "quantity_received": 2}).lot_id
        assert other != lot_id
        with pytest.raises(ConflictError, match="already in the registry"):
            receiving.receive_lot(at_busan, product, {"lot_number": "PN-7781", "quantity_received": 1})
        with pytest.raises(ConflictError, match="already in the registry"):
            receiving.receive_lot(group, product, {"lot_number": "PN-7781", "quantity_received": 1})
        result = audit.verify(database)
        assert result.ok, result.describe()
        # Back to one key for the group: refused while two sites hold the lot, and nothing changes.
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            downgrade(database.engine, "0010")
        assert current_revision(database.engine) == HEAD_REVISION
    finally:
        database.dispose()
