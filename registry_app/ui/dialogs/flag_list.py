"""A small read-only table of findings (severity, code, message), used wherever flags are shown inline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ..style import severity_colour


def flag_field(flag: Any, name: str) -> Any:
    """Flags arrive as rules.Flag objects or as their JSON dicts; read either."""
    return flag.get(name) if isinstance(flag, dict) else getattr(flag, name, None)


class FlagTable(QTableWidget):
    COLUMNS = ("Severity", "Code", "Message")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.setAccessibleName("Findings")

    def set_flags(self, flags: Iterable[Any]) -> None:
        rows = list(flags)
        self.setRowCount(len(rows))
        for row, flag in enumerate(rows):
            severity = str(flag_field(flag, "severity") or "")
            waived = bool(flag_field(flag, "waived"))
            cells = (severity + (" (waived)" if waived else ""), flag_field(flag, "code"), flag_field(flag, "message"))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(str(text or ""))
                if column == 0 and severity:
                    item.setForeground(QBrush(severity_colour(severity)))
                self.setItem(row, column, item)
        self.resizeRowsToContents()

    def codes(self) -> list[str]:
        return [self.item(r, 1).text() for r in range(self.rowCount())]
