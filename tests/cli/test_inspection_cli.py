"""A whole inspection driven headless, command by command, as a script would: import lots, results, a
regulatory status, release, import administrations, an adverse event reported, an excursion resolved, a recall
with its notifications, a waiver, `flags --summary`, `bundle`. Then the flags the command line reports are
compared with what the desktop's services show for the same registry."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from registry_app.services import ServiceContext
from registry_app.services.flags import count_flags, list_flags

from ..helpers import FORMAT_EXAMPLES
from .runner import last_audit, run

YESTERDAY = datetime.combine(date.today() - timedelta(days=1), datetime.min.time())


@pytest.mark.qt  # the bundle writes the compliance report (PDF)
def test_a_whole_inspection_headless(
    database_url: str,
    inspector: ServiceContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def ok(*argv: str, user: str = "pharmacist") -> str:
        code = run(list(argv), monkeypatch, database_url, user=user)
        captured = capsys.readouterr()
        assert code == 0, f"{argv}: exit {code}: {captured.err}"
        # Only the anchor a check or an output prints on stderr ("audit head: SEQ:HASH", issue 17).
        assert all(line.startswith("audit head: ") for line in captured.err.splitlines()), captured.err
        return captured.out

    ok("import", "lots", str(FORMAT_EXAMPLES / "lots-example.csv"))
    ok("result", "add", "GX-01", "--parameter", "size_mean", "--value", "121", "--unit", "nm", "--method", "nta")
    ok("result", "add", "GX-01", "--parameter", "sterility", "--value", "pass", "--method", "usp71")
    ok("product", "set-status", "Glow Exo Booster", "--jurisdiction", "US", "--status", "research_use_only")
    for lot in ("CX-2406-118", "RV-5521", "PN20-7781", "GX-01"):
        # The director reads the lot's open critical and high findings and acknowledges each in the signature.
        findings = json.loads(ok("flags", "--lot", lot, "--format", "json", user="director"))
        serious = sorted({f["code"] for f in findings if f["severity"] in ("critical", "high") and not f["waived"]})
        ok("release", lot, *[arg for code in serious for arg in ("--acknowledge", code)], user="director")
    ok("import", "administrations", str(FORMAT_EXAMPLES / "administrations-example.csv"))

    # The administration ids, as a script finds them: from the administrations export.
    export = tmp_path / "administrations.csv"
    ok("export", "administrations", "--format", "csv", "--out", str(export), "--include-patient-refs", user="director")
    with export.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    first = next(r for r in rows if r["lot_number"] == "CX-2406-118")
    ok(
        "ae",
        "add",
        "--administration",
        first["administration_id"],
        "--event",
        "erythema",
        "--onset",
        first["administered_at"][:10],
        "--severity",
        "mild",
    )
    event_id = last_audit(inspector.db)["entity_id"]
    ok("ae", "report", event_id, "--status", "reported_manufacturer", "--reference", "NB-CASE-311")

    ok(
        "excursion",
        "add",
        "CX-2406-118",
        "--from",
        f"{YESTERDAY:%Y-%m-%d}T08:00",
        "--to",
        f"{YESTERDAY:%Y-%m-%d}T09:30",
        "--min",
        "4",
        "--max",
        "12",
    )
    excursion_id = last_audit(inspector.db)["entity_id"]
    ok(
        "excursion",
        "resolve",
        excursion_id,
        "--disposition",
        "use",
        "--reason",
        "maker's stability data: 24 h at 25 °C",
    )

    ok("recall", "PN20-7781", "--reason", "manufacturer notice FSN-12", user="director")
    ok("notify", "PN20-7781", "--patient", "PT-00388", "--method", "phone")
    trace = json.loads(ok("trace", "PN20-7781", "--format", "json", user="inspector"))
    seen = [a["patient_ref"] for a in trace["administrations"]]
    assert trace["status"] == "recalled" and len(seen) == 1 and seen[0].startswith("P-") and "00388" not in seen[0]
    trace = json.loads(ok("trace", "PN20-7781", "--format", "json", user="director"))
    assert [a["patient_ref"] for a in trace["administrations"]] == ["PT-00388"]

    lot_flags = json.loads(ok("flags", "--lot", "RV-5521", "--format", "json", user="inspector"))
    waivable = next(f for f in lot_flags if f["subject_type"] == "lot" and not f["waived"])
    ok("waive", waivable["code"], "--lot", "RV-5521", "--reason", "accepted for the inspection", user="director")

    # What the command line reports equals what the desktop's services show for the same registry.
    summary = json.loads(ok("flags", "--summary", "--format", "json", user="inspector"))
    counts = count_flags(inspector)
    assert (summary["open"], summary["waived"]) == (counts.total, counts.waived) and counts.waived >= 1
    assert {s: c["open"] for s, c in summary["by_severity"].items()} == counts.by_severity
    streamed = json.loads(ok("flags", "--format", "json", user="inspector"))
    desktop = [f.as_json() for f in list_flags(inspector)]
    key = lambda f: (f["code"], f["subject_type"], f["subject_id"], f["message"], f["waived"])  # noqa: E731
    assert sorted(map(key, streamed)) == sorted(map(key, desktop))
    codes = {f["code"] for f in streamed}
    # Its only recipient was notified: the recall's lookback is closed.
    assert not any(f["code"] == "RECALL-LOOKBACK-OPEN" and f["lot_number"] == "PN20-7781" for f in streamed)
    assert "USE-TEMPERATURE" not in codes  # the excursion was resolved
    assert not any(f["code"] == "AE-UNREPORTED" for f in streamed)  # the event was reported
    assert any(f["waived"] and f["code"] == waivable["code"] and f["lot_number"] == "RV-5521" for f in streamed)

    bundle = tmp_path / "inspection.zip"
    out = ok("bundle", "--from", "2026-01-01", "--to", date.today().isoformat(), "--out", str(bundle), user="inspector")
    assert f"wrote {bundle}" in out
    with zipfile.ZipFile(bundle) as archive:
        assert archive.testzip() is None and len(archive.namelist()) > 3
    assert ok("audit", "verify", user="inspector").startswith("audit trail intact")
