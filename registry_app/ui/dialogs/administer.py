"""Record an administration: scan or pick the lot, then patient, route, areas, quantity, practitioner and
screening. The guard rails speak before anything is saved:

- a `high` finding shows its message and the Save button becomes "Confirm and save";
- a `critical` finding, or a lot still in quarantine (or rejected), blocks; a medical director may override
  it with a reason and a signature (a pharmacist at the workstation asks the director to type their own name
  and password in the panel). Which findings block is the service's decision (`GuardRailBlocked.blocking`).

Nothing is written until the last press succeeds (the service rolls back a refused attempt).
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import BodyArea, Contraindication, Role, Route
from ...services import RegistryError, ServiceContext
from ...services.administrations import (
    AdministrationInput,
    AdministrationResult,
    Override,
    record_administration,
)
from ...services.catalogue import Flag
from ...services.clock import site_clock
from ...services.errors import ConfirmationRequired, GuardRailBlocked
from ..ops import report_unexpected, runner_for
from ..wording import count_phrase
from .flag_list import FlagTable
from .forms import (
    ErrorBanner,
    checked_values,
    checklist,
    number_or_none,
    optional_number,
    set_combo_value,
    show_registry_error,
    vocab_combo,
    wire_keyboard,
)
from .lots import LotPicker
from .undo import FormUndo

SCREENING_CHOICES = (("— not recorded —", None), ("Done", True), ("Not done", False))


class AdministerDialog(QDialog):
    """`result` holds the AdministrationResult once saved (the dialog is then accepted)."""

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None, *, lot_id: int | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.result: AdministrationResult | None = None
        self._state = "edit"  # edit | confirm (high findings shown) | blocked (blocking findings shown)
        self.setWindowTitle("Record administration")
        self.resize(640, 720)
        outer = QVBoxLayout(self)
        self.banner = ErrorBanner()
        outer.addWidget(self.banner)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        body = QWidget()
        form = QFormLayout(body)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        self.lot_picker = LotPicker(ctx, usable_only=True)
        form.addRow(self._label("&Lot (scan or pick)", self.lot_picker.scan_edit), self.lot_picker)
        # "Now" on the site's clock, not the machine's (issue 20.2): the time is stored as the site's local time
        # and the audit trail shows it in the same zone, named beside the field.
        self.clock = site_clock(ctx)
        self.administered_at = QDateTimeEdit(QDateTime(self.clock.now().replace(second=0, microsecond=0)))
        self.administered_at.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.administered_at.setCalendarPopup(True)
        form.addRow(self._label(f"&When ({self.clock.zone_name()})", self.administered_at), self.administered_at)
        self.patient_ref = QLineEdit()
        self.patient_ref.setPlaceholderText("Pseudonymous reference such as PT-00412, never a name")
        form.addRow(self._label("&Patient reference", self.patient_ref), self.patient_ref)
        self.route = vocab_combo(Route, empty=None)
        form.addRow(self._label("&Route", self.route), self.route)
        self.body_areas = checklist(v.value for v in BodyArea)
        self.body_areas.setAccessibleName("Body areas")
        form.addRow(self._label("Body &areas", self.body_areas), self.body_areas)
        self.quantity = optional_number(0.0, 1000.0, decimals=2)
        form.addRow(self._label("&Quantity (lot units)", self.quantity), self.quantity)
        self.volume_ml = optional_number(0.0, 1000.0, decimals=2, suffix=" mL")
        form.addRow(self._label("&Volume", self.volume_ml), self.volume_ml)
        self.practitioner = QLineEdit(ctx.actor.display_name if ctx.actor else "")
        form.addRow(self._label("Prac&titioner", self.practitioner), self.practitioner)
        self.device_procedure = QLineEdit()
        self.device_procedure.setPlaceholderText("e.g. fractional CO2, RF microneedling")
        form.addRow(self._label("De&vice procedure", self.device_procedure), self.device_procedure)
        self.ind_reference = QLineEdit()
        form.addRow(self._label("&IND/CTA reference", self.ind_reference), self.ind_reference)
        self.screening = QComboBox()
        for text, value in SCREENING_CHOICES:
            self.screening.addItem(text, value)
        form.addRow(self._label("&Screening", self.screening), self.screening)
        self.contraindications = checklist(v.value for v in Contraindication)
        self.contraindications.setAccessibleName("Contraindications found at screening")
        form.addRow(self._label("C&ontraindications found", self.contraindications), self.contraindications)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setMaximumHeight(60)
        form.addRow(self._label("&Notes", self.notes), self.notes)

        self.guard_box = QGroupBox("Guard rails")
        guard_layout = QVBoxLayout(self.guard_box)
        self.guard_message = QLabel()
        self.guard_message.setWordWrap(True)
        guard_layout.addWidget(self.guard_message)
        self.findings = FlagTable()
        self.findings.setMaximumHeight(150)
        guard_layout.addWidget(self.findings)
        self.override_box = QGroupBox("Medical director's override (electronic signature)")
        override_form = QFormLayout(self.override_box)
        self.override_reason = QPlainTextEdit()
        self.override_reason.setTabChangesFocus(True)
        self.override_reason.setMaximumHeight(60)
        self.override_reason.setPlaceholderText("Why going ahead is justified (kept with the signature)")
        override_form.addRow(self._label("Override &reason", self.override_reason), self.override_reason)
        self.director_name = QLineEdit()
        self.director_name.setPlaceholderText("The medical director's user name")
        if ctx.actor is not None and ctx.actor.role == Role.MEDICAL_DIRECTOR:
            self.director_name.setText(ctx.actor.username)
        override_form.addRow(self._label("&Director", self.director_name), self.director_name)
        self.override_password = QLineEdit()
        self.override_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.override_password.setPlaceholderText("The director types their password to sign")
        override_form.addRow(self._label("Pass&word", self.override_password), self.override_password)
        guard_layout.addWidget(self.override_box)
        self.confirm_check = QCheckBox("I have read these findings and &confirm the administration")
        guard_layout.addWidget(self.confirm_check)
        self.guard_box.hide()
        outer.addWidget(self.guard_box)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("&Save")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.save_button)

        self.undo = FormUndo(self)
        for widget, name in self._fields().items():
            self.undo.watch(widget, name)
            self._on_edit(widget)
        self.lot_picker.lot_changed.connect(self._back_to_edit)
        if lot_id is not None:
            self.lot_picker.select_lot(lot_id)
        self.lot_picker.scan_edit.setFocus()

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        title = QLabel(text)
        title.setBuddy(buddy)
        return title

    def _fields(self) -> dict[QWidget, str]:
        return {
            self.administered_at: "administered_at",
            self.patient_ref: "patient_ref",
            self.route: "route",
            self.body_areas: "body_areas",
            self.quantity: "quantity",
            self.volume_ml: "volume_ml",
            self.practitioner: "practitioner",
            self.device_procedure: "device_procedure",
            self.ind_reference: "ind_reference",
            self.screening: "screening_done",
            self.contraindications: "contraindications",
            self.notes: "notes",
        }

    def _on_edit(self, widget: QWidget) -> None:
        # Any change after findings were shown means they may no longer apply: ask the rules again.
        for signal in ("textChanged", "currentIndexChanged", "valueChanged", "dateTimeChanged", "itemChanged"):
            if hasattr(widget, signal):
                getattr(widget, signal).connect(self._back_to_edit)
                return

    def _back_to_edit(self, *_: object) -> None:
        if self._state != "edit":
            self._state = "edit"
            self.confirm_check.setChecked(False)
            had_focus = self.guard_box.isAncestorOf(self.focusWidget()) if self.focusWidget() else True
            self.guard_box.hide()
            self.save_button.setText("&Save")
            if had_focus:
                self.save_button.setFocus()

    # ------------------------------------------------------------------------------------------ input

    def entry(self) -> AdministrationInput | None:
        lot_id = self.lot_picker.lot_id()
        if lot_id is None:
            self.banner.show_error("Lot: scan the package or pick the lot from the list.")
            self.lot_picker.scan_edit.setFocus()
            return None
        when: datetime = self.administered_at.dateTime().toPython()
        return AdministrationInput(
            lot_id=lot_id,
            administered_at=when.replace(second=0, microsecond=0),
            route=self.route.currentData(),
            patient_ref=self.patient_ref.text().strip() or None,
            body_areas=checked_values(self.body_areas),
            quantity=number_or_none(self.quantity),
            volume_ml=number_or_none(self.volume_ml),
            practitioner=self.practitioner.text().strip() or None,
            device_procedure=self.device_procedure.text().strip() or None,
            ind_reference=self.ind_reference.text().strip() or None,
            screening_done=self.screening.currentData(),
            contraindications=checked_values(self.contraindications),
            notes=self.notes.toPlainText().strip() or None,
        )

    def set_values(
        self,
        *,
        patient_ref: str = "",
        route: str | None = None,
        quantity: float | None = None,
        practitioner: str | None = None,
        screening_done: bool | None = None,
        body_areas: tuple[str, ...] = (),
        contraindications: tuple[str, ...] = (),
    ) -> None:
        """Fill the form (used by callers that pre-fill, e.g. repeating a patient's last treatment)."""
        from .forms import set_checked

        self.patient_ref.setText(patient_ref)
        if route:
            set_combo_value(self.route, route)
        if quantity is not None:
            self.quantity.setValue(quantity)
        if practitioner is not None:
            self.practitioner.setText(practitioner)
        set_combo_value(self.screening, screening_done)
        set_checked(self.body_areas, body_areas)
        set_checked(self.contraindications, contraindications)

    # ------------------------------------------------------------------------------------------- save

    def save(self) -> None:
        entry = self.entry()
        if entry is None:
            return
        override = None
        if self._state == "blocked":
            reason = self.override_reason.toPlainText().strip()
            password = self.override_password.text()
            if not reason or not password or not self.director_name.text().strip():
                self.banner.show_error(
                    "A blocking finding stops this administration. To go ahead, a medical "
                    "director writes the reason, their user name and password, then signs."
                )
                (self.override_reason if not reason else self.override_password).setFocus()
                return
            override = Override(reason=reason, password=password, username=self.director_name.text().strip())
        confirm = self._state == "confirm" and self.confirm_check.isChecked()
        if self._state == "confirm" and not confirm:
            self.banner.show_warning("Tick the confirmation (Alt+C) after reading the findings, then save again.")
            self.confirm_check.setFocus()
            return
        ctx, confirmed = self.ctx, confirm or override is not None
        # The rules run and the row is written on the op's thread: a writer waiting for the database's lock
        # leaves the window responsive, and Save stays disabled until the answer is back (no double record).
        runner_for(self).run(
            self,
            lambda _progress: record_administration(ctx, entry, confirm=confirmed, override=override),
            self._saved,
            self._refused,
            title="Recording the administration",
            busy=[self.buttons],
        )

    def _saved(self, result: AdministrationResult) -> None:
        self.result = result
        self.banner.clear_message()
        self.undo.clear()
        self.accept()

    def _refused(self, error: BaseException) -> None:
        if isinstance(error, GuardRailBlocked):
            self._show_guard_rails("blocked", error.findings, error.blocking)
        elif isinstance(error, ConfirmationRequired):
            self._show_guard_rails("confirm", error.findings, [])
        elif isinstance(error, RegistryError):
            self.override_password.clear()
            show_registry_error(self.banner, error, self._field_widgets())
        else:
            report_unexpected(self, error)

    def _field_widgets(self) -> dict[str, QWidget]:
        widgets: dict[str, QWidget] = {name: widget for widget, name in self._fields().items()}
        widgets["lot_id"] = self.lot_picker.scan_edit
        widgets["override_reason"] = self.override_reason
        return widgets

    def _show_guard_rails(self, state: str, findings: list[Flag], blocking: list[Flag]) -> None:
        self._state = state
        self.findings.set_flags(findings)
        self.guard_box.show()
        if state == "blocked":
            self.guard_message.setText(
                "<b>Blocked.</b> "
                + " ".join(f"{f.code}: {f.message}" for f in blocking)
                + "<br>Only a medical director may override, with a reason and a signature."
            )
            self.banner.show_error(
                f"Not saved: {count_phrase(len(blocking), 'blocking finding')}. See Guard rails below."
            )
            self.override_box.show()
            self.confirm_check.hide()
            self.save_button.setText("&Override and save")
            self.override_reason.setFocus()
        else:
            high = [f for f in findings if f.severity == "high"]
            self.guard_message.setText("<b>Please confirm.</b> " + " ".join(f"{f.code}: {f.message}" for f in high))
            self.banner.show_warning(
                f"Not saved yet: {count_phrase(len(high), 'high finding')} "
                f"need{'s' if len(high) == 1 else ''} your confirmation."
            )
            self.override_box.hide()
            self.confirm_check.show()
            self.confirm_check.setChecked(False)
            self.save_button.setText("Confirm and &save")
            self.confirm_check.setFocus(Qt.FocusReason.OtherFocusReason)
