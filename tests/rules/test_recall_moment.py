"""A recall is a moment (rules.md, USE-RECALLED): from a date-time, or from the start of the day a date names;
an administration recorded with a date alone keeps "no time recorded" in the lookback."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from registry_app.cli import main
from registry_app.db import Database
from registry_app.rules import evaluate_flags
from registry_app.services import ServiceContext
from registry_app.services.administrations import record_administration
from registry_app.services.imports import import_administrations
from registry_app.services.recalls import recall_lot, trace_lot

from ..conftest import PASSWORDS
from ..services.use_data import entry, lot_row, make_lot, make_product
from . import builders as b

DAY = date(2025, 6, 10)


def _recalled(session: Session, recall_at: datetime | None, when: datetime, time_recorded: bool = True) -> bool:
    lot = b.lot(session, b.product(session), recall_date=DAY, recall_at=recall_at)
    admin = b.administration(session, lot, administered_at=when, time_recorded=time_recorded)
    flags = evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[admin.id])
    return "USE-RECALLED" in {f.code for f in flags}


AT_1400 = datetime.combine(DAY, time(14, 0))


@pytest.mark.parametrize(
    ("recall_at", "when", "time_recorded", "recalled"),
    [
        (AT_1400, AT_1400 - timedelta(minutes=1), True, False),  # earlier the same day: before the recall
        (AT_1400, datetime.combine(DAY, time(0, 0)), True, False),  # recorded at midnight, still before
        (AT_1400, AT_1400, True, True),  # at the moment
        (AT_1400, AT_1400 + timedelta(minutes=1), True, True),
        (AT_1400, datetime.combine(DAY + timedelta(days=1), time(9, 0)), True, True),
        (AT_1400, datetime.combine(DAY - timedelta(days=1), time(23, 59)), True, False),
        # A date alone on the day of the recall cannot be shown to be before it: it counts.
        (AT_1400, datetime.combine(DAY, time(0, 0)), False, True),
        (AT_1400, datetime.combine(DAY - timedelta(days=1), time(0, 0)), False, False),
        # A recall given as a date alone starts at the beginning of that local day.
        (None, datetime.combine(DAY, time(0, 0)), True, True),
        (None, datetime.combine(DAY - timedelta(days=1), time(23, 59)), True, False),
    ],
)
def test_recalled_from_the_moment(
    db: Database, recall_at: datetime | None, when: datetime, time_recorded: bool, recalled: bool
) -> None:
    with db.write() as session:
        assert _recalled(session, recall_at, when, time_recorded) is recalled


def test_the_message_names_the_moment(db: Database) -> None:
    with db.write() as session:
        lot = b.lot(session, b.product(session), recall_date=DAY, recall_at=AT_1400)
        admin = b.administration(session, lot, administered_at=AT_1400 + timedelta(hours=1))
        [flag] = [
            f
            for f in evaluate_flags(session, "US", b.TODAY, subject_type="administration", subject_ids=[admin.id])
            if f.code == "USE-RECALLED"
        ]
    assert "recalled from 2025-06-10 14:00" in flag.message


def test_the_service_recalls_from_a_date_or_a_moment(
    director: ServiceContext, pharmacist: ServiceContext, db: Database
) -> None:
    product = make_product(db)
    by_day, by_moment = make_lot(db, product, "D-1"), make_lot(db, product, "M-1")
    now = datetime.now().replace(second=0, microsecond=0)
    earlier_today = record_administration(pharmacist, entry(by_moment, administered_at=now - timedelta(minutes=5)))
    recall_lot(director, by_day, "supplier notice", PASSWORDS["director"], now.date())
    result = recall_lot(director, by_moment, "supplier notice", PASSWORDS["director"], now)
    assert (lot_row(db, by_day).recall_date, lot_row(db, by_day).recall_at) == (now.date(), None)
    assert (lot_row(db, by_moment).recall_date, lot_row(db, by_moment).recall_at) == (now.date(), now)
    assert result.recalled_from == now.isoformat(sep=" ", timespec="minutes")
    with db.read() as session:
        flags = evaluate_flags(
            session, "US", now.date(), subject_type="administration", subject_ids=[earlier_today.administration_id]
        )
    assert "USE-RECALLED" not in {f.code for f in flags}


def _cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, database_url: str, user: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setenv("REGISTRY_USER", user)
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS[user])
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    return main(["--database", database_url, *argv])


def test_cli_recall_takes_a_date_time(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lot_id = make_lot(db, make_product(db), "CX-1")
    moment = (datetime.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    code = _cli(
        ["recall", "CX-1", "--reason", "FSN-7", "--date", moment.isoformat(timespec="minutes")],
        monkeypatch,
        database_url,
        "director",
    )
    assert code == 0, capsys.readouterr().err
    assert f"recalled from {moment:%Y-%m-%d %H:%M}" in capsys.readouterr().out
    assert lot_row(db, lot_id).recall_at == moment
    assert (
        _cli(["recall", "CX-1", "--reason", "x", "--date", "2025-06-10T25:00"], monkeypatch, database_url, "director")
        == 2
    )


def test_imported_dates_alone_keep_no_time(
    pharmacist: ServiceContext,
    db: Database,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lot_id = make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    day = (datetime.now() - timedelta(days=3)).date()
    path = tmp_path / "log.csv"
    path.write_text(
        "administered_at,product_name,lot_number,route,patient_ref\n"
        f"{day.isoformat()},Cordexa UC-EV 10B,CX-2406-118,topical_intact,PT-1\n"
        f"{day.isoformat()}T00:00,Cordexa UC-EV 10B,CX-2406-118,topical_intact,PT-2\n"
        f"{day.isoformat()}T10:30,Cordexa UC-EV 10B,CX-2406-118,topical_intact,PT-3\n"
    )
    assert import_administrations(pharmacist, path).ok
    trace = trace_lot(pharmacist, lot_id)
    assert [a["administered_at"] for a in trace.as_json()["administrations"]] == [
        day.isoformat(),
        f"{day.isoformat()}T00:00",
        f"{day.isoformat()}T10:30",
    ]
    assert _cli(["trace", "CX-2406-118"], monkeypatch, database_url, "inspector") == 0
    table = capsys.readouterr().out
    assert f"{day.isoformat()}  " in table and f"{day.isoformat()} 00:00" in table
