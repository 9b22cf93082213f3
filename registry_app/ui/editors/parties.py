"""Manufacturers and suppliers: the editor for one (name; a manufacturer's country as an ISO 3166 code,
checked by the service), and a list of them with New… and Edit…. Amending asks for a reason; parties are
never deleted (products and lots point at them)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.parties import (
    PartyInfo,
    create_manufacturer,
    create_supplier,
    get_party,
    list_manufacturers,
    list_suppliers,
    update_manufacturer,
    update_supplier,
)
from ..dialogs.forms import ErrorBanner
from ..ops import report_unexpected, runner_for
from .common import EditorDialog, deny, refusal

KINDS = ("manufacturer", "supplier")


class PartyEditor(EditorDialog):
    """A new or amended manufacturer or supplier. `saved(id, name)` once saved; the dialog then closes."""

    saved = Signal(int, str)

    def __init__(
        self, ctx: ServiceContext, kind: str, party_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}, not {kind!r}")
        super().__init__(ctx, f"{'Amend' if party_id else 'New'} {kind}", parent)
        self.kind, self.party_id = kind, party_id
        form = QFormLayout()
        self.outer.addLayout(form)
        self.name = QLineEdit(objectName="partyName")
        self.name.setPlaceholderText("As on the label or the delivery note")
        self.add_row(form, "&Name", self.name, "name")
        self.country = QLineEdit(objectName="country")
        self.country.setPlaceholderText("ISO 3166 code: KR, US, FR … (empty if not known)")
        if kind == "manufacturer":  # the supplier record has no country
            self.add_row(form, "&Country", self.country, "country")
        self.reason = QLineEdit(objectName="reason")
        self.reason.setPlaceholderText("Why the record changes; kept in the audit trail")
        if party_id is not None:
            self.add_row(form, "Rea&son", self.reason, "reason")
        self.outer.addStretch(1)
        self.finish_layout()
        why = refusal(ctx, STAFF, f"add or amend {kind}s")
        if why:
            deny(self.save_button, why)
            self.banner.show_warning(why)
        if party_id is not None:
            self._load(party_id)
        else:
            self.loaded_into_form()
        self.resize(480, 240)
        self.name.setFocus()

    def _load(self, party_id: int) -> None:
        ctx, kind = self.ctx, self.kind
        runner_for(self).run(
            self,
            lambda _p: get_party(ctx, kind, party_id),
            self._loaded,
            self._load_failed,
            title=f"Loading the {kind}",
            busy=[self.save_button],
        )

    def _loaded(self, party: PartyInfo) -> None:
        self.name.setText(party.name)
        self.country.setText(party.country or "")
        self.loaded_into_form()

    def submit(self) -> None:
        ctx, party_id = self.ctx, self.party_id
        name, country, reason = self.name.text(), self.country.text().strip() or None, self.reason.text()
        if self.kind == "manufacturer":
            if party_id is None:
                self.save_op(lambda: create_manufacturer(ctx, name, country), self._saved)
            else:
                self.save_op(
                    lambda: update_manufacturer(ctx, party_id, name, country, reason),
                    lambda _none: self._saved(party_id),
                )
        elif party_id is None:
            self.save_op(lambda: create_supplier(ctx, name), self._saved)
        else:
            self.save_op(lambda: update_supplier(ctx, party_id, name, reason), lambda _none: self._saved(party_id))

    def _saved(self, party_id: int) -> None:
        self.saved_cleanly()
        self.party_id = party_id
        self.saved.emit(party_id, " ".join(self.name.text().split()))
        self.accept()


class PartyListDialog(QDialog):
    """Every manufacturer (with its country) or supplier, with New… and Edit… (Enter or double-click edits)."""

    def __init__(self, ctx: ServiceContext, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.kind = ctx, kind
        self.setWindowTitle(f"{kind.capitalize()}s")
        self.resize(460, 480)
        layout = QVBoxLayout(self)
        self.banner = ErrorBanner()
        layout.addWidget(self.banner)
        self.list = QListWidget(objectName=f"{kind}List")
        self.list.itemActivated.connect(lambda _item: self.edit())
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.new_button = QPushButton("&New…")
        self.new_button.clicked.connect(self.new)
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.clicked.connect(self.edit)
        row.addWidget(self.new_button)
        row.addWidget(self.edit_button)
        row.addStretch(1)
        layout.addLayout(row)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        why = refusal(ctx, STAFF, f"add or amend {kind}s")
        deny(self.new_button, why)
        deny(self.edit_button, why)
        self.editor: PartyEditor | None = None
        self.refresh()

    def refresh(self, select: int | None = None) -> None:
        ctx, lister = self.ctx, list_manufacturers if self.kind == "manufacturer" else list_suppliers
        runner_for(self).run(
            self,
            lambda _p: lister(ctx),
            lambda found: self._show(found, select),
            self._failed,
            title=f"Loading {self.kind}s",
        )

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, RegistryError):
            self.banner.show_error(error.message)
        else:
            report_unexpected(self, error)

    def _show(self, parties: list[PartyInfo], select: int | None) -> None:
        self.list.clear()
        for party in parties:
            item = QListWidgetItem(f"{party.name} ({party.country})" if party.country else party.name)
            item.setData(Qt.ItemDataRole.UserRole, party.id)
            self.list.addItem(item)
            if party.id == select:
                self.list.setCurrentItem(item)

    def selected_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def new(self) -> None:
        self._open(None)

    def edit(self) -> None:
        party_id = self.selected_id()
        if party_id is not None and self.edit_button.isEnabled():
            self._open(party_id)

    def _open(self, party_id: int | None) -> None:
        self.editor = PartyEditor(self.ctx, self.kind, party_id, self)
        self.editor.saved.connect(lambda saved_id, _name: self.refresh(saved_id))
        self.editor.open()


def open_party_editor(
    parent: QWidget | None, ctx: ServiceContext, kind: str, party_id: int | None = None
) -> PartyEditor:
    """Open the editor of a new (`party_id` None) or existing manufacturer or supplier."""
    dialog = PartyEditor(ctx, kind, party_id, parent)
    dialog.open()
    return dialog


def open_party_list(parent: QWidget | None, ctx: ServiceContext, kind: str) -> PartyListDialog:
    """Open the list of manufacturers or suppliers, with New… and Edit…."""
    dialog = PartyListDialog(ctx, kind, parent)
    dialog.open()
    return dialog
