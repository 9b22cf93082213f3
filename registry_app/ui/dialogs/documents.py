"""A list of files to attach: dropped onto it from the file manager, or picked with Add file… (Ctrl+O)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import DocumentKind, label
from .forms import vocab_combo

DOCUMENT_FILTER = "Documents (*.pdf *.png *.jpg *.jpeg *.tif *.tiff *.txt *.csv *.xlsx);;All files (*)"


class DocumentDropList(QWidget):
    """Files chosen for attaching, each with its kind (certificate of analysis by default)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The whole area takes drops (an item view's own drop handling wants items, not files).
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        hint = QLabel("Drop files here, or use Add file… (Ctrl+O). Delete removes the selected file.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.list = QListWidget()
        self.list.setAcceptDrops(False)
        self.list.setAccessibleName("Documents to attach")
        self.list.setMaximumHeight(90)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.kind_combo = vocab_combo(DocumentKind, empty=None)
        self.kind_combo.setAccessibleName("Kind of the next document")
        kind_label = QLabel("&Kind")
        kind_label.setBuddy(self.kind_combo)
        row.addWidget(kind_label)
        row.addWidget(self.kind_combo)
        self.add_button = QPushButton("&Add file…")
        self.add_button.clicked.connect(self.choose_files)
        row.addWidget(self.add_button)
        self.remove_button = QPushButton("Re&move")
        self.remove_button.clicked.connect(self.remove_selected)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        QShortcut(
            QKeySequence.StandardKey.Open,
            self,
            self.choose_files,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        QShortcut(
            QKeySequence.StandardKey.Delete, self.list, self.remove_selected, context=Qt.ShortcutContext.WidgetShortcut
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Attach documents", "", DOCUMENT_FILTER)
        self.add_paths([Path(n) for n in names])

    def add_paths(self, paths: list[Path]) -> None:
        kind = self.kind_combo.currentData()
        present = {item[0] for item in self.documents()}
        for path in paths:
            if path in present or not path.is_file():
                continue
            item = QListWidgetItem(f"{label(kind)}: {path.name}")
            item.setData(Qt.ItemDataRole.UserRole, (path, kind))
            item.setToolTip(str(path))
            self.list.addItem(item)

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def documents(self) -> list[tuple[Path, str]]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]
