"""`release`, `reject`, `destroy`, `result add|void`, `notify`, `excursion add|resolve|list` in-process: success,
each exit code, JSON shape, and the audit entry each change writes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import CharacterizationResult, Signature, TemperatureExcursion
from registry_app.services import ServiceContext
from registry_app.services.administrations import record_administration

from ..helpers import row_counts
from ..services.use_data import TODAY, YESTERDAY_10AM, entry, lot_row, make_lot, make_product
from .runner import last_audit, run


@pytest.fixture
def quarantined(db: Database) -> int:
    return make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118", status="quarantine")


def test_release_is_signed_by_a_director(
    quarantined: int,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["release", "CX-2406-118"], monkeypatch, database_url) == 3  # a pharmacist may not
    assert "may not release lots" in capsys.readouterr().err
    assert run(["release", "CX-2406-118"], monkeypatch, database_url, user="director", password="wrong") == 3
    assert run(["release", "NOPE-1"], monkeypatch, database_url, user="director") == 1
    assert "no lot NOPE-1" in capsys.readouterr().err
    assert run(["release"], monkeypatch, database_url, user="director") == 2
    assert lot_row(db, quarantined).status == "quarantine"
    assert run(["release", "CX-2406-118", "--note", "CoA reviewed"], monkeypatch, database_url, user="director") == 0
    assert "released (signature" in capsys.readouterr().out
    assert lot_row(db, quarantined).status == "released"
    audit = last_audit(db)
    assert (audit["action"], audit["entity_id"], audit["username"]) == ("release lot", str(quarantined), "director")
    with db.read() as session:
        assert session.execute(select(Signature.meaning)).scalars().all() == ["released"]
    # Released already: the service's conflict is the data's problem, one line, exit 1.
    assert run(["release", "CX-2406-118"], monkeypatch, database_url, user="director") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "only a lot in quarantine" in err[0]


def test_reject_and_destroy(
    quarantined: int,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["reject", "CX-2406-118", "--reason", " "], monkeypatch, database_url) == 1
    assert "reason" in capsys.readouterr().err
    assert run(["reject", "CX-2406-118", "--reason", "box crushed"], monkeypatch, database_url, user="inspector") == 3
    # Signed: the wrong password is a failed sign-in (exit 3) and changes nothing.
    wrong = run(["reject", "CX-2406-118", "--reason", "box crushed"], monkeypatch, database_url, password="wrong-pass")
    assert wrong == 3 and lot_row(db, quarantined).status == "quarantine"
    assert run(["reject", "CX-2406-118", "--reason", "box crushed"], monkeypatch, database_url) == 0
    assert "rejected (signature" in capsys.readouterr().out
    assert last_audit(db)["action"] == "reject lot"
    assert lot_row(db, quarantined).status == "rejected"
    assert run(["destroy", "CX-2406-118", "--reason", "melted"], monkeypatch, database_url) == 2
    assert run(["destroy", "CX-2406-118", "--reason", "other"], monkeypatch, database_url) == 1
    assert "note" in capsys.readouterr().err
    assert run(["destroy", "CX-2406-118", "--reason", "damaged", "--note", "crushed"], monkeypatch, database_url) == 0
    assert "10 on hand destroyed" in capsys.readouterr().out
    audit = last_audit(db)
    assert audit["action"] == "destroy lot" and audit["after"]["destroyed_reason"] == "damaged"
    with db.read() as session:
        signed = session.execute(select(Signature.meaning, Signature.signer_name).order_by(Signature.id)).all()
    assert [meaning for meaning, _ in signed] == ["rejected", "destroyed"]
    assert audit["after"]["signature_meaning"] == "destroyed"


def test_results_add_and_void(
    quarantined: int,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "result",
        "add",
        "CX-2406-118",
        "--parameter",
        "size_mean",
        "--value",
        "118",
        "--unit",
        "nm",
        "--method",
        "nta",
        "--lab",
        "Lab One",
        "--date",
        (TODAY - timedelta(days=3)).isoformat(),
    ]
    assert run(args, monkeypatch, database_url) == 0
    assert "size_mean 118 nm" in capsys.readouterr().out
    assert (
        run(
            ["result", "add", "CX-2406-118", "--parameter", "sterility", "--value", "pass", "--method", "usp71"],
            monkeypatch,
            database_url,
        )
        == 0
    )
    with db.read() as session:
        rows = session.execute(select(CharacterizationResult).order_by(CharacterizationResult.id)).scalars().all()
        assert [(r.parameter, r.value, r.result, r.laboratory) for r in rows] == [
            ("size_mean", 118.0, None, "Lab One"),
            ("sterility", None, "pass", None),
        ]
        first = rows[0].id
    assert last_audit(db)["action"] == "add characterization result"
    # Wrong unit, wrong value, unknown parameter, unknown method: what is wrong, one line each.
    assert run([*args[:5], "--value", "118", "--unit", "µm"], monkeypatch, database_url) == 1
    assert "size_mean is measured in nm" in capsys.readouterr().err
    assert (
        run(["result", "add", "CX-2406-118", "--parameter", "sterility", "--value", "maybe"], monkeypatch, database_url)
        == 1
    )
    assert (
        run(["result", "add", "CX-2406-118", "--parameter", "colour", "--value", "1"], monkeypatch, database_url) == 2
    )
    assert (
        run(
            ["result", "add", "CX-2406-118", "--parameter", "size_mean", "--value", "1", "--method", "ruler"],
            monkeypatch,
            database_url,
        )
        == 1
    )
    assert "Traceback" not in capsys.readouterr().err
    assert (
        run(["result", "void", str(first), "--reason", "wrong lot"], monkeypatch, database_url, user="inspector") == 3
    )
    assert run(["result", "void", str(first), "--reason", "wrong lot"], monkeypatch, database_url) == 0
    audit = last_audit(db)
    assert audit["action"] == "void characterization result" and audit["reason"] == "wrong lot"
    assert run(["result", "void", str(first), "--reason", "again"], monkeypatch, database_url) == 1
    assert run(["result", "void", "x", "--reason", "again"], monkeypatch, database_url) == 2
    assert run(["result", "void", "9999", "--reason", "again"], monkeypatch, database_url) == 1


def test_notify_a_recipient(
    db: Database,
    pharmacist: ServiceContext,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lot = make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    for days, patient in ((3, "PT-00412"), (2, "PT-00412"), (1, "PT-00388")):
        record_administration(
            pharmacist, entry(lot, administered_at=YESTERDAY_10AM - timedelta(days=days), patient_ref=patient)
        )
    assert run(["notify", "CX-2406-118", "--patient", "PT-09999", "--method", "phone"], monkeypatch, database_url) == 1
    assert "PT-09999 received no administration" in capsys.readouterr().err
    assert run(["notify", "CX-2406-118", "--patient", "PT-00412", "--method", "fax"], monkeypatch, database_url) == 2
    assert (
        run(
            [
                "notify",
                "CX-2406-118",
                "--patient",
                "PT-00412",
                "--method",
                "phone",
                "--date",
                (TODAY + timedelta(days=1)).isoformat(),
            ],
            monkeypatch,
            database_url,
        )
        == 1
    )
    assert run(["notify", "CX-2406-118", "--patient", "PT-00412", "--method", "letter"], monkeypatch, database_url) == 0
    assert "2 administration(s)" in capsys.readouterr().out
    audit = last_audit(db)
    assert audit["action"] == "mark patient notified" and audit["after"]["notified_how"] == "letter"
    assert run(["trace", "CX-2406-118"], monkeypatch, database_url) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("1 not marked notified")


def test_excursions(
    quarantined: int,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = (YESTERDAY_10AM - timedelta(hours=2)).isoformat(timespec="minutes")
    end = YESTERDAY_10AM.isoformat(timespec="minutes")
    assert run(["excursion", "add", "CX-2406-118", "--from", "yesterday"], monkeypatch, database_url) == 2
    assert run(["excursion", "add", "CX-2406-118", "--from", start], monkeypatch, database_url) == 1
    assert "reading" in capsys.readouterr().err
    assert (
        run(
            ["excursion", "add", "CX-2406-118", "--from", start, "--to", end, "--min", "3", "--max", "14"],
            monkeypatch,
            database_url,
        )
        == 0
    )
    assert "excursion" in capsys.readouterr().out
    with db.read() as session:
        excursion = session.execute(select(TemperatureExcursion)).scalar_one()
        assert (excursion.duration_minutes, excursion.min_c, excursion.max_c) == (120, 3.0, 14.0)
    assert last_audit(db)["action"] == "record temperature excursion"
    assert (
        run(["excursion", "list", "CX-2406-118", "--format", "json"], monkeypatch, database_url, user="inspector") == 0
    )
    listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["resolution"], e["occurred_at"]) for e in listed] == [(excursion.id, None, start)]
    assert set(listed[0]) == {
        "id",
        "lot_id",
        "occurred_at",
        "ended_at",
        "reading_c",
        "min_c",
        "max_c",
        "duration_minutes",
        "notes",
        "resolution",
        "resolution_note",
        "resolved_at",
    }
    resolve = ["excursion", "resolve", str(excursion.id), "--disposition", "use", "--reason", "stability data"]
    assert run(resolve, monkeypatch, database_url, user="inspector") == 3
    assert run(resolve, monkeypatch, database_url, password="wrong") == 3
    assert run([*resolve[:3], "--disposition", "keep", "--reason", "x"], monkeypatch, database_url) == 2
    before = row_counts(db)["temperature_excursion"]
    assert run(resolve, monkeypatch, database_url) == 0
    assert "resolved, use (signature" in capsys.readouterr().out
    audit = last_audit(db)
    assert audit["action"] == "resolve temperature excursion" and audit["after"]["signature_meaning"] == "approved"
    assert row_counts(db)["temperature_excursion"] == before
    assert run(resolve, monkeypatch, database_url) == 1
    assert "resolved already" in capsys.readouterr().err
