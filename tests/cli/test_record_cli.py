"""`product set-status`, `document attach|list`, `waive` / `unwaive`, `ae add|report|list` in-process: success,
each exit code, JSON shape, and the audit entry each change writes."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from registry_app.db import Database
from registry_app.domain import ProductRegulatoryStatus, Signature, Waiver
from registry_app.services import ServiceContext
from registry_app.services.administrations import record_administration
from registry_app.services.flags import flags_for_subject

from ..services.use_data import TODAY, YESTERDAY_10AM, entry, make_lot, make_product
from .runner import last_audit, run


@pytest.fixture
def lot_id(db: Database) -> int:
    return make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")


def test_regulatory_status(
    lot_id: int, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "product",
        "set-status",
        "cordexa uc-ev 10b",
        "--jurisdiction",
        "kr",
        "--status",
        "cosmetic",
        "--reference",
        "MFDS-2024-0117",
    ]
    assert run(args, monkeypatch, database_url, user="inspector") == 3
    assert run([*args[:2], "No Such Product", *args[3:]], monkeypatch, database_url) == 1
    assert "no product named 'No Such Product'" in capsys.readouterr().err
    assert run([*args[:5], "--status", "legal"], monkeypatch, database_url) == 2
    assert run([*args[:3], "--jurisdiction", "XX", *args[5:]], monkeypatch, database_url) == 1
    assert "jurisdiction" in capsys.readouterr().err
    assert run(args, monkeypatch, database_url) == 0
    assert capsys.readouterr().out.strip() == "Cordexa UC-EV 10B: cosmetic in KR (MFDS-2024-0117)"
    with db.read() as session:
        row = session.execute(
            select(ProductRegulatoryStatus).where(ProductRegulatoryStatus.jurisdiction == "KR")
        ).scalar_one()
        assert (row.status, row.reference, row.verified_by) == ("cosmetic", "MFDS-2024-0117", "Lee Pharmacist")
    audit = last_audit(db)
    assert (audit["action"], audit["entity_type"], audit["after"]["jurisdiction"]) == (
        "set regulatory status",
        "product",
        "KR",
    )


def test_documents_attach_version_and_list(
    lot_id: int,
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = tmp_path / "coa.pdf", tmp_path / "coa-v2.pdf"
    first.write_bytes(b"%PDF-1.4 first")
    second.write_bytes(b"%PDF-1.4 second")
    assert run(["document", "attach", str(first), "--kind", "coa"], monkeypatch, database_url) == 2
    assert "name one subject" in capsys.readouterr().err
    assert (
        run(["document", "attach", "--lot", "CX-2406-118", str(first), "--kind", "poster"], monkeypatch, database_url)
        == 2
    )
    assert (
        run(
            ["document", "attach", "--lot", "CX-2406-118", str(tmp_path / "missing.pdf"), "--kind", "coa"],
            monkeypatch,
            database_url,
        )
        == 1
    )
    assert "missing.pdf" in capsys.readouterr().err
    assert (
        run(
            ["document", "attach", "--lot", "CX-2406-118", str(first), "--kind", "coa"],
            monkeypatch,
            database_url,
            user="inspector",
        )
        == 3
    )
    assert (
        run(["document", "attach", "--lot", "CX-2406-118", str(first), "--kind", "coa"], monkeypatch, database_url) == 0
    )
    assert hashlib.sha256(first.read_bytes()).hexdigest() in capsys.readouterr().out
    audit = last_audit(db)
    assert (audit["action"], audit["entity_type"]) == ("attach document", "document")
    first_id = int(audit["entity_id"])
    assert (
        run(
            ["document", "attach", "--lot", "CX-2406-118", str(second), "--kind", "coa", "--supersedes", str(first_id)],
            monkeypatch,
            database_url,
        )
        == 0
    )
    assert f"supersedes document {first_id}" in capsys.readouterr().out
    assert (
        run(
            ["document", "list", "--lot", "CX-2406-118", "--format", "json"],
            monkeypatch,
            database_url,
            user="inspector",
        )
        == 0
    )
    current = json.loads(capsys.readouterr().out)
    assert [d["file_name"] for d in current] == ["coa-v2.pdf"]
    assert set(current[0]) == {
        "id",
        "kind",
        "product_id",
        "lot_id",
        "file_name",
        "media_type",
        "size_bytes",
        "sha256",
        "reference",
        "supersedes_id",
        "superseded_by_id",
        "uploaded_by",
        "uploaded_at",
    }
    assert current[0]["supersedes_id"] == first_id and current[0]["uploaded_by"] == "pharmacist"
    assert (
        run(["document", "list", "--lot", "CX-2406-118", "--all", "--format", "json"], monkeypatch, database_url) == 0
    )
    both = json.loads(capsys.readouterr().out)
    assert [(d["file_name"], d["superseded_by_id"]) for d in both] == [
        ("coa.pdf", current[0]["id"]),
        ("coa-v2.pdf", None),
    ]
    assert run(["document", "list", "--product", "Cordexa UC-EV 10B"], monkeypatch, database_url) == 0
    assert "no documents" in capsys.readouterr().out


def test_waive_and_unwaive(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118", coa_ref=None)  # raises UNDOC-COA
    waive = ["waive", "UNDOC-COA", "--lot", "CX-2406-118", "--reason", "CoA requested from the maker"]
    assert run(waive, monkeypatch, database_url) == 3  # a pharmacist may not
    assert "may not waive flags" in capsys.readouterr().err
    assert run(waive, monkeypatch, database_url, user="director", password="wrong") == 3
    assert (
        run(
            ["waive", "UNDOC-NOTHING", "--lot", "CX-2406-118", "--reason", "x"],
            monkeypatch,
            database_url,
            user="director",
        )
        == 2
    )
    assert (
        run(
            ["waive", "UNDOC-COA", "--product", "Cordexa UC-EV 10B", "--reason", "x"],
            monkeypatch,
            database_url,
            user="director",
        )
        == 1
    )
    assert "raised on a lot, not on a product" in capsys.readouterr().err
    assert (
        run(
            ["waive", "UNDOC-COA", "--lot", "CX-2406-118", "--administration", "3", "--reason", "x"],
            monkeypatch,
            database_url,
            user="director",
        )
        == 2
    )
    assert run(waive, monkeypatch, database_url, user="director") == 0
    assert "UNDOC-COA waived (waiver" in capsys.readouterr().out
    audit = last_audit(db)
    assert (audit["action"], audit["after"]["meaning"], audit["after"]["code"]) == ("waive flag", "waived", "UNDOC-COA")
    with db.read() as session:
        assert session.execute(select(Signature.meaning)).scalars().all() == ["waived"]
    assert run(waive, monkeypatch, database_url, user="director") == 1  # waived already
    assert "waived already" in capsys.readouterr().err
    unwaive = ["unwaive", "UNDOC-COA", "--lot", "CX-2406-118", "--reason", "CoA never came"]
    assert run(unwaive, monkeypatch, database_url) == 3
    assert run(unwaive, monkeypatch, database_url, user="director") == 0
    assert last_audit(db)["action"] == "revoke waiver"
    with db.read() as session:
        assert session.execute(select(Waiver.revoked_at)).scalar_one() is not None
    assert run(unwaive, monkeypatch, database_url, user="director") == 1
    assert "no waived UNDOC-COA flag" in capsys.readouterr().err


def test_adverse_events(
    db: Database,
    pharmacist: ServiceContext,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lot = make_lot(db, make_product(db, "Cordexa UC-EV 10B"), "CX-2406-118")
    administration = record_administration(pharmacist, entry(lot)).administration_id
    onset = YESTERDAY_10AM.date().isoformat()
    add = [
        "ae",
        "add",
        "--administration",
        str(administration),
        "--event",
        "swelling",
        "--onset",
        onset,
        "--severity",
        "mild",
        "--note",
        "left cheek",
    ]
    assert run(add, monkeypatch, database_url, user="inspector") == 3
    assert run([*add[:4], "--event", "itch", *add[6:]], monkeypatch, database_url) == 2
    assert run(["ae", "add", "--administration", "9999", *add[4:]], monkeypatch, database_url) == 1
    assert "no administration with id 9999" in capsys.readouterr().err
    assert run([*add[:6], "--onset", (TODAY + timedelta(days=2)).isoformat()], monkeypatch, database_url) == 1
    assert run(add, monkeypatch, database_url) == 0
    assert "adverse event" in capsys.readouterr().out
    audit = last_audit(db)
    assert (audit["action"], audit["entity_type"]) == ("record adverse event", "adverse_event")
    event_id = int(audit["entity_id"])
    assert (
        run(["ae", "list", "--lot", "CX-2406-118", "--format", "json"], monkeypatch, database_url, user="inspector")
        == 0
    )
    listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["event_type"], e["report_status"], e["onset_date"]) for e in listed] == [
        (event_id, "swelling", "not_reported", onset)
    ]
    assert run(["ae", "report", str(event_id), "--status", "not_reportable"], monkeypatch, database_url) == 1
    assert "not reportable" in capsys.readouterr().err
    assert run(["ae", "report", str(event_id), "--status", "sent"], monkeypatch, database_url) == 2
    assert (
        run(
            ["ae", "report", str(event_id), "--status", "reported_regulator", "--reference", "MW-2026-0042"],
            monkeypatch,
            database_url,
        )
        == 0
    )
    audit = last_audit(db)
    assert audit["action"] == "update adverse event report"
    assert audit["after"]["report_reference"] == "MW-2026-0042"
    assert not [f for f in flags_for_subject(pharmacist, "adverse_event", event_id) if not f.waived]
