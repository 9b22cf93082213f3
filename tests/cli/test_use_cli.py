"""`trace` and `recall` on the command line: output per cli.md, exit codes, signatures."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import Signature
from registry_app.services import ServiceContext
from registry_app.services.administrations import record_administration

from ..conftest import PASSWORDS
from ..helpers import row_counts
from ..services.use_data import TODAY, YESTERDAY_10AM, entry, lot_row, make_lot, make_product


def run(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    user: str | None = "inspector",
    password: str | None = None,
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for key in ("REGISTRY_USER", "REGISTRY_PASSWORD", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    if user is not None:
        monkeypatch.setenv("REGISTRY_USER", user)
        monkeypatch.setenv("REGISTRY_PASSWORD", password or PASSWORDS[user])
    return main(["--database", database_url, *argv])


@pytest.fixture
def lot_id(pharmacist: ServiceContext, db: Database) -> int:
    lot = make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    for days, patient in ((3, "PT-00412"), (2, "PT-00388")):
        record_administration(
            pharmacist,
            entry(
                lot,
                administered_at=YESTERDAY_10AM - timedelta(days=days),
                patient_ref=patient,
                body_areas=("periorbital", "neck"),
            ),
        )
    return lot


def test_trace_json_matches_cli_md(
    lot_id: int, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A director sees the clinic's references; an inspector pseudonyms (tests/security/test_privacy.py).
    assert run(["trace", "CX-2406-118", "--format", "json"], monkeypatch, database_url, user="director") == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "product_name": "Cordexa UC-EV 10B",
        "lot_number": "CX-2406-118",
        "status": "released",
        "administrations": [
            {
                "administered_at": (YESTERDAY_10AM - timedelta(days=days)).isoformat(timespec="minutes"),
                "patient_ref": patient,
                "route": "topical_intact",
                "body_area": "periorbital;neck",
                "practitioner": "dr.nguyen",
                "quantity": 1.0,
            }
            for days, patient in ((3, "PT-00412"), (2, "PT-00388"))
        ],
    }


def test_trace_table(
    lot_id: int, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["trace", "CX-2406-118"], monkeypatch, database_url, user="director") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Cordexa UC-EV 10B, lot CX-2406-118: released"
    assert lines[1].split()[:3] == ["administered", "patient", "route"]
    assert "PT-00412" in lines[2] and "PT-00388" in lines[3]
    assert lines[-1] == "2 administration(s), 2 patient(s), 2 not marked notified"


def test_an_ambiguous_lot_number_lists_the_products(
    lot_id: int, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_lot(db, make_product(db, "Glow Exo Booster"), "CX-2406-118")
    assert run(["trace", "CX-2406-118"], monkeypatch, database_url) == 1
    err = capsys.readouterr().err.splitlines()
    assert "2 products" in err[0] and "--product" in err[0]
    assert [line.strip() for line in err[1:]] == ["Cordexa UC-EV 10B", "Glow Exo Booster"]
    assert (
        run(["trace", "CX-2406-118", "--product", "glow exo booster", "--format", "json"], monkeypatch, database_url)
        == 0
    )
    assert json.loads(capsys.readouterr().out)["administrations"] == []


def test_unknown_lot_and_sign_in_failures(
    lot_id: int, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["trace", "NOPE-1"], monkeypatch, database_url) == 1
    assert "no lot NOPE-1" in capsys.readouterr().err
    assert run(["trace", "CX-2406-118"], monkeypatch, database_url, user=None) == 3
    assert run(["trace", "CX-2406-118"], monkeypatch, database_url, password="wrong") == 3
    assert run(["trace", "CX-2406-118", "--format", "xml"], monkeypatch, database_url) == 2


def test_a_director_recalls_from_the_command_line(
    lot_id: int, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    day = TODAY - timedelta(days=1)
    code = run(
        ["recall", "CX-2406-118", "--reason", "manufacturer notice FSN-7", "--date", day.isoformat()],
        monkeypatch,
        database_url,
        user="director",
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"recalled from {day}" in out and "2 administration(s) to notify" in out
    lot = lot_row(db, lot_id)
    assert (lot.status, lot.recall_date, lot.recall_reason) == ("recalled", day, "manufacturer notice FSN-7")
    with db.read() as session:
        assert session.execute(select(Signature.meaning)).scalars().all() == ["recalled"]
    assert run(["trace", "CX-2406-118", "--format", "json"], monkeypatch, database_url) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "recalled"


def test_recall_refusals_change_nothing(
    lot_id: int, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = row_counts(db)
    assert run(["recall", "CX-2406-118", "--reason", "x"], monkeypatch, database_url, user="pharmacist") == 3
    assert "may not recall lots" in capsys.readouterr().err
    assert (
        run(
            ["recall", "CX-2406-118", "--reason", "x", "--date", "2026-13-01"],
            monkeypatch,
            database_url,
            user="director",
        )
        == 2
    )
    assert "--date" in capsys.readouterr().err
    assert run(["recall", "CX-2406-118"], monkeypatch, database_url, user="director") == 2
    assert run(["recall", "CX-2406-118", "--reason", " "], monkeypatch, database_url, user="director") == 1
    assert "reason" in capsys.readouterr().err
    after = row_counts(db)
    assert {k: v for k, v in after.items() if k != "audit_entry"} == {
        k: v for k, v in before.items() if k != "audit_entry"
    }  # each sign-in is audited, nothing else changed
    assert lot_row(db, lot_id).status == "released"
