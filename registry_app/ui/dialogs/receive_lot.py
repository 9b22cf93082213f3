"""Receiving a lot (pharmacist): scan, product, receipt check, documents. The lot starts in quarantine and its
findings are shown as soon as it is saved, so what is missing is known before anyone thinks of releasing it.

The first field takes a keyboard-wedge GS1 scan and fills GTIN, lot, expiry and serial (one Ctrl+Z takes the
whole scan back). A GTIN the registry knows picks its product; otherwise the product is chosen from the list
or created here in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import BiologicalSource, PnSpecies, Presentation, ProductType, StorageForm, Unit
from ...services import FieldError, RegistryError, ServiceContext, ValidationError
from ...services.catalogue import Flag
from ...services.clock import site_clock
from ...services.context import STAFF
from ...services.lots.documents import attach_document
from ...services.lots.receiving import ReceiptResult, identify_scan, parse_lot_fields, receipt_warnings, receive_lot
from ...services.products import create_product, list_products, update_product
from ..ops import report_unexpected, runner_for
from ..wording import count_phrase
from .date_field import date_problems
from .documents import DocumentDropList
from .flag_list import FlagTable
from .flags_of import open_flags_of_lot
from .forms import (
    ErrorBanner,
    ScanEdit,
    date_edit,
    date_or_none,
    has_role,
    number_or_none,
    optional_date_edit,
    optional_number,
    set_combo_value,
    set_optional_date,
    show_registry_error,
    vocab_combo,
    wire_keyboard,
)
from .undo import FormUndo

NEW_PRODUCT = -1
PACKAGE_CHOICES = (("— not checked —", None), ("Intact", True), ("Damaged", False))


def _label(text: str, buddy: QWidget) -> QLabel:
    title = QLabel(text)
    title.setBuddy(buddy)
    return title


@dataclass
class _Receipt:
    """What the receipt op brings back to the GUI thread."""

    result: ReceiptResult
    problems: list[str] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)


@dataclass(frozen=True)
class _Warned:
    """The receipt was not saved: these warnings are shown first (the same details again receive it)."""

    key: str
    warnings: tuple[str, ...]


class ReceiveLotDialog(QDialog):
    """`result` holds the ReceiptResult once saved; the dialog then shows the new lot's findings."""

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.result: ReceiptResult | None = None
        self.document_ids: list[int] = []
        # The details whose receipt warnings (e.g. expired on arrival) the user has seen: receiving them again
        # goes ahead; any change is checked anew.
        self._warned_key: str | None = None
        self.setWindowTitle("Receive a lot")
        self.resize(680, 760)
        outer = QVBoxLayout(self)
        self.banner = ErrorBanner()
        outer.addWidget(self.banner)
        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)
        self.pages.addWidget(self._build_form())
        self.pages.addWidget(self._build_done())

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.receive_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.receive_button.setText("&Receive into quarantine")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.receive_button)
        if not has_role(ctx, STAFF):
            self.receive_button.setEnabled(False)
            self.banner.show_warning("Only a pharmacist or a medical director may receive lots.")

        self.undo = FormUndo(self)
        for widget, name in self._undoable().items():
            self.undo.watch(widget, name)
        self.load_products()
        self.scan_edit.setFocus()

    def reject(self) -> None:
        """Cancel, Esc or the close box: typed input is not thrown away without asking."""
        typed = not self.undo.stack.isClean() or bool(self.documents.documents())
        if self.result is None and typed:
            answer = QMessageBox.question(
                self,
                "Discard this receipt?",
                "What you entered for this lot has not been saved. Discard it?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Discard:
                return
        super().reject()

    # -------------------------------------------------------------------------------------------- build

    def _build_form(self) -> QWidget:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        scroll.setWidget(body)

        scan_form = QFormLayout()
        self.scan_edit = ScanEdit()
        self.scan_edit.setAccessibleName("Barcode scan")
        self.scan_edit.setPlaceholderText("Scan the GS1 barcode on the package (or type it as (01)…(17)…(10)…)")
        self.scan_edit.returnPressed.connect(self.apply_scan)
        scan_form.addRow(_label("&Scan", self.scan_edit), self.scan_edit)
        layout.addLayout(scan_form)

        product_box = QGroupBox("Product")
        product_form = QFormLayout(product_box)
        self.product_combo = QComboBox()
        self.product_combo.currentIndexChanged.connect(self._product_changed)
        product_form.addRow(_label("&Product", self.product_combo), self.product_combo)
        self.new_product = QWidget()
        new_form = QFormLayout(self.new_product)
        new_form.setContentsMargins(0, 0, 0, 0)
        self.product_name = QLineEdit()
        new_form.addRow(_label("&Name", self.product_name), self.product_name)
        self.product_type = vocab_combo(ProductType, empty=None)
        self.product_type.currentIndexChanged.connect(self._type_changed)
        new_form.addRow(_label("T&ype", self.product_type), self.product_type)
        self.manufacturer = QLineEdit()
        self.manufacturer.setPlaceholderText("As on the label; 'unknown' if it is not stated")
        new_form.addRow(_label("&Manufacturer", self.manufacturer), self.manufacturer)
        self.unit = vocab_combo(Unit)
        new_form.addRow(_label("&Unit", self.unit), self.unit)
        self.presentation = vocab_combo(Presentation)
        new_form.addRow(_label("Presen&tation", self.presentation), self.presentation)
        self.storage_form = vocab_combo(StorageForm)
        new_form.addRow(_label("Stora&ge", self.storage_form), self.storage_form)
        self.source = vocab_combo(BiologicalSource)
        self.source_label = _label("Biological so&urce", self.source)
        new_form.addRow(self.source_label, self.source)
        self.pn_species = vocab_combo(PnSpecies)
        self.pn_species_label = _label("Source s&pecies", self.pn_species)
        new_form.addRow(self.pn_species_label, self.pn_species)
        product_form.addRow(self.new_product)
        layout.addWidget(product_box)

        lot_box = QGroupBox("Lot")
        lot_form = QFormLayout(lot_box)
        self.gtin = QLineEdit()
        self.gtin.setReadOnly(True)
        self.gtin.setPlaceholderText("From the scan")
        lot_form.addRow(_label("GTIN", self.gtin), self.gtin)
        self.lot_number = QLineEdit()
        lot_form.addRow(_label("&Lot number", self.lot_number), self.lot_number)
        self.serial = QLineEdit()
        lot_form.addRow(_label("Se&rial", self.serial), self.serial)
        self.expiry_date = optional_date_edit()
        lot_form.addRow(_label("E&xpiry", self.expiry_date), self.expiry_date)
        self.supplier = QLineEdit()
        self.supplier.setPlaceholderText("The distributor the lot came from")
        lot_form.addRow(_label("Supp&lier", self.supplier), self.supplier)
        self.coa_ref = QLineEdit()
        self.coa_ref.setPlaceholderText("Certificate of analysis number (or attach the file below)")
        lot_form.addRow(_label("&CoA reference", self.coa_ref), self.coa_ref)
        self.donor_ref = QLineEdit()
        self.donor_ref.setPlaceholderText("Donor-eligibility record, for human-derived products")
        lot_form.addRow(_label("&Donor eligibility", self.donor_ref), self.donor_ref)
        layout.addWidget(lot_box)

        check_box = QGroupBox("Receipt check")
        check_form = QFormLayout(check_box)
        self.received_date = date_edit(site_clock(self.ctx).now().date())  # the site's today
        check_form.addRow(_label("Recei&ved on", self.received_date), self.received_date)
        self.quantity = optional_number(0.0, 100000.0, decimals=2)
        check_form.addRow(_label("&Quantity", self.quantity), self.quantity)
        self.temperature = optional_number(-200.0, 60.0, decimals=1, suffix=" °C")
        check_form.addRow(_label("&Temperature on arrival", self.temperature), self.temperature)
        self.package = QComboBox()
        for text, value in PACKAGE_CHOICES:
            self.package.addItem(text, value)
        check_form.addRow(_label("Pac&kage", self.package), self.package)
        layout.addWidget(check_box)

        docs_box = QGroupBox("Documents (certificate of analysis, donor eligibility, IFU …)")
        docs_layout = QVBoxLayout(docs_box)
        self.documents = DocumentDropList()
        docs_layout.addWidget(self.documents)
        layout.addWidget(docs_box)
        return scroll

    def _build_done(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.done_label = QLabel()
        self.done_label.setWordWrap(True)
        self.done_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.done_label)
        self.findings = FlagTable()
        layout.addWidget(self.findings, 1)
        return page

    def _undoable(self) -> dict[QWidget, str]:
        return {
            self.product_combo: "product",
            self.product_name: "product name",
            self.product_type: "product type",
            self.manufacturer: "manufacturer",
            self.unit: "unit",
            self.presentation: "presentation",
            self.storage_form: "storage",
            self.source: "source",
            self.pn_species: "species",
            self.lot_number: "lot number",
            self.serial: "serial",
            self.expiry_date: "expiry",
            self.supplier: "supplier",
            self.coa_ref: "CoA reference",
            self.donor_ref: "donor eligibility",
            self.received_date: "received date",
            self.quantity: "quantity",
            self.temperature: "temperature",
            self.package: "package",
            self.gtin: "GTIN",
        }

    # --------------------------------------------------------------------------------------- behaviour

    def load_products(self) -> None:
        self.product_combo.blockSignals(True)
        self.product_combo.clear()
        self.product_combo.addItem("New product…", NEW_PRODUCT)
        self._products_without_gtin: set[int] = set()
        try:
            products = list_products(self.ctx)
        except RegistryError as error:
            products = []
            self.banner.show_error(error.message)
        self._products_without_gtin = {p.id for p in products if not p.gtin}
        for product in products:
            self.product_combo.addItem(f"{product.name} ({product.product_type})", product.id)
        self.product_combo.blockSignals(False)
        self.product_combo.setCurrentIndex(1 if products else 0)
        self._product_changed()

    def _product_changed(self, *_: object) -> None:
        self.new_product.setVisible(self.product_combo.currentData() == NEW_PRODUCT)
        self._type_changed()

    def _type_changed(self, *_: object) -> None:
        exosome = self.product_type.currentData() == ProductType.EXOSOME
        for widget in (self.source, self.source_label):
            widget.setVisible(exosome)
        for widget in (self.pn_species, self.pn_species_label):
            widget.setVisible(not exosome)

    def apply_scan(self) -> None:
        text = self.scan_edit.text()
        if not text.strip():
            return
        try:
            match = identify_scan(self.ctx, text)
        except RegistryError as error:
            show_registry_error(self.banner, error, {"scan": self.scan_edit})
            return
        scan = match.scan
        with self.undo.macro("scan"):
            self.gtin.setText(scan.gtin or "")
            if scan.lot_number:
                self.lot_number.setText(scan.lot_number)
            if scan.serial:
                self.serial.setText(scan.serial)
            if scan.expiry_date:
                set_optional_date(self.expiry_date, scan.expiry_date)
            if match.product_id is not None:
                set_combo_value(self.product_combo, match.product_id)
            else:
                set_combo_value(self.product_combo, NEW_PRODUCT)
        if match.existing_lot_id is not None:
            self.banner.show_warning(
                f"Lot {scan.lot_number} of {match.product_name} is already in the registry: "
                "it was received before. Amend that record rather than receiving it twice."
            )
        elif match.product_id is None and scan.gtin:
            self.banner.show_warning(
                f"No product has GTIN {scan.gtin} yet: describe the new product below (or pick it from the list)."
            )
            self.product_name.setFocus()
        else:
            self.banner.show_warning(
                f"Scanned {match.product_name}, lot {scan.lot_number}. "
                "Now the receipt check: quantity, temperature, package."
            )
            self.quantity.setFocus()
            self.quantity.selectAll()

    def lot_details(self) -> dict[str, Any]:
        package = self.package.currentData()
        return {
            "lot_number": self.lot_number.text().strip(),
            "serial": self.serial.text().strip(),
            "expiry_date": date_or_none(self.expiry_date),
            "received_date": self.received_date.value(),
            "quantity_received": number_or_none(self.quantity),
            "receipt_temperature_c": number_or_none(self.temperature),
            "package_intact": package,
            "supplier": self.supplier.text().strip(),
            "coa_ref": self.coa_ref.text().strip(),
            "donor_eligibility_ref": self.donor_ref.text().strip(),
        }

    def product_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "name": self.product_name.text().strip(),
            "product_type": self.product_type.currentData(),
            "manufacturer": self.manufacturer.text().strip(),
            "unit": self.unit.currentData(),
            "presentation": self.presentation.currentData(),
            "storage_form": self.storage_form.currentData(),
        }
        if self.gtin.text().strip():
            details["gtin"] = self.gtin.text().strip()
        if details["product_type"] == ProductType.EXOSOME:
            details["source"] = self.source.currentData()
        else:
            details["pn_species"] = self.pn_species.currentData()
        return details

    def _product_lacks_gtin(self, product_id: int) -> bool:
        return bool(self.gtin.text().strip()) and product_id in self._products_without_gtin

    def _fields(self) -> dict[str, QWidget]:
        return {
            "scan": self.scan_edit,
            "lot_number": self.lot_number,
            "serial": self.serial,
            "expiry_date": self.expiry_date,
            "received_date": self.received_date,
            "quantity_received": self.quantity,
            "receipt_temperature_c": self.temperature,
            "package_intact": self.package,
            "supplier": self.supplier,
            "coa_ref": self.coa_ref,
            "donor_eligibility_ref": self.donor_ref,
            "name": self.product_name,
            "product_type": self.product_type,
            "manufacturer": self.manufacturer,
            "gtin": self.gtin,
            "product": self.product_combo,
            "file": self.documents,
        }

    def submit(self) -> None:
        if self.pages.currentIndex() == 1:
            self.accept()
            return
        dates = date_problems(("expiry_date", self.expiry_date), ("received_date", self.received_date))
        if dates:
            self.banner.show_error("\n".join(dates))
            return
        # Everything the work needs is read from the widgets here, on the GUI thread; the op's thread only
        # calls services (the receipt, a new product, documents), so a busy database never freezes the window.
        ctx, details, documents = self.ctx, self.lot_details(), self.documents.documents()
        product_id = self.product_combo.currentData()
        new_product = self.product_details() if product_id == NEW_PRODUCT else None
        learn_gtin = self.gtin.text().strip() if new_product is None and self._product_lacks_gtin(product_id) else ""
        created: list[int] = []  # a new product outlives a refused receipt: the retry must not create it again
        key = repr((product_id, sorted(details.items()), sorted((new_product or {}).items())))
        acknowledged = key == self._warned_key

        def work(_progress: object) -> _Receipt | _Warned:
            # Every lot field is checked before anything is written, a new product included.
            parse_lot_fields(details, required=("lot_number", "quantity_received"))
            if not acknowledged:
                # Warnings come before saving: an expired lot is one to refuse at the door, not after.
                known = None if product_id == NEW_PRODUCT else product_id
                form = new_product.get("storage_form") if new_product else None
                warnings = receipt_warnings(ctx, details, known, form, new_product["name"] if new_product else None)
                if warnings:
                    return _Warned(key, warnings)
            missing = [path for path, _kind in documents if not path.is_file()]
            if missing:
                raise ValidationError([FieldError("file", f"{p} is no longer there") for p in missing])
            chosen = product_id
            if new_product is not None:
                chosen = create_product(ctx, new_product)
                created.append(chosen)
            result = receive_lot(ctx, chosen, details)
            receipt = _Receipt(result)
            if learn_gtin:
                # The scanned GTIN now belongs to the product chosen for it: the next scan finds it directly.
                try:
                    update_product(
                        ctx, chosen, {"gtin": learn_gtin}, reason=f"GTIN scanned at receipt of lot {result.lot_number}"
                    )
                except RegistryError as error:
                    receipt.problems.append(f"GTIN not kept on the product: {error.message}")
            for path, kind in documents:
                try:
                    receipt.document_ids.append(attach_document(ctx, kind, lot_id=result.lot_id, path=path))
                except RegistryError as error:
                    receipt.problems.append(f"{path.name}: {error.message}")
            receipt.flags = open_flags_of_lot(ctx, result.lot_id, result.product_id)
            return receipt

        def show_created_product() -> None:
            if created:
                self.load_products()
                set_combo_value(self.product_combo, created[0])

        def received(receipt: _Receipt | _Warned) -> None:
            if isinstance(receipt, _Warned):
                self._warned_key = receipt.key
                self.banner.show_warning(
                    "Not received yet: "
                    + "; ".join(receipt.warnings)
                    + ". Press Receive anyway to receive it as it is."
                )
                self.receive_button.setText("Receive &anyway")
                return
            show_created_product()
            self.result = receipt.result
            self.document_ids.extend(receipt.document_ids)
            self.undo.clear()
            self._show_done(receipt.result, receipt.problems, receipt.flags)

        def refused(error: BaseException) -> None:
            show_created_product()
            if isinstance(error, RegistryError):
                show_registry_error(self.banner, error, self._fields())
            else:
                report_unexpected(self, error)

        runner_for(self).run(self, work, received, refused, title="Receiving the lot", busy=[self.buttons])

    def _show_done(self, result: ReceiptResult, problems: list[str], flags: list[Flag] | None = None) -> None:
        if flags is None:
            flags = open_flags_of_lot(self.ctx, result.lot_id, result.product_id)
        lines = [
            f"<b>{result.product_name}</b>, lot <b>{result.lot_number}</b> is received and in "
            "<b>quarantine</b> until a medical director releases it."
        ]
        lines += [f"⚠ {w}" for w in result.warnings]
        if self.document_ids:
            lines.append(f"{count_phrase(len(self.document_ids), 'document')} attached.")
        lines += [f"Note: {p}" for p in problems]
        lines.append(
            f"{count_phrase(len(flags), 'finding')} on this lot and its product:"
            if flags
            else "No findings: the lot's documentation is complete."
        )
        self.done_label.setText("<br>".join(lines))
        self.findings.set_flags(flags)
        self.pages.setCurrentIndex(1)
        self.banner.clear_message()
        self.receive_button.setText("&Close")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.receive_button.setFocus()
