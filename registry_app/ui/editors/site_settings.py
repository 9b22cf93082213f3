"""The site's settings (admin): its name, its jurisdiction (which decides the regulatory status the flag rules
read), its time zone, an IANA name that the service checks with zoneinfo, and the registry's patient reference
pattern (a regular expression the service checks refuses names and dates)."""

from __future__ import annotations

from zoneinfo import available_timezones

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCompleter, QFormLayout, QLabel, QLineEdit, QWidget

from ...services import ServiceContext
from ...services.context import ADMIN
from ...services.sites import set_site, site_info
from ..ops import runner_for
from .common import EditorDialog, deny, refusal


class SiteSettingsDialog(EditorDialog):
    """`saved(info)` with the site's code, name, jurisdiction and time zone once saved; the dialog closes."""

    saved = Signal(dict)

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Site settings", parent)
        self.code = QLabel(objectName="siteCode")
        explanation = QLabel(
            "The jurisdiction decides which regulatory status of a product the flag rules "
            "read; times are shown in the site's time zone."
        )
        explanation.setWordWrap(True)
        self.outer.addWidget(explanation)
        form = QFormLayout()
        self.outer.addLayout(form)
        form.addRow("Site code", self.code)
        self.name = QLineEdit(objectName="siteName")
        self.add_row(form, "&Name", self.name, "name")
        self.jurisdiction = QLineEdit(objectName="jurisdiction")
        self.jurisdiction.setPlaceholderText("ISO 3166 code (KR, US, FR …) or EU")
        self.add_row(form, "&Jurisdiction", self.jurisdiction, "jurisdiction")
        self.time_zone = QLineEdit(objectName="timeZone")
        self.time_zone.setPlaceholderText("IANA name, e.g. Asia/Seoul, Europe/Paris, America/New_York")
        # Suggestions only: what is typed is kept as typed, and the service decides what is a time zone.
        completer = QCompleter(sorted(available_timezones()), self.time_zone)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.time_zone.setCompleter(completer)
        self.add_row(form, "&Time zone", self.time_zone, "time_zone")
        self.patient_ref_pattern = QLineEdit(objectName="patientRefPattern")
        self.patient_ref_pattern.setPlaceholderText("empty: the default (no spaces, no dates, at least one digit)")
        self.patient_ref_pattern.setToolTip(
            "A regular expression every new patient reference must match in full, e.g. PT-[0-9]{5}. "
            "References recorded earlier are kept as they are."
        )
        self.add_row(form, "&Patient references", self.patient_ref_pattern, "patient_ref_pattern")
        self._loaded_pattern = ""
        self.outer.addStretch(1)
        self.save_button.setText("&Save settings")
        self.finish_layout()
        why = refusal(ctx, ADMIN, "change the site's settings")
        if why:
            deny(self.save_button, why)
            self.banner.show_warning(why)
        self.resize(560, 320)
        self.load()
        self.name.setFocus()

    def load(self) -> None:
        ctx = self.ctx
        runner_for(self).run(
            self,
            lambda _p: site_info(ctx),
            self._loaded,
            self._load_failed,
            title="Loading the site",
            busy=[self.save_button],
        )

    def _loaded(self, info: dict[str, str]) -> None:
        self.code.setText(info["code"])
        self.name.setText(info["name"])
        self.jurisdiction.setText(info["jurisdiction"])
        self.time_zone.setText(info.get("time_zone", ""))
        self._loaded_pattern = info.get("patient_ref_pattern", "")
        self.patient_ref_pattern.setText(self._loaded_pattern)
        self.loaded_into_form()

    def submit(self) -> None:
        ctx, name, code, zone = self.ctx, self.name.text(), self.jurisdiction.text(), self.time_zone.text()
        typed = self.patient_ref_pattern.text().strip()
        # An unchanged pattern is not set again (no audit entry for it); an emptied one restores the default.
        pattern = None if typed == self._loaded_pattern else typed
        # An empty time zone leaves the one set (if any): the site always has one once chosen.
        self.save_op(lambda: set_site(ctx, code, name, zone if zone.strip() else None, pattern), self._saved)

    def _saved(self, info: dict[str, str]) -> None:
        self.saved_cleanly()
        self.saved.emit(info)
        self.accept()


def open_site_settings(parent: QWidget | None, ctx: ServiceContext) -> SiteSettingsDialog:
    """Open the site settings (saving needs the admin role; others see them read-only)."""
    dialog = SiteSettingsDialog(ctx, parent)
    dialog.open()
    return dialog
