"""F1 help (issue 20.7): a short guide per page, shipped as HTML files in resources/help/ (package data
`registry_app.resources`, read through packaged.resource_files() so a wheel or a bundle finds them as the
checkout does), shown in a dialog for the page on screen."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ..packaged import resource_files

INDEX = "index"


def topic_for(page_name: str) -> str:
    """The help file's stem for a page name: "Audit trail" -> "audit-trail"."""
    return page_name.strip().lower().replace(" ", "-")


def help_html(topic: str) -> str:
    """The guide for `topic`, or the index when the page has none (a page added without its guide)."""
    folder = resource_files().joinpath("help")
    for name in (topic, INDEX):
        entry = folder.joinpath(f"{name}.html")
        if entry.is_file():
            return entry.read_text(encoding="utf-8")
    return "<p>No guide is installed for this page.</p>"


class HelpDialog(QDialog):
    def __init__(self, topic: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle(f"Help — {title}")
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser(objectName="helpText")
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(help_html(topic))
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
