"""Dates the user types (issue 20, item 1): ISO, digits, the locale's short form; an empty optional date is
"not recorded"; text that is not a date stays as typed, outlined, and nothing is saved; the calendar opens
on the date shown or on today."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QDate, QLocale, Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.domain import Lot
from registry_app.services import ServiceContext
from registry_app.services.products import create_product
from registry_app.ui.dialogs.date_field import DateField, parse_date
from registry_app.ui.dialogs.receive_lot import ReceiveLotDialog

from .workflow_data import show_active


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2028-06-30", date(2028, 6, 30)),
        ("20280630", date(2028, 6, 30)),
        ("2028/06/30", date(2028, 6, 30)),
        (" 2028-06-30 ", date(2028, 6, 30)),
    ],
)
def test_typed_dates_are_understood(typed: str, expected: date) -> None:
    assert parse_date(typed).toPython() == expected


def test_the_locale_short_form_is_understood() -> None:
    korean = QLocale(QLocale.Language.Korean, QLocale.Country.SouthKorea)
    typed = korean.toString(QDate(2028, 6, 30), QLocale.FormatType.ShortFormat)
    assert parse_date(typed, korean) == QDate(2028, 6, 30)
    german = QLocale(QLocale.Language.German, QLocale.Country.Germany)
    assert parse_date("30.06.28", german) == QDate(2028, 6, 30)
    assert parse_date("30.06.2028", german) == QDate(2028, 6, 30)


@pytest.mark.parametrize("typed", ["2027-02-30", "not a date", "31/31/2027", "2028-13-01"])
def test_what_is_not_a_date_is_refused(typed: str) -> None:
    assert not parse_date(typed).isValid()


def test_select_all_then_typing_replaces_and_tab_leaves(qtbot: QtBot) -> None:
    field = DateField(optional=True)
    other = QLineEdit()
    qtbot.addWidget(field)
    qtbot.addWidget(other)
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, "20280630")
    with qtbot.waitSignal(field.dateChanged, timeout=1000):
        field.editingFinished.emit()
    assert field.text() == "2028-06-30" and field.value() == date(2028, 6, 30) and field.problem() is None


def test_an_empty_optional_date_is_not_recorded_and_a_required_one_is_a_problem(qtbot: QtBot) -> None:
    optional, required = DateField(optional=True), DateField(date(2026, 1, 5))
    qtbot.addWidget(optional)
    qtbot.addWidget(required)
    assert optional.value() is None and optional.problem() is None
    assert "not recorded" in optional.placeholderText()
    required.clear()
    assert required.value() is None and "a date is needed" in (required.problem() or "")


def test_the_calendar_opens_on_today_or_on_the_date_shown(qtbot: QtBot) -> None:
    field = DateField(optional=True)
    qtbot.addWidget(field)
    field.show()
    calendar = field.open_calendar()
    assert calendar.selectedDate() == QDate.currentDate()
    calendar.clicked.emit(QDate(2029, 3, 4))
    assert field.value() == date(2029, 3, 4)
    assert field.open_calendar().selectedDate() == QDate(2029, 3, 4)
    field.calendar_menu.close()


def test_receiving_keeps_a_mistyped_expiry_and_saves_nothing(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    create_product(
        pharmacist,
        {"name": "Rose Exo Serum", "product_type": "exosome", "unit": "vial", "storage_form": "refrigerated"},
    )
    dialog = show_active(qtbot, ReceiveLotDialog(pharmacist))
    dialog.product_combo.setCurrentIndex(dialog.product_combo.findText("Rose Exo Serum (exosome)"))
    dialog.lot_number.setText("EXO-1")
    dialog.quantity.setValue(5)
    dialog.expiry_date.setFocus()
    qtbot.keyClicks(dialog.expiry_date, "2028-02-30")
    dialog.submit()
    assert "expiry_date: '2028-02-30' is not a date" in dialog.banner.text()
    assert dialog.expiry_date.text() == "2028-02-30"  # the typing is kept, to correct
    assert dialog.expiry_date.property("invalid") is True
    with pharmacist.db.read() as session:
        assert session.execute(select(Lot)).first() is None

    dialog.expiry_date.setText("")
    qtbot.keyClicks(dialog.expiry_date, "2028-06-30")
    dialog.submit()
    with pharmacist.db.read() as session:
        lot = session.execute(select(Lot)).scalar_one()
        assert lot.expiry_date == date(2028, 6, 30)
