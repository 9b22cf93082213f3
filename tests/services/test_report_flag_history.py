"""The compliance report tells how long each open flag has stood and which flags closed in the period (issue 22)."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from registry_app.services import ServiceContext, reports
from registry_app.services.flag_table import life_phrase
from registry_app.services.lots import receiving

from ..rules import builders as b


def _text(path: Path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", text)


@pytest.mark.qt  # writes a PDF
def test_the_report_shows_open_since_and_the_flags_closed_in_the_period(
    pharmacist: ServiceContext, inspector: ServiceContext, tmp_path: Path
) -> None:
    today = date.today()
    with pharmacist.db.write() as session:
        lot = b.lot(session, b.product(session), coa_ref=None, expiry_date=None, received_date=today)
        lot_id, number = lot.id, lot.lot_number
    receiving.amend_lot(pharmacist, lot_id, {"coa_ref": "COA-77"}, "certificate arrived")
    result = reports.compliance_report(inspector, today - timedelta(days=30), today, tmp_path / "r.pdf", today=today)
    text = _text(result.path)
    day = f"{today.day} {today:%B %Y}"
    assert f"open since {day}" in text  # UNDOC-EXPIRY still stands
    assert "Flags closed in the period" in text
    closed = text[text.index("Flags closed in the period") :]
    assert "UNDOC-COA" in closed and number in closed and f"closed {day} by amend lots" in closed


def test_a_flags_life_in_words() -> None:
    from datetime import datetime

    raised, closed = datetime(2026, 3, 12, 12), datetime(2026, 4, 2, 12)
    assert life_phrase(raised, None, None) == "open since 12 March 2026"
    assert life_phrase(raised, closed, "amend administrations") == (
        "raised 12 March 2026, closed 2 April 2026 by amend administrations"
    )
    # AE-UNREPORTED stands from its due day, not from when the event was recorded.
    assert life_phrase(raised, None, None, due_on=date(2026, 3, 28)) == "open since 28 March 2026"
