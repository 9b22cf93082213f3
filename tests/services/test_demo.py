"""The demo generator: every rule raised, compliant products clean, reproducible, one audit entry."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from registry_app.db import Database
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
from registry_app.services import ServiceContext, demo
from registry_app.services.auth import sign_in
from registry_app.services.demo_data import PRODUCTS
from registry_app.services.errors import ConflictError, PermissionDenied, ValidationError

from ..helpers import audit_count

TODAY = date(2025, 6, 15)


def test_demo_raises_every_rule_and_compliant_products_raise_none(pharmacist: ServiceContext) -> None:
    before = audit_count(pharmacist.db)
    summary = demo.generate_demo(pharmacist, lots=60, seed=7, today=TODAY)
    assert audit_count(pharmacist.db) == before + 1
    assert summary.counts["lots"] == 60
    with pharmacist.db.read() as session:
        flags = evaluate_flags(session, "US", TODAY)
        alerts = evaluate_alerts(session, TODAY)
    raised = Counter(f.code for f in flags)
    assert set(COMPLIANCE_CODES) <= set(raised), set(COMPLIANCE_CODES) - set(raised)
    assert set(ALERT_CODES) <= {a.code for a in alerts}
    compliant = {p.name for p in PRODUCTS if p.compliant}
    assert compliant and not [f for f in flags if f.product_name in compliant]


def test_demo_rows_respect_the_vocabularies(pharmacist: ServiceContext) -> None:
    # The SQLite bulk path skips CHECK constraints for speed, so check the values it wrote here.
    demo.generate_demo(pharmacist, lots=40, seed=3, today=TODAY)
    with pharmacist.db.read() as session:
        r = CharacterizationResult
        assert not session.execute(select(r.id).where(r.method.not_in(METHODS))).first()
        assert not session.execute(select(r.id).where(r.marker.is_not(None), r.marker.not_in(MARKERS))).first()
        assert not session.execute(
            select(r.id).where(r.result.is_not(None), r.result.not_in(QUALITATIVE_RESULTS))).first()
        assert not session.execute(
            select(Administration.id).where(Administration.route.not_in([x.value for x in Route]))).first()
        assert session.execute(select(func.count(ProductRegulatoryStatus.id))).scalar_one() >= len(PRODUCTS) - 1


def test_a_second_demo_run_is_refused_and_writes_nothing(pharmacist: ServiceContext) -> None:
    demo.generate_demo(pharmacist, lots=45, seed=5, today=TODAY)
    with pharmacist.db.read() as session:
        lots = session.execute(select(func.count(Lot.id))).scalar_one()
    before = audit_count(pharmacist.db)
    with pytest.raises(ConflictError):
        demo.generate_demo(pharmacist, lots=45, seed=5, today=TODAY)
    with pharmacist.db.read() as session:
        assert session.execute(select(func.count(Lot.id))).scalar_one() == lots == 45
    assert audit_count(pharmacist.db) == before


def test_reproducible_for_a_seed(db: Database, template_users: dict) -> None:  # type: ignore[type-arg]
    ctx = ServiceContext(db, template_users["director"])
    summary = demo.generate_demo(ctx, lots=40, seed=11, today=TODAY)
    with db.read() as session:
        first = session.execute(select(Lot.lot_number, Lot.expiry_date).order_by(Lot.id)).all()
    # The builder is deterministic: the same seed plans the same lots (checked on its plan).
    import random

    from registry_app.services.demo import _DemoBuilder

    with db.read() as session:
        plan_a = _DemoBuilder(session, random.Random(11), TODAY, 1)._plan(40)
        plan_b = _DemoBuilder(session, random.Random(11), TODAY, 1)._plan(40)
        plan_c = _DemoBuilder(session, random.Random(12), TODAY, 1)._plan(400)
    assert plan_a == plan_b
    assert plan_c[:len(plan_a)] != plan_a or len(plan_c) != len(plan_a)
    assert summary.counts["lots"] == len(first) == 40


def test_too_few_lots_is_a_validation_error(pharmacist: ServiceContext) -> None:
    with pytest.raises(ValidationError) as error:
        demo.generate_demo(pharmacist, lots=5)
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
        assert ctx.actor is not None and ctx.actor.role == "pharmacist"
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
