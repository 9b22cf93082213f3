"""The lot record's history of its flags (issue 22): when each was raised, and when and by what it closed."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from registry_app.services import ServiceContext
from registry_app.services.lots import receiving
from registry_app.ui.lot_record import LotRecord

from .workflow_data import make_lot


def _history(record: LotRecord) -> list[tuple[str, str]]:
    table = record.flag_history_table
    return [(table.item(row, 1).text(), table.item(row, 3).text()) for row in range(table.rowCount())]


def test_the_record_shows_when_its_flags_were_raised_and_what_closed_them(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    lot = make_lot(pharmacist.db, expiry_date=None, coa_ref=None)
    receiving.amend_lot(pharmacist, lot.lot_id, {"coa_ref": "COA-2026-17"}, "certificate arrived")
    record = LotRecord(pharmacist, lot.lot_id)
    qtbot.addWidget(record)
    history = dict(_history(record))
    assert history["UNDOC-EXPIRY"].startswith("open since ")
    assert history["UNDOC-COA"].startswith("raised ") and history["UNDOC-COA"].endswith(" by amend lots")
    assert "UNDOC-COA" not in [f["code"] for f in record.detail.flags]  # type: ignore[union-attr]
