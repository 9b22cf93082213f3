"""The product editor: create a product, or amend one with a reason (a correction is an amendment; nothing is
deleted). Details as labelled, manufacturer (picked, typed, or created here), labelled routes, GTIN and the
product's own specification limits are saved together by `products.save_product` in one transaction, so a
refused field leaves nothing half-saved. Its regulatory status per jurisdiction opens from here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...domain.vocab import (
    BiologicalSource,
    DonorUse,
    IsolationMethod,
    PnSpecies,
    Presentation,
    ProductType,
    Route,
    StorageForm,
    Unit,
)
from ...services import ServiceContext
from ...services.context import STAFF
from ...services.parties import PartyInfo, list_manufacturers
from ...services.products import ProductInfo, get_product, save_product
from ..dialogs.forms import checked_values, checklist, set_checked, set_combo_value, vocab_combo
from ..ops import runner_for
from .common import EditorDialog, deny, refusal

# The product's own limits (services/products.py _SPEC_FIELDS): (field, caption, unit shown as placeholder).
SPEC_FIELDS = (
    ("spec_endotoxin_max", "Endotoxin, at most", "EU/mL"),
    ("spec_size_min_nm", "Particle size, at least", "nm"),
    ("spec_size_max_nm", "Particle size, at most", "nm"),
    ("spec_concentration_tolerance_pct", "Concentration tolerance", "± % of the labelled value"),
)
# Fields only one product type has: the others are hidden and saved empty (not recorded).
EXOSOME_ONLY = ("source", "donor_use", "isolation_method")
PN_ONLY = ("pn_species",)


class ProductEditor(EditorDialog):
    """`product_id` None: a new product. `saved(product_id)` once saved; the dialog then closes."""

    saved = Signal(int)

    def __init__(self, ctx: ServiceContext, product_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Amend a product" if product_id else "New product", parent)
        self.product_id = product_id
        self.product: ProductInfo | None = None
        self.resize(640, 780)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        body = QWidget()
        scroll.setWidget(body)
        self.outer.addWidget(scroll, 1)
        layout = QVBoxLayout(body)
        self._build_details(layout)
        self._build_spec(layout)
        self._build_amendment(layout)
        self.regulatory_button = QPushButton("Re&gulatory status…")
        self.regulatory_button.clicked.connect(self.open_regulatory)
        self.buttons.addButton(self.regulatory_button, self.buttons.ButtonRole.ActionRole)
        self.save_button.setText("&Save product" if product_id is None else "&Save amendment")
        self.finish_layout()
        if product_id is None:
            deny(self.regulatory_button, "Save the product first; its regulatory status is recorded per product.")
        why = refusal(ctx, STAFF, "add or amend products")
        if why:
            deny(self.save_button, why)
            self.banner.show_warning(why)
        self._type_changed()
        self.load()
        self.name.setFocus()

    # ------------------------------------------------------------------------------------------ build
    def _build_details(self, layout: QVBoxLayout) -> None:
        box = QGroupBox("Product as labelled")
        form = QFormLayout(box)
        self.name = QLineEdit(objectName="productName")
        self.add_row(form, "&Name", self.name, "name")
        self.product_type = vocab_combo(ProductType, empty=None)
        self.product_type.currentIndexChanged.connect(self._type_changed)
        self.add_row(form, "T&ype", self.product_type, "product_type")
        self.manufacturer = QComboBox(objectName="manufacturer")
        self.manufacturer.setEditable(True)
        self.manufacturer.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.manufacturer.lineEdit().setPlaceholderText("Pick one, or type a new name as on the label")
        self.new_manufacturer = QPushButton("New…")
        self.new_manufacturer.setToolTip("Add a manufacturer with its country")
        self.new_manufacturer.clicked.connect(self.create_manufacturer)
        self.add_row(form, "&Manufacturer", self.manufacturer, "manufacturer", extra=self.new_manufacturer)
        self.gtin = QLineEdit(objectName="gtin")
        self.gtin.setPlaceholderText("GTIN-8, -12, -13 or -14 from the package barcode (empty if none)")
        self.add_row(form, "&GTIN", self.gtin, "gtin")
        self.presentation = vocab_combo(Presentation)
        self.add_row(form, "Presen&tation", self.presentation, "presentation")
        self.storage_form = vocab_combo(StorageForm)
        self.add_row(form, "Stor&age", self.storage_form, "storage_form")
        self.unit = vocab_combo(Unit)
        self.add_row(form, "&Unit of stock", self.unit, "unit")
        self.routes = checklist(m.value for m in Route)
        self.routes.setAccessibleName("Labelled routes")
        self.add_row(form, "Labelled &routes", self.routes, "labelled_routes")
        self.source = vocab_combo(BiologicalSource)
        self.source_caption = self.add_row(form, "Biological so&urce", self.source, "source")
        self.donor_use = vocab_combo(DonorUse)
        self.donor_use_caption = self.add_row(form, "&Donor use", self.donor_use, "donor_use")
        self.isolation_method = vocab_combo(IsolationMethod)
        self.isolation_caption = self.add_row(form, "&Isolation method", self.isolation_method, "isolation_method")
        self.pn_species = vocab_combo(PnSpecies)
        self.pn_species_caption = self.add_row(form, "Source s&pecies", self.pn_species, "pn_species")
        self.source_description = QPlainTextEdit()
        self.source_description.setTabChangesFocus(True)
        self.source_description.setMaximumHeight(70)
        self.source_description.setPlaceholderText("The source as the label or the supplier describes it")
        self.add_row(form, "Source &description", self.source_description, "source_description")
        layout.addWidget(box)

    def _build_spec(self, layout: QVBoxLayout) -> None:
        box = QGroupBox("Specification (empty: the default limits of the flag rules apply)")
        form = QFormLayout(box)
        self.spec: dict[str, QLineEdit] = {}
        for field, caption, unit in SPEC_FIELDS:
            edit = QLineEdit(objectName=field)
            edit.setPlaceholderText(unit)
            self.spec[field] = edit
            self.add_row(form, caption, edit, field)
        layout.addWidget(box)

    def _build_amendment(self, layout: QVBoxLayout) -> None:
        self.amendment = QGroupBox("Amendment")
        form = QFormLayout(self.amendment)
        self.reason = QPlainTextEdit(objectName="reason")
        self.reason.setTabChangesFocus(True)
        self.reason.setMaximumHeight(60)
        self.reason.setPlaceholderText("Why the record changes (e.g. label reprinted, typo); kept in the audit trail")
        self.add_row(form, "Rea&son", self.reason, "reason")
        self.amendment.setVisible(self.product_id is not None)
        layout.addWidget(self.amendment)

    # ------------------------------------------------------------------------------------------ load
    def load(self) -> None:
        ctx, product_id = self.ctx, self.product_id

        def work(_progress: Any) -> tuple[ProductInfo | None, list[PartyInfo]]:
            return (get_product(ctx, product_id) if product_id is not None else None), list_manufacturers(ctx)

        runner_for(self).run(
            self, work, self._loaded, self._load_failed, title="Loading the product", busy=[self.save_button]
        )

    def _loaded(self, loaded: tuple[ProductInfo | None, list[PartyInfo]]) -> None:
        product, manufacturers = loaded
        self.set_manufacturers(manufacturers)
        self.product = product
        if product is None:
            self.loaded_into_form()
            return
        details = product.details
        self.name.setText(product.name)
        set_combo_value(self.product_type, product.product_type)
        self.manufacturer.setCurrentText(product.manufacturer or "")
        self.gtin.setText(product.gtin or "")
        for field in ("presentation", "storage_form", "unit", *EXOSOME_ONLY, *PN_ONLY):
            set_combo_value(getattr(self, field), details.get(field))
        self.source_description.setPlainText(details.get("source_description") or "")
        set_checked(self.routes, product.labelled_routes)
        for field, edit in self.spec.items():
            value = details.get(field)
            edit.setText("" if value is None else f"{value:g}")
        self.setWindowTitle(f"Amend a product — {product.name}")
        self.loaded_into_form()

    def set_manufacturers(self, manufacturers: list[PartyInfo], current: str | None = None) -> None:
        text = self.manufacturer.currentText() if current is None else current
        self.manufacturer.clear()
        for party in manufacturers:
            self.manufacturer.addItem(f"{party.name}", party.name)
        self.manufacturer.setCurrentText(text)

    # ------------------------------------------------------------------------------------------ behaviour
    def _type_changed(self, *_: object) -> None:
        exosome = self.product_type.currentData() == ProductType.EXOSOME
        captions = {
            "source": self.source_caption,
            "donor_use": self.donor_use_caption,
            "isolation_method": self.isolation_caption,
            "pn_species": self.pn_species_caption,
        }
        for field, caption in captions.items():
            shown = exosome == (field in EXOSOME_ONLY)
            caption.setVisible(shown)
            holder = self.fields[field].parentWidget()  # the row holder: its error line hides with it
            if holder is not None:
                holder.setVisible(shown)

    def create_manufacturer(self) -> None:
        from .parties import PartyEditor

        dialog = PartyEditor(self.ctx, "manufacturer", parent=self)
        dialog.name.setText(self.manufacturer.currentText().strip())
        dialog.saved.connect(lambda _id, name: self._manufacturer_created(name))
        dialog.open()
        self.party_dialog = dialog

    def _manufacturer_created(self, name: str) -> None:
        ctx = self.ctx
        runner_for(self).run(
            self,
            lambda _p: list_manufacturers(ctx),
            lambda found: self.set_manufacturers(found, current=name),
            title="Manufacturers",
        )

    def values(self) -> tuple[dict[str, Any], list[str], dict[str, str]]:
        """What the form holds, as the service takes it (vocabulary values; empty text clears a field)."""
        exosome = self.product_type.currentData() == ProductType.EXOSOME
        details: dict[str, Any] = {
            "name": self.name.text(),
            "product_type": self.product_type.currentData() or "",
            "manufacturer": self.manufacturer.currentText().strip(),
            "gtin": self.gtin.text().strip(),
            "source_description": self.source_description.toPlainText().strip(),
        }
        for field in ("presentation", "storage_form", "unit"):
            details[field] = getattr(self, field).currentData() or ""
        for field in EXOSOME_ONLY:
            details[field] = (getattr(self, field).currentData() or "") if exosome else ""
        for field in PN_ONLY:
            details[field] = "" if exosome else (getattr(self, field).currentData() or "")
        spec = {field: edit.text().strip() for field, edit in self.spec.items()}
        return details, checked_values(self.routes), spec

    def submit(self) -> None:
        # The widgets are read here on the GUI thread; the op's thread only calls the service.
        details, routes, spec = self.values()
        ctx, product_id = self.ctx, self.product_id
        reason = self.reason.toPlainText().strip() or None
        self.save_op(lambda: save_product(ctx, product_id, details, routes, spec, reason), self._saved)

    def _saved(self, product_id: int) -> None:
        self.saved_cleanly()
        self.product_id = product_id
        self.saved.emit(product_id)
        self.accept()

    def open_regulatory(self) -> None:
        if self.product_id is None:
            return
        from .regulatory_editor import open_regulatory_status

        self.regulatory_dialog = open_regulatory_status(self, self.ctx, self.product_id)


def open_product_editor(parent: QWidget | None, ctx: ServiceContext, product_id: int | None = None) -> ProductEditor:
    """Open the product editor: a new product (`product_id` None) or an amendment of that product."""
    dialog = ProductEditor(ctx, product_id, parent)
    dialog.open()
    return dialog
