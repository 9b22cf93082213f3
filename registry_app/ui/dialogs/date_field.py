"""A date the user can type: ISO (2028-06-30), digits alone (20280630) or the locale's short form, with a
calendar button that opens on the date shown, or on today when there is none.

It is a line edit, not a QDateEdit: a QDateEdit's sections fight typing (Ctrl+A then "2028-06-30" gave
"not recorded20280630"), its "not recorded" had to be a fake lowest date, and its calendar opened on that
date (December 1999). Here an empty field is "not recorded" (optional fields), and text that is not a date
stays as typed, outlined in red with the reason beside it, until it is corrected: nothing is guessed.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, QLocale, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QCalendarWidget, QLineEdit, QMenu, QStyle, QWidget, QWidgetAction

from ..style import mark_invalid

ISO = "yyyy-MM-dd"


def parse_date(text: str, locale: QLocale | None = None) -> QDate:
    """The date `text` names, or an invalid QDate: ISO first, then yyyyMMdd, then the locale's short form."""
    text = text.strip()
    if not text:
        return QDate()
    for pattern in (ISO, "yyyyMMdd", "yyyy/MM/dd", "yyyy.MM.dd"):
        found = QDate.fromString(text, pattern)
        if found.isValid():
            return found
    locale = locale or QLocale()
    short = locale.dateFormat(QLocale.FormatType.ShortFormat)
    found = locale.toDate(text, short)
    if found.isValid() and "yyyy" not in short and found.year() < 2000:
        found = found.addYears(100)  # Qt reads "28" as 1928; in a lot registry "30.06.28" is 2028
    if not found.isValid() and "yyyy" not in short:
        found = locale.toDate(text, short.replace("yy", "yyyy"))  # the short form with the year in full
    return found if found.isValid() else locale.toDate(text, QLocale.FormatType.LongFormat)


class DateField(QLineEdit):
    """`date()` is the typed date as a QDate (invalid when empty or not a date); `problem()` says why not."""

    dateChanged = Signal(QDate)

    def __init__(
        self, value: date | QDate | None = None, *, optional: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.optional = optional
        short = QLocale().dateFormat(QLocale.FormatType.ShortFormat)
        self.setPlaceholderText("not recorded (YYYY-MM-DD)" if optional else "YYYY-MM-DD")
        self.setToolTip(
            f"Type a date as YYYY-MM-DD (or {short}); Alt+Down opens the calendar."
            + (" Leave it empty when it is not recorded." if optional else "")
        )
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView)
        self.calendar_action = QAction(QIcon(icon), "Pick a date from the calendar", self)
        self.calendar_action.setObjectName("openCalendar")
        self.calendar_action.setShortcut(QKeySequence("Alt+Down"))
        self.calendar_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.calendar_action.triggered.connect(self.open_calendar)
        self.addAction(self.calendar_action, QLineEdit.ActionPosition.TrailingPosition)
        self.addAction(self.calendar_action)  # its shortcut works while the field has focus
        self._last = QDate()
        self.editingFinished.connect(self._finished)
        self.textEdited.connect(lambda _text: mark_invalid(self, False))
        self.setDate(value)

    # --- the value ------------------------------------------------------------------------------------
    def date(self) -> QDate:
        return parse_date(self.text())

    def setDate(self, value: date | QDate | None) -> None:
        qdate = QDate(value) if isinstance(value, date) else (value or QDate())
        self.setText(qdate.toString(ISO) if qdate.isValid() else "")
        mark_invalid(self, False)
        self._emit_if_changed()

    def value(self) -> date | None:
        """The date, or None when the field is empty or not a date (check `problem()` first)."""
        found = self.date()
        return found.toPython() if found.isValid() else None  # type: ignore[no-any-return]

    def problem(self) -> str | None:
        """Why the field holds no usable date, in words for the message beside it; None when it does."""
        text = self.text().strip()
        if not text:
            return None if self.optional else "a date is needed here (YYYY-MM-DD)"
        if not self.date().isValid():
            return f"{text!r} is not a date: type it as YYYY-MM-DD, e.g. {QDate.currentDate().toString(ISO)}"
        return None

    # --- typing and the calendar ---------------------------------------------------------------------
    def _finished(self) -> None:
        problem = self.problem()
        mark_invalid(self, problem is not None)
        if problem is not None:
            self.setToolTip(problem)
            return
        found = self.date()
        if found.isValid():
            self.setText(found.toString(ISO))  # 20280630 and 30/06/2028 read back as 2028-06-30
        self._emit_if_changed()

    def _emit_if_changed(self) -> None:
        current = self.date()
        if current != self._last:
            self._last = current
            if current.isValid():
                self.dateChanged.emit(current)

    def open_calendar(self) -> QCalendarWidget:
        calendar = QCalendarWidget()
        calendar.setObjectName("dateFieldCalendar")
        calendar.setGridVisible(True)
        shown = self.date()
        calendar.setSelectedDate(shown if shown.isValid() else QDate.currentDate())
        menu = QMenu(self)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(calendar)
        menu.addAction(holder)

        def chosen(day: QDate) -> None:
            self.setDate(day)
            menu.close()
            self.setFocus()

        calendar.clicked.connect(chosen)
        calendar.activated.connect(chosen)
        self.calendar_menu = menu  # kept for tests and for the menu's lifetime
        menu.popup(self.mapToGlobal(self.rect().bottomLeft()))
        calendar.setFocus()
        return calendar


def date_problems(*fields: tuple[str, DateField]) -> list[str]:
    """ "label: why" for each field whose text is not a usable date (each also outlined in red)."""
    problems = []
    for label, field in fields:
        problem = field.problem()
        mark_invalid(field, problem is not None)
        if problem is not None:
            problems.append(f"{label}: {problem}")
    return problems
