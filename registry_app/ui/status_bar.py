"""A status bar that never cuts a message off (issue 20.7): messages and the permanent user, role, site and
database labels are elided with "…" to the room they have, and carry their whole text as a tooltip.

QStatusBar draws a temporary message itself, clipped without a mark behind the permanent widgets; here the
message is an eliding label that shares the bar's width with them instead."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QFontMetrics, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget


class ElidedLabel(QLabel):
    """A one-line label that shows what fits, ending in "…", with the whole text as its tooltip. `text()`
    stays the whole text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, objectName: str = "") -> None:
        super().__init__(text, parent)
        if objectName:
            self.setObjectName(objectName)
        # Its whole width when there is room, down to a few characters when there is not.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(min(60, super().minimumSizeHint().width()), super().minimumSizeHint().height())

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def is_elided(self) -> bool:
        return QFontMetrics(self.font()).horizontalAdvance(self.text()) > self.contentsRect().width()

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        # A path loses its middle (the file name stays), a message its end.
        mode = Qt.TextElideMode.ElideMiddle if self.objectName() == "statusDatabase" else Qt.TextElideMode.ElideRight
        shown = QFontMetrics(self.font()).elidedText(self.text(), mode, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


class RegistryStatusBar(QStatusBar):
    """`showMessage`/`currentMessage`/`clearMessage` as QStatusBar's, shown in an eliding label."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_label = ElidedLabel(objectName="statusMessage")
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # A third of a 1024 px window at least: the labels beside it elide first.
        self.message_label.setMinimumWidth(320)
        self.addWidget(self.message_label, 1)
        self._clear = QTimer(self, singleShot=True)
        self._clear.timeout.connect(self.clearMessage)

    def showMessage(self, text: str, timeout: int | None = 0) -> None:
        self.message_label.setText(text)
        self._clear.stop()
        if timeout:
            self._clear.start(timeout)

    def currentMessage(self) -> str:
        return self.message_label.text()

    def clearMessage(self) -> None:
        self.message_label.setText("")

    def add_permanent_label(self, name: str, text: str) -> ElidedLabel:
        """A permanent label that gives up width before the message does, eliding itself."""
        label = ElidedLabel(text, objectName=name)
        self.addPermanentWidget(label)
        return label
