"""The demo generator: every rule raised, compliant products clean, reproducible, one audit entry."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from registry_app.domain import (
    Administration,
    CharacterizationResult,
    Lot,
    Product,
    ProductRegulatoryStatus,
    User,
)
from registry_app.domain.vocab import MARKERS, METHODS, QUALITATIVE_RESULTS, Route
from registry_app.rules import ALERT_CODES, COMPLIANCE_CODES, evaluate_alerts, evaluate_flags
from registry_app.services import ServiceContext
from registry_app.services.auth import sign_in
from registry_app.services.demo import generate as demo
from registry_app.services.demo.data import PRODUCTS
from registry_app.services.demo.rows import TABLES, DemoJob, DemoRows, QuickRandom
from registry_app.services.errors import ConflictError, PermissionDenied, ValidationError

from ..helpers import audit_count

TODAY = date(2025, 6, 15)


def test_demo_raises_every_rule_and_compliant_products_raise_none(admin: ServiceContext) -> None:
    before = audit_count(admin.db)
    summary = demo.generate_demo(admin, lots=60, seed=7, today=TODAY)
    assert audit_count(admin.db) == before + 1
    assert summary.counts["lots"] == 60
    with admin.db.read() as session:
        flags = evaluate_flags(session, "US", TODAY)
        alerts = evaluate_alerts(session, TODAY)
    raised = Counter(f.code for f in flags)
    assert set(COMPLIANCE_CODES) <= set(raised), set(COMPLIANCE_CODES) - set(raised)
    assert set(ALERT_CODES) <= {a.code for a in alerts}
    compliant = {p.name for p in PRODUCTS if p.compliant}
    assert compliant and not [f for f in flags if f.product_name in compliant]


def test_demo_rows_respect_the_vocabularies(admin: ServiceContext) -> None:
    # The SQLite bulk path skips CHECK constraints for speed, so check the values it wrote here.
    demo.generate_demo(admin, lots=40, seed=3, today=TODAY)
    with admin.db.read() as session:
        r = CharacterizationResult
        assert not session.execute(select(r.id).where(r.method.not_in(METHODS))).first()
        assert not session.execute(select(r.id).where(r.marker.is_not(None), r.marker.not_in(MARKERS))).first()
        assert not session.execute(
            select(r.id).where(r.result.is_not(None), r.result.not_in(QUALITATIVE_RESULTS))
        ).first()
        assert not session.execute(
            select(Administration.id).where(Administration.route.not_in([x.value for x in Route]))
        ).first()
        assert session.execute(select(func.count(ProductRegulatoryStatus.id))).scalar_one() >= len(PRODUCTS) - 1


def test_a_second_demo_run_is_refused_and_writes_nothing(admin: ServiceContext) -> None:
    demo.generate_demo(admin, lots=45, seed=5, today=TODAY)
    with admin.db.read() as session:
        lots = session.execute(select(func.count(Lot.id))).scalar_one()
    before = audit_count(admin.db)
    with pytest.raises(ConflictError):
        demo.generate_demo(admin, lots=45, seed=5, today=TODAY)
    with admin.db.read() as session:
        assert session.execute(select(func.count(Lot.id))).scalar_one() == lots == 45
    assert audit_count(admin.db) == before


def _job(seed: int, lots: int = 60) -> DemoJob:
    return DemoJob(
        lots,
        QuickRandom(seed).getstate(),
        TODAY,
        datetime(2025, 6, 15, 12),
        1,
        True,
        list(range(1, len(PRODUCTS) + 1)),
        [1, 2, 3],
        {table: 1 for table, columns in TABLES.items() if "id" in columns},
    )


def test_rows_are_reproducible_for_a_seed() -> None:
    first = list(DemoRows(_job(11)).chunks())
    assert first == list(DemoRows(_job(11)).chunks())
    assert first != list(DemoRows(_job(12)).chunks())
    lots = {table: rows for table, rows, _digests in first[0]}["lot"]
    assert len(lots) == 60 and [row[0] for row in lots] == list(range(1, 61))


def test_rows_built_in_a_second_process_equal_those_built_here() -> None:
    job = _job(7, lots=11_000)  # three chunks
    process = demo.RowProcess()
    try:
        generated = process.rows(job)
        first = next(generated)
        assert "registry-demo-rows" in [child.name for child in multiprocessing.active_children()]
        assert [first, *generated] == list(DemoRows(job).chunks())
    finally:
        process.close()
    assert not process.child.is_alive()


def test_a_failing_row_process_is_an_error_and_the_demo_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, admin: ServiceContext
) -> None:
    broken = _job(7, lots=100)
    process = demo.RowProcess()
    try:
        with pytest.raises(RuntimeError, match="row generator failed: IndexError"):
            list(process.rows(DemoJob(**{**broken.__dict__, "product_ids": []})))
    finally:
        process.close()
    monkeypatch.setattr(demo, "SEPARATE_PROCESS_FROM", 0)
    before = audit_count(admin.db)
    monkeypatch.setattr(demo, "DemoRows", None)  # the child imports its own copy; this one must not be used
    summary = demo.generate_demo(admin, lots=45, seed=3, today=TODAY)
    with admin.db.read() as session:
        assert session.execute(select(func.count(Lot.id))).scalar_one() == summary.counts["lots"] == 45
    assert audit_count(admin.db) == before + 1


def test_too_few_lots_is_a_validation_error(admin: ServiceContext) -> None:
    with pytest.raises(ValidationError) as error:
        demo.generate_demo(admin, lots=5)
    assert error.value.for_field("lots")


def test_demo_users_only_on_an_empty_registry(tmp_path: object, pharmacist: ServiceContext) -> None:
    from pathlib import Path

    from registry_app.db import open_database
    from registry_app.db.engine import sqlite_url_for

    with pytest.raises(PermissionDenied):
        demo.create_demo_users(ServiceContext(pharmacist.db))
    database = open_database(sqlite_url_for(Path(str(tmp_path)) / "empty.sqlite3"))
    try:
        ctx = ServiceContext(database)
        created = demo.create_demo_users(ctx)
        assert ("director", "medical_director", "director-demo") in created
        assert ctx.actor is not None and ctx.actor.role == "admin"
        with database.read() as session:
            assert session.execute(select(func.count(User.id)).where(User.is_demo.is_(True))).scalar_one() == 4
        fresh = ServiceContext(database)
        assert sign_in(fresh, "inspector", "inspector-demo").role == "inspector"
        with pytest.raises(PermissionDenied):
            demo.generate_demo(fresh, lots=40)
        with database.read() as session:
            assert session.execute(select(func.count(Product.id))).scalar_one() == 0
    finally:
        database.dispose()


def test_demo_accounts_are_those_still_on_their_documented_passwords(
    empty_database_url: str, pharmacist: ServiceContext
) -> None:
    from registry_app.db import open_database
    from registry_app.services.auth import disable_user, reset_password

    assert demo.demo_accounts(pharmacist.db) == []  # a real registry shows none
    database = open_database(empty_database_url)
    try:
        demo.create_demo_users(ServiceContext(database))
        assert {name for name, _role, _password in demo.demo_accounts(database)} == {
            "pharmacist",
            "director",
            "inspector",
            "admin",
        }
        for name, _role, password in demo.demo_accounts(database):
            assert sign_in(ServiceContext(database), name, password).username == name
        admin = ServiceContext(database)
        sign_in(admin, "admin", "admin-demo-only")
        reset_password(admin, "pharmacist", "a-password-of-our-own", reason="real use")
        disable_user(admin, "inspector", reason="not needed")
        assert {name for name, _role, _password in demo.demo_accounts(database)} == {"director", "admin"}
    finally:
        database.dispose()
