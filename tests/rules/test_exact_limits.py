"""Flags right to the last decimal (issue 18): each numeric rule at its limit (exactly at, just inside, just
outside), exact quantities (0.1 + 0.2 from 0.3 is no overdraw, on hand is 0), values worded as recorded, and
waivers bound to the compared values."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.domain import Lot
from registry_app.rules import evaluate_alerts, evaluate_flags
from registry_app.services import ServiceContext
from registry_app.services.administrations import record_administration
from registry_app.services.flags import waive_flag
from registry_app.services.lots.results import add_characterization_result, void_characterization_result
from registry_app.services.queries.lots_page import lot_rows

from ..conftest import PASSWORDS
from ..services.use_data import entry, lot_row, make_lot, make_product
from . import builders as b

D = Decimal


def _lot_flags(session: Session, lot: Lot, today: date = b.TODAY) -> dict[str, str]:
    flags = evaluate_flags(session, "US", today, subject_type="lot", subject_ids=[lot.id])
    flags += evaluate_alerts(session, today, subject_ids=[lot.id])
    return {f.code: f.message for f in flags}


def _with_result(
    session: Session, parameter: str, value: str, product: dict[str, Any] | None = None, **lot_values: Any
) -> dict[str, str]:
    prod = b.product(session, **(product or {}))
    lot = b.lot(session, prod, skip=(parameter,), **lot_values)
    b.result(session, lot, parameter, value=D(value), method={"endotoxin": "lal"}.get(parameter, "nta"))
    return _lot_flags(session, lot)


# (rule, parameter, value, product spec, flagged): the default limits of rules.md and a product's own.
RESULT_LIMITS = [
    ("OOS-ENDOTOXIN", "endotoxin", "0.5", None, False),  # at the limit
    ("OOS-ENDOTOXIN", "endotoxin", "0.4999", None, False),  # just inside
    ("OOS-ENDOTOXIN", "endotoxin", "0.5001", None, True),  # just outside
    ("OOS-ENDOTOXIN", "endotoxin", "0.25", {"spec_endotoxin_max": D("0.25")}, False),
    ("OOS-ENDOTOXIN", "endotoxin", "0.2499", {"spec_endotoxin_max": D("0.25")}, False),
    ("OOS-ENDOTOXIN", "endotoxin", "0.2501", {"spec_endotoxin_max": D("0.25")}, True),
    ("OOS-SIZE", "size_mode", "30", None, False),
    ("OOS-SIZE", "size_mode", "30.1", None, False),
    ("OOS-SIZE", "size_mode", "29.9", None, True),
    ("OOS-SIZE", "size_mode", "150", None, False),
    ("OOS-SIZE", "size_mode", "149.9", None, False),
    ("OOS-SIZE", "size_mode", "150.1", None, True),
    ("OOS-SIZE", "size_mode", "150.0001", None, True),
    ("OOS-SIZE", "size_mode", "120.5", {"spec_size_max_nm": D("120.5")}, False),
    ("OOS-SIZE", "size_mode", "120.6", {"spec_size_max_nm": D("120.5")}, True),
    ("OOS-SIZE", "size_mode", "40.1", {"spec_size_min_nm": D("40.2")}, True),
    # Labelled 1e10 particles/mL, ±20 %: 8e9 and 1.2e10 are at the limits.
    ("OOS-CONCENTRATION", "particle_concentration", "8E+9", None, False),
    ("OOS-CONCENTRATION", "particle_concentration", "8000000001", None, False),
    ("OOS-CONCENTRATION", "particle_concentration", "7999999999", None, True),
    ("OOS-CONCENTRATION", "particle_concentration", "1.2E+10", None, False),
    ("OOS-CONCENTRATION", "particle_concentration", "11999999999", None, False),
    ("OOS-CONCENTRATION", "particle_concentration", "12000000001", None, True),
    (
        "OOS-CONCENTRATION",
        "particle_concentration",
        "1.125E+10",
        {"spec_concentration_tolerance_pct": D("12.5")},
        False,
    ),
    (
        "OOS-CONCENTRATION",
        "particle_concentration",
        "11250000001",
        {"spec_concentration_tolerance_pct": D("12.5")},
        True,
    ),
]


@pytest.mark.parametrize(("code", "parameter", "value", "spec", "flagged"), RESULT_LIMITS)
def test_result_limits(
    db: Database, code: str, parameter: str, value: str, spec: dict[str, Any] | None, flagged: bool
) -> None:
    with db.write() as session:
        found = _with_result(session, parameter, value, spec)
    assert (code in found) is flagged, found.get(code)


# (administered quantities, received, overdrawn)
QUANTITIES = [
    (("0.1", "0.2"), "0.3", False),  # at: exact decimals, not 0.30000000000000004
    (("0.1", "0.19"), "0.3", False),  # inside
    (("0.1", "0.2", "0.0001"), "0.3", True),  # outside
    (("0.7", "0.1", "0.1", "0.1"), "1", False),
    (("2.5",), "2.49", True),
]


@pytest.mark.parametrize(("given", "received", "overdrawn"), QUANTITIES)
def test_overdrawn_at_the_limit(
    pharmacist: ServiceContext, db: Database, given: tuple[str, ...], received: str, overdrawn: bool
) -> None:
    lot_id = make_lot(db, make_product(db), quantity=D(received))
    for amount in given:
        # Floats as a form may give them (0.1 is the decimal 0.1), and Decimals, alike.
        record_administration(
            pharmacist,
            entry(lot_id, quantity=float(amount) if len(amount) < 5 else D(amount), screening_done=True),
            confirm=True,
        )
    with db.read() as session:
        flags = evaluate_flags(session, "US", date.today(), subject_type="lot", subject_ids=[lot_id])
    assert ("USE-OVERDRAWN" in {f.code for f in flags}) is overdrawn
    on_hand = lot_row(db, lot_id).quantity_on_hand
    assert on_hand == D(received) - sum(map(D, given))
    [row] = lot_rows(pharmacist, [lot_id])
    assert row.on_hand == on_hand and "e" not in str(row.on_hand).lower()


def test_on_hand_is_exactly_zero(pharmacist: ServiceContext, db: Database) -> None:
    lot_id = make_lot(db, make_product(db), quantity=D("0.3"))
    for amount in (0.1, 0.2):
        record_administration(pharmacist, entry(lot_id, quantity=amount), confirm=True)
    lot = lot_row(db, lot_id)
    assert lot.quantity_administered == D("0.3") and lot.quantity_on_hand == 0 and lot.status == "depleted"
    [row] = lot_rows(pharmacist, [lot_id])
    assert row.on_hand == 0 and f"{row.on_hand}" in ("0", "0.0")
    with db.read() as session:
        alerts = evaluate_alerts(session, lot.expiry_date + timedelta(days=1), subject_ids=[lot_id])
    assert "ALERT-EXPIRED-STOCK" not in {a.code for a in alerts}


@pytest.mark.parametrize(("days_after_expiry", "expired"), [(0, False), (-1, False), (1, True)])
def test_expired_at_the_limit(db: Database, days_after_expiry: int, expired: bool) -> None:
    with db.write() as session:
        lot = b.lot(session, b.product(session), expiry_date=date(2025, 6, 1))
        admin = b.administration(
            session, lot, administered_at=datetime(2025, 6, 1, 23, 59) + timedelta(days=days_after_expiry)
        )
        flags = evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[admin.id])
    assert ("USE-EXPIRED" in {f.code for f in flags}) is expired


@pytest.mark.parametrize(
    ("days_to_expiry", "code"),
    [
        (30, "ALERT-EXPIRING"),
        (29, "ALERT-EXPIRING"),
        (31, None),
        (0, "ALERT-EXPIRING"),
        (-1, "ALERT-EXPIRED-STOCK"),
    ],
)
def test_expiry_alerts_at_the_limit(db: Database, days_to_expiry: int, code: str | None) -> None:
    with db.write() as session:
        lot = b.lot(session, b.product(session), expiry_date=b.TODAY + timedelta(days=days_to_expiry))
        found = {a.code for a in evaluate_alerts(session, b.TODAY, subject_ids=[lot.id])}
    assert found == ({code} if code else set())


@pytest.mark.parametrize(
    ("value", "limits", "shown"),
    [
        ("150.4", None, "150.4 nm is outside 30-150 nm"),
        ("150.0001", None, "150.0001 nm is outside 30-150 nm"),
        ("29.95", None, "29.95 nm is outside 30-150 nm"),
        ("120.55", {"spec_size_max_nm": D("120.5")}, "120.55 nm is outside 30-120.5 nm"),
    ],
)
def test_messages_show_values_as_recorded(db: Database, value: str, limits: dict[str, Any] | None, shown: str) -> None:
    with db.write() as session:
        found = _with_result(session, "size_mode", value, limits)
    assert shown in found["OOS-SIZE"]


def test_endotoxin_and_overdraw_messages_show_the_recorded_values(db: Database) -> None:
    with db.write() as session:
        endotoxin = _with_result(session, "endotoxin", "0.5001")
        prod = b.product(session)
        lot = b.lot(session, prod, quantity_received=D("0.3"), quantity_administered=D("0.3001"))
        overdrawn = _lot_flags(session, lot)
    assert "endotoxin 0.5001 EU/mL is above the limit of 0.5 EU/mL" in endotoxin["OOS-ENDOTOXIN"]
    assert "0.3001 administered but only 0.3 received" in overdrawn["USE-OVERDRAWN"]


def _size_flag(director: ServiceContext, lot_id: int) -> Any:
    with director.db.read() as session:
        [found] = [
            f
            for f in evaluate_flags(session, "US", date.today(), subject_type="lot", subject_ids=[lot_id])
            if f.code == "OOS-SIZE"
        ]
    return found


def test_a_waiver_covers_the_compared_values_and_ends_when_one_changes(
    director: ServiceContext, pharmacist: ServiceContext, db: Database
) -> None:
    with db.write() as session:
        lot_id = b.lot(session, b.product(session), skip=("size_mode",)).id
    first = add_characterization_result(pharmacist, lot_id, "size_mode", value="150.1", method="nta")
    waive_flag(director, "OOS-SIZE", "lot", lot_id, "manufacturer's spec is 30-160 nm", PASSWORDS["director"])
    assert _size_flag(director, lot_id).waived
    # Another result that the rule does not compare: the waiver stands.
    add_characterization_result(pharmacist, lot_id, "protein_concentration", value="51", method="bca")
    assert _size_flag(director, lot_id).waived
    # The same value again (a re-entry): the facts are unchanged, the waiver stands.
    void_characterization_result(pharmacist, first, "entered twice")
    second = add_characterization_result(pharmacist, lot_id, "size_mode", value="150.10", method="nta")
    assert _size_flag(director, lot_id).waived
    # 150.1 -> 150.4 nm: a compared value changed; the waiver ends although the flag reads much the same.
    void_characterization_result(pharmacist, second, "remeasured")
    add_characterization_result(pharmacist, lot_id, "size_mode", value="150.4", method="nta")
    reopened = _size_flag(director, lot_id)
    assert not reopened.waived and "150.4 nm" in reopened.message


def test_a_waiver_survives_a_rewording(director: ServiceContext, pharmacist: ServiceContext, db: Database) -> None:
    """Bound to the facts, not the wording: a message worded differently by a later release keeps it."""
    with db.write() as session:
        lot_id = b.lot(session, b.product(session), skip=("size_mode",)).id
    add_characterization_result(pharmacist, lot_id, "size_mode", value="150.1", method="nta")
    waiver_id = waive_flag(director, "OOS-SIZE", "lot", lot_id, "accepted", PASSWORDS["director"])
    with db.write() as session:
        from registry_app.domain import Waiver

        session.get(Waiver, waiver_id).flag_message = "worded by an earlier release"
    assert _size_flag(director, lot_id).waived
