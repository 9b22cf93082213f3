"""Random receipts, administrations and recalls against a plain-Python reading of rules.md: USE-OVERDRAWN,
stock on hand, ALERT-EXPIRED-STOCK, USE-EXPIRED and USE-RECALLED, with stock kept by the services' own SQL
(administrations._adjust_stock) so that the database's arithmetic is what is tested."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_app.db import Database
from registry_app.rules import evaluate_alerts, evaluate_flags
from registry_app.services.administrations import _adjust_stock

from . import builders as b

START = datetime(2025, 5, 1)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=3)
moments = st.integers(min_value=0, max_value=40 * 24 * 60).map(lambda minutes: START + timedelta(minutes=minutes))
administrations = st.lists(st.tuples(quantities, moments, st.booleans()), max_size=6)
recalls = st.one_of(st.none(), moments.map(lambda m: m.date()), moments)


def _recalled(at: datetime, time_recorded: bool, recall: date | datetime | None) -> bool:
    """rules.md: at or after the moment the lot was recalled from; a date alone from the start of its day. An
    administration with no recorded time counts from the recall's day (it cannot be shown to be earlier)."""
    if recall is None:
        return False
    start = recall if isinstance(recall, datetime) else datetime.combine(recall, time.min)
    return at >= start if time_recorded else at.date() >= start.date()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    received=quantities, given_=administrations, recall=recalls, expiry_offset=st.integers(min_value=-5, max_value=45)
)
def test_quantity_recall_and_expiry_rules_agree_with_rules_md(
    db: Database,
    received: Decimal,
    given_: list[tuple[Decimal, datetime, bool]],
    recall: date | datetime | None,
    expiry_offset: int,
) -> None:
    expiry = START.date() + timedelta(days=expiry_offset)
    today = START.date() + timedelta(days=41)
    with db.write() as session:
        recall_date = recall.date() if isinstance(recall, datetime) else recall
        recall_at = recall if isinstance(recall, datetime) else None
        lot = b.lot(
            session,
            b.product(session),
            quantity_received=received,
            quantity_administered=Decimal(0),
            expiry_date=expiry,
            recall_date=recall_date,
            recall_at=recall_at,
            status="recalled" if recall else "released",
        )
        admins = []
        for quantity, at, time_recorded in given_:
            when = at if time_recorded else datetime.combine(at.date(), time.min)
            admins.append(
                (
                    b.administration(
                        session,
                        lot,
                        quantity=quantity,
                        administered_at=when,
                        time_recorded=time_recorded,
                        patient_notified_on=at.date(),
                    ),
                    when,
                    time_recorded,
                )
            )
            _adjust_stock(session, lot.id, quantity)
        session.refresh(lot)
        total = sum((q for q, _, _ in given_), Decimal(0))
        on_hand = received - total
        assert lot.quantity_on_hand == on_hand
        status = lot.status
        lot_codes = {f.code for f in evaluate_flags(session, "US", today, subject_type="lot", subject_ids=[lot.id])}
        alerts = {f.code for f in evaluate_alerts(session, today, subject_ids=[lot.id])}
        assert ("USE-OVERDRAWN" in lot_codes) is (total > received)
        in_stock = on_hand > 0 and status not in ("destroyed", "depleted")
        assert ("ALERT-EXPIRED-STOCK" in alerts) is (in_stock and expiry < today)
        for admin, when, time_recorded in admins:
            codes = {
                f.code
                for f in evaluate_flags(session, "US", today, subject_type="administration", subject_ids=[admin.id])
            }
            assert ("USE-EXPIRED" in codes) is (when.date() > expiry), (when, expiry)
            assert ("USE-RECALLED" in codes) is _recalled(when, time_recorded, recall), (when, recall)
