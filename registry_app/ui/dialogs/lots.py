"""Finding the lot in hand: scan its GS1 barcode or type its number, then Enter; or pick it from a list of
the most recent lots that fit the task (released lots for an administration, quarantined ones for a release).

A scan fills the lot number (and the GTIN tells which product when a lot number is shared); a number that
several products use asks which product is meant. The picked lot is shown with its product and status.

The pick list is a search (issue 20.7): what is typed in "Search" is queried in SQL as the Lots page does, so
a clinic with 466 usable lots finds any of them, not only the 200 most recent.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from ...domain.exact import quantity_text
from ...domain.vocab import label
from ...services import RegistryError, ServiceContext
from ...services.formats import ScanError, parse_scan
from ...services.queries.lots_page import LotPage, LotQuery, LotsPageRow, lot_page
from ...services.recalls import AmbiguousLot, LotRef, find_lot, trace_lot
from ..ops import runner_for
from .forms import ScanEdit

PICK_LIMIT = 200
UNUSABLE = {"recalled", "rejected", "destroyed", "depleted", "expired", "quarantine"}


class LotPicker(QWidget):
    lot_changed = Signal(object)  # the LotRef, or None

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        usable_only: bool = False,
        pick_statuses: tuple[str, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.usable_only = usable_only
        self.lot: LotRef | None = None
        self._pending_number = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scan_edit = ScanEdit()
        self.scan_edit.setAccessibleName("Scan or lot number")
        self.scan_edit.setPlaceholderText("Scan the package, or type the lot number and press Enter")
        self.scan_edit.returnPressed.connect(self.look_up)
        layout.addWidget(self.scan_edit)
        self.pick_combo = QComboBox()
        self.pick_combo.setAccessibleName("Pick the lot from the list")
        # Long product names would widen the whole dialog past the screen; the open list still shows them whole.
        self.pick_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.pick_combo.setMinimumContentsLength(30)
        self.pick_combo.activated.connect(self._picked)
        self.search_edit = QLineEdit(objectName="lotPickerSearch")
        self.search_edit.setAccessibleName("Search the lots to pick from")
        self.search_edit.setPlaceholderText("Search the list: lot number, product, supplier…")
        self.search_edit.setClearButtonEnabled(True)
        pick_row = QHBoxLayout()
        pick_row.addWidget(self.search_edit, 1)
        pick_row.addWidget(self.pick_combo, 2)
        layout.addLayout(pick_row)
        self._statuses = pick_statuses or (("released",) if usable_only else ())
        self._asked = 0  # bumped per search: a late answer to an older text is dropped
        # One query when typing pauses, not one per key.
        self._typing = QTimer(self, singleShot=True, interval=200)
        self._typing.timeout.connect(self.search)
        self.search_edit.textChanged.connect(lambda _text: self._typing.start())
        self._fill_pick_list(self._statuses)
        row = QHBoxLayout()
        self.product_combo = QComboBox()
        self.product_combo.setAccessibleName("Product of the lot")
        self.product_combo.activated.connect(self._product_chosen)
        self.product_label = QLabel("Which &product?")
        self.product_label.setBuddy(self.product_combo)
        row.addWidget(self.product_label)
        row.addWidget(self.product_combo, 1)
        layout.addLayout(row)
        self.status_label = QLabel("No lot chosen yet.")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self._show_products([])

    def _fill_pick_list(self, statuses: tuple[str, ...]) -> None:
        """The most recently received lots (of these statuses), for picking without a scanner."""
        try:
            page = lot_page(self.ctx, LotQuery(statuses=statuses), limit=PICK_LIMIT, badges=False)
        except RegistryError:
            page = None
        self._show_choices(page.rows if page else [], bool(page and page.has_more), "")

    def search(self) -> None:
        """Query the typed text in SQL (as the Lots page does) off the GUI thread, then refill the list."""
        self._asked += 1
        asked, ctx, text = self._asked, self.ctx, self.search_edit.text().strip()
        query = LotQuery(text=text, statuses=self._statuses)
        runner_for(self).run(
            self,
            lambda _progress: lot_page(ctx, query, limit=PICK_LIMIT, badges=False),
            lambda page: self._found(asked, text, page),
            lambda error: self._found(asked, text, None),
            title="Searching the lots",
        )

    def _found(self, asked: int, text: str, page: LotPage | None) -> None:
        if asked == self._asked:
            self._show_choices(page.rows if page else [], bool(page and page.has_more), text)

    def _show_choices(self, rows: list[LotsPageRow], more: bool, text: str) -> None:
        self.pick_combo.clear()
        which = " or ".join(self._statuses) if self._statuses else "recent"
        count = f"first {len(rows)}, type to narrow" if more else str(len(rows))
        if rows:
            heading = (
                f"… or pick from the {which} lots matching “{text}” ({count})"
                if text
                else f"… or pick from the {which} lots ({count})"
            )
        else:
            heading = f"No {which} lots match “{text}”" if text else f"No {which} lots"
        self.pick_combo.addItem(heading, None)
        for r in rows:
            expiry = f", expires {r.expiry_date}" if r.expiry_date else ""
            stock = f"{quantity_text(r.on_hand)} {r.unit or ''}".strip()
            self.pick_combo.addItem(
                f"{r.product} — lot {r.lot_number} ({stock} on hand{expiry})", (r.lot_number, r.product)
            )
        self.pick_combo.setEnabled(bool(rows))
        view = self.pick_combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 24)  # the open list wide enough for whole entries

    def _picked(self, _index: int) -> None:
        choice = self.pick_combo.currentData()
        if choice is not None:
            number, product = choice
            self.scan_edit.setText(number)
            self._find(number, product)

    def lot_id(self) -> int | None:
        return self.lot.lot_id if self.lot else None

    def _show_products(self, names: list[str]) -> None:
        self.product_combo.clear()
        for name in names:
            self.product_combo.addItem(name, name)
        visible = bool(names)
        self.product_combo.setVisible(visible)
        self.product_label.setVisible(visible)

    def look_up(self) -> None:
        text = self.scan_edit.text()
        number = text.strip()
        if not number:
            return
        if number.startswith(("(", "]", "\x1d")) or (number[:2] == "01" and len(number) > 16 and number.isalnum()):
            try:
                scan = parse_scan(text)
            except ScanError as error:
                self._set(None, f"Not a usable barcode: {error}")
                return
            if not scan.lot_number:
                self._set(None, "The barcode has no lot number (AI 10); type the lot number instead.")
                return
            number = scan.lot_number
            self.scan_edit.setText(number)
        self._find(number, None)

    def _product_chosen(self, _index: int) -> None:
        if self._pending_number:
            self._find(self._pending_number, self.product_combo.currentData())

    def _find(self, number: str, product_name: str | None) -> None:
        try:
            ref = find_lot(self.ctx, number, product_name)
        except AmbiguousLot as ambiguous:
            self._pending_number = number
            self._show_products(ambiguous.product_names)
            self._set(None, f"Lot {number} exists for several products: choose the product.")
            self.product_combo.setFocus()
            return
        except RegistryError as error:
            self._set(None, error.message)
            return
        self._pending_number = ""
        self._show_products([])
        self._accept(ref)

    def select_lot(self, lot_id: int) -> None:
        try:
            trace = trace_lot(self.ctx, lot_id)
        except RegistryError as error:
            self._set(None, error.message)
            return
        self.scan_edit.setText(trace.lot_number)
        self._find(trace.lot_number, trace.product_name)

    def _accept(self, ref: LotRef) -> None:
        note = ""
        if self.usable_only and ref.status in UNUSABLE:
            note = f" — this lot is {label(ref.status).lower()}; the guard rails will say what that means."
        self._set(ref, f"<b>{ref.product_name}</b>, lot {ref.lot_number}: {label(ref.status).lower()}{note}")

    def _set(self, ref: LotRef | None, text: str) -> None:
        self.lot = ref
        self.status_label.setText(text)
        self.lot_changed.emit(ref)
