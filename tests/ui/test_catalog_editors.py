"""The catalogue and site editors (issue 19 items 1 and 7) on real widgets over a real registry: a save is
visible through the services; a refused save shows each message under its field and in the banner, saves
nothing and keeps what was typed; a role that may not edit finds Save disabled with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from registry_app.domain import AuditEntry
from registry_app.services import ServiceContext
from registry_app.services.lots.documents import list_documents
from registry_app.services.parties import create_manufacturer, create_supplier, list_manufacturers, list_suppliers
from registry_app.services.products import create_product, get_product, list_products, set_regulatory_status
from registry_app.services.sites import set_site, site_info
from registry_app.ui.dialogs.forms import checked_values, set_checked, set_combo_value
from registry_app.ui.editors import open_party_editor, open_product_editor, open_regulatory_status
from registry_app.ui.editors.common import EditorDialog
from registry_app.ui.editors.parties import PartyListDialog
from registry_app.ui.editors.product_editor import ProductEditor
from registry_app.ui.editors.regulatory_editor import RegulatoryStatusDialog
from registry_app.ui.editors.site_settings import SiteSettingsDialog
from registry_app.ui.main_window import MainWindow
from registry_app.ui.pages.lists import ListPage, products_page, suppliers_page

from ..helpers import row_counts

GOOD_GTIN = "8801234567893"
BAD_GTIN = "8801234567890"  # check digit should be 3


def _editor(qtbot: QtBot, dialog: EditorDialog) -> EditorDialog:
    qtbot.addWidget(dialog)
    return dialog


def _shown_error(dialog: EditorDialog, field: str) -> str:
    """The message under the field, if the field is outlined and its message shown."""
    label = dialog.field_errors[field]
    outlined = dialog.fields[field].property("invalid") is True
    return label.text() if outlined and not label.isHidden() else ""


def _last_entry(ctx: ServiceContext) -> AuditEntry:
    with ctx.db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        session.expunge(entry)
        return entry


# --- product editor -------------------------------------------------------------------------------------------


def test_new_product_is_saved_with_routes_gtin_and_specification(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    editor = _editor(qtbot, open_product_editor(None, pharmacist))
    assert isinstance(editor, ProductEditor) and editor.save_button.isEnabled()
    assert not editor.amendment.isVisibleTo(editor), "a new product needs no reason"
    assert not editor.regulatory_button.isEnabled() and "Save the product first" in editor.regulatory_button.toolTip()
    qtbot.keyClicks(editor.name, "Cordexa UC-EV 10B")
    set_combo_value(editor.product_type, "exosome")
    editor.manufacturer.setCurrentText("Northbay Biologics")
    qtbot.keyClicks(editor.gtin, GOOD_GTIN)
    set_combo_value(editor.source, "msc_umbilical_cord")
    set_combo_value(editor.storage_form, "lyophilized")
    set_checked(editor.routes, ["intradermal", "topical_post_microneedling"])
    editor.spec["spec_endotoxin_max"].setText("0.25")
    editor.spec["spec_size_max_nm"].setText("200")
    assert editor.pn_species.isHidden() or not editor.pn_species.isVisibleTo(editor)
    with qtbot.waitSignal(editor.saved):
        editor.save_button.click()
    assert editor.result() == editor.DialogCode.Accepted
    (product,) = [p for p in list_products(pharmacist) if p.name == "Cordexa UC-EV 10B"]
    assert product.id == editor.product_id and product.gtin == "0" + GOOD_GTIN
    assert product.manufacturer == "Northbay Biologics" and product.details["source"] == "msc_umbilical_cord"
    assert product.labelled_routes == ("intradermal", "topical_post_microneedling")
    assert product.details["spec_endotoxin_max"] == 0.25 and product.details["spec_size_max_nm"] == 200
    assert product.details["pn_species"] is None


def test_bad_gtin_and_missing_name_are_shown_beside_the_fields_and_nothing_is_saved(
    qtbot: QtBot, pharmacist: ServiceContext
) -> None:
    editor = _editor(qtbot, open_product_editor(None, pharmacist))
    set_combo_value(editor.product_type, "polynucleotide")
    qtbot.keyClicks(editor.gtin, BAD_GTIN)
    editor.spec["spec_size_min_nm"].setText("300")
    editor.spec["spec_size_max_nm"].setText("100")
    set_checked(editor.routes, ["intradermal"])
    before = row_counts(pharmacist.db)
    editor.save_button.click()
    assert "check digit" in _shown_error(editor, "gtin")
    assert "required" in _shown_error(editor, "name")
    assert "below the minimum" in _shown_error(editor, "spec_size_max_nm")
    assert editor.banner.isVisibleTo(editor) and "check digit" in editor.banner.text()
    assert row_counts(pharmacist.db) == before, "nothing is saved"
    assert editor.isVisible() and editor.result() != editor.DialogCode.Accepted
    # What was typed stays, to be corrected.
    assert editor.gtin.text() == BAD_GTIN and editor.spec["spec_size_min_nm"].text() == "300"
    assert checked_values(editor.routes) == ["intradermal"]
    editor.gtin.setText(GOOD_GTIN)
    editor.name.setText("Rejuvia PN")
    editor.spec["spec_size_max_nm"].setText("400")
    editor.save_button.click()
    assert editor.result() == editor.DialogCode.Accepted and not _shown_error(editor, "gtin")
    assert [p.gtin for p in list_products(pharmacist) if p.name == "Rejuvia PN"] == ["0" + GOOD_GTIN]


def test_amending_a_product_asks_for_a_reason(qtbot: QtBot, director: ServiceContext) -> None:
    product_id = create_product(
        director,
        {
            "name": "Nucleo PN 20",
            "product_type": "polynucleotide",
            "gtin": GOOD_GTIN,
            "pn_species": "oncorhynchus_keta",
        },
    )
    editor = _editor(qtbot, open_product_editor(None, director, product_id))
    assert editor.name.text() == "Nucleo PN 20" and editor.gtin.text() == "0" + GOOD_GTIN
    assert editor.pn_species.currentData() == "oncorhynchus_keta" and editor.amendment.isVisibleTo(editor)
    assert editor.regulatory_button.isEnabled()
    editor.name.setText("Nucleo PN 20 mg")
    editor.gtin.clear()  # the GTIN is removed: the package has none any more
    before = row_counts(director.db)
    editor.save_button.click()
    assert "reason" in _shown_error(editor, "reason")
    assert row_counts(director.db) == before and get_product(director, product_id).name == "Nucleo PN 20"
    assert editor.name.text() == "Nucleo PN 20 mg"
    editor.reason.setPlainText("label reprinted")
    editor.save_button.click()
    assert editor.result() == editor.DialogCode.Accepted
    info = get_product(director, product_id)
    assert info.name == "Nucleo PN 20 mg" and info.gtin is None
    entry = _last_entry(director)
    assert entry.action == "update product" and entry.reason == "label reprinted"
    assert json.loads(entry.before)["name"] == "Nucleo PN 20"


def test_inspector_and_admin_cannot_save_products(
    qtbot: QtBot, inspector: ServiceContext, admin: ServiceContext
) -> None:
    for ctx in (inspector, admin):
        editor = _editor(qtbot, open_product_editor(None, ctx))
        assert not editor.save_button.isEnabled()
        assert "Only a pharmacist or medical director" in editor.save_button.toolTip()
        assert editor.banner.isVisibleTo(editor)
        page = products_page(ctx)
        qtbot.addWidget(page)
        assert page.new_button is not None and not page.new_button.isEnabled()
        assert page.edit_button is not None and "may add or amend products" in page.edit_button.toolTip()


def test_products_page_new_edit_and_double_click(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    product_id = create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    page = products_page(pharmacist)
    qtbot.addWidget(page)
    assert isinstance(page, ListPage) and page.new_button is not None and page.new_button.isEnabled()
    page.new_button.click()
    assert isinstance(page.editor, ProductEditor) and page.editor.product_id is None
    page.editor.reject()
    page.show()
    index = page.proxy.index(0, 0)
    page.table.setCurrentIndex(index)
    centre = page.table.visualRect(index).center()
    # A double-click as the window system sends it: press, release, double-click, release.
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseRelease(page.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert isinstance(page.editor, ProductEditor) and page.editor.product_id == product_id
    editor = page.editor
    editor.name.setText("Cordexa 10B")
    editor.reason.setPlainText("full name from the label")
    editor.save_button.click()
    assert [row["name"] for row in page.rows] == ["Cordexa 10B"], "the page reloads after the save"


# --- regulatory status ----------------------------------------------------------------------------------------


def test_regulatory_status_opens_on_a_jurisdiction_and_saves_with_evidence(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path
) -> None:
    product_id = create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    set_regulatory_status(pharmacist, product_id, "cosmetic", jurisdiction="KR", reference="MFDS-77")
    dialog = _editor(qtbot, open_regulatory_status(None, pharmacist, product_id, "us"))
    assert isinstance(dialog, RegulatoryStatusDialog)
    assert dialog.table.rowCount() == 1 and dialog.table.item(0, 0).text() == "KR"
    assert dialog.jurisdiction.text() == "US" and dialog.status.currentData() is None
    certificate = tmp_path / "ind-letter.pdf"
    certificate.write_bytes(b"%PDF-1.4 IND acknowledgement")
    set_combo_value(dialog.status, "investigational")
    dialog.reference.setText("IND 031245")
    dialog._add_file_choice(str(certificate))  # what "Attach a file…" does with the chosen file
    with qtbot.waitSignal(dialog.saved):
        dialog.save_button.click()
    statuses = {s["jurisdiction"]: s for s in get_product(pharmacist, product_id).regulatory}
    assert statuses["US"]["status"] == "investigational" and statuses["US"]["reference"] == "IND 031245"
    (document,) = list_documents(pharmacist, product_id=product_id)
    assert statuses["US"]["evidence_document_id"] == document.id and document.file_name == "ind-letter.pdf"
    assert dialog.table.rowCount() == 2 and "US" in dialog.note.text()
    # Opening on a recorded jurisdiction shows what is recorded, to change.
    again = _editor(qtbot, open_regulatory_status(None, pharmacist, product_id, "KR"))
    assert again.status.currentData() == "cosmetic" and again.reference.text() == "MFDS-77"


def test_regulatory_status_refused_saves_nothing_not_even_the_file(
    qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path
) -> None:
    product_id = create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    dialog = _editor(qtbot, open_regulatory_status(None, pharmacist, product_id, None))
    assert dialog.jurisdiction.text() == site_info(pharmacist)["jurisdiction"], "the site's by default"
    certificate = tmp_path / "cert.pdf"
    certificate.write_bytes(b"%PDF-1.4")
    dialog.jurisdiction.setText("XQ")
    dialog.reference.setText("REF-1")
    dialog._add_file_choice(str(certificate))
    before = row_counts(pharmacist.db)
    dialog.save_button.click()
    assert "ISO 3166" in _shown_error(dialog, "jurisdiction") and _shown_error(dialog, "status")
    assert dialog.banner.isVisibleTo(dialog)
    assert row_counts(pharmacist.db) == before
    assert dialog.jurisdiction.text() == "XQ" and dialog.reference.text() == "REF-1"
    assert dialog.evidence.currentData() == str(certificate), "the chosen file stays chosen"


def test_inspector_cannot_record_a_regulatory_status(
    qtbot: QtBot, pharmacist: ServiceContext, inspector: ServiceContext
) -> None:
    product_id = create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    dialog = _editor(qtbot, open_regulatory_status(None, inspector, product_id, "KR"))
    assert not dialog.save_button.isEnabled() and not dialog.attach_button.isEnabled()
    assert "may record a regulatory status" in dialog.save_button.toolTip()


# --- manufacturers and suppliers ------------------------------------------------------------------------------


def test_manufacturer_is_created_and_an_unknown_country_is_refused(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    editor = _editor(qtbot, open_party_editor(None, pharmacist, "manufacturer"))
    qtbot.keyClicks(editor.name, "Northbay Biologics")
    qtbot.keyClicks(editor.country, "XX")
    before = row_counts(pharmacist.db)
    editor.save_button.click()
    assert "ISO 3166" in _shown_error(editor, "country") and "ISO 3166" in editor.banner.text()
    assert row_counts(pharmacist.db) == before and editor.country.text() == "XX"
    editor.country.setText("kr")
    with qtbot.waitSignal(editor.saved):
        editor.save_button.click()
    assert [(m.name, m.country) for m in list_manufacturers(pharmacist)] == [("Northbay Biologics", "KR")]


def test_product_editor_creates_a_manufacturer_and_picks_it(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    editor = _editor(qtbot, open_product_editor(None, pharmacist))
    editor.manufacturer.setCurrentText("Aquagen")
    editor.new_manufacturer.click()
    party = editor.party_dialog
    qtbot.addWidget(party)
    assert party.name.text() == "Aquagen", "what was typed in the picker starts the new record"
    party.name.setText("Aquagen Pharma")
    party.country.setText("IT")
    party.save_button.click()
    assert editor.manufacturer.currentText() == "Aquagen Pharma"
    assert editor.manufacturer.findText("Aquagen Pharma") >= 0


def test_supplier_amendment_needs_a_reason_and_inspector_cannot(
    qtbot: QtBot, director: ServiceContext, inspector: ServiceContext
) -> None:
    supplier_id = create_supplier(director, "Seoul Med Supply")
    editor = _editor(qtbot, open_party_editor(None, director, "supplier", supplier_id))
    assert editor.name.text() == "Seoul Med Supply" and "country" not in editor.fields
    editor.name.setText("Seoul Medical Supply")
    editor.save_button.click()
    assert "reason" in _shown_error(editor, "reason")
    assert [s.name for s in list_suppliers(director)] == ["Seoul Med Supply"]
    editor.reason.setText("typo on the delivery note")
    editor.save_button.click()
    assert [s.name for s in list_suppliers(director)] == ["Seoul Medical Supply"]
    refused = _editor(qtbot, open_party_editor(None, inspector, "supplier", supplier_id))
    assert not refused.save_button.isEnabled() and "may add or amend suppliers" in refused.save_button.toolTip()
    page = suppliers_page(inspector)
    qtbot.addWidget(page)
    assert page.new_button is not None and not page.new_button.isEnabled()
    listing = PartyListDialog(inspector, "manufacturer")
    qtbot.addWidget(listing)
    assert not listing.new_button.isEnabled() and listing.new_button.toolTip()


def test_manufacturer_list_edits_the_chosen_one(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    create_manufacturer(pharmacist, "Northbay", None)
    listing = PartyListDialog(pharmacist, "manufacturer")
    qtbot.addWidget(listing)
    listing.list.setCurrentRow(0)
    listing.edit()
    assert listing.editor is not None and listing.editor.name.text() == "Northbay"
    listing.editor.country.setText("US")
    listing.editor.reason.setText("country from the IFU")
    listing.editor.save_button.click()
    assert listing.list.item(0).text() == "Northbay (US)"


# --- site settings --------------------------------------------------------------------------------------------


def test_site_settings_save_the_time_zone(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _editor(qtbot, SiteSettingsDialog(admin))
    assert dialog.jurisdiction.text() == site_info(admin)["jurisdiction"]
    dialog.name.setText("Gangnam skin clinic")
    dialog.jurisdiction.setText("KR")
    dialog.time_zone.setText("Asia/Seoul")
    with qtbot.waitSignal(dialog.saved):
        dialog.save_button.click()
    info = site_info(admin)
    assert (info["name"], info["jurisdiction"], info["time_zone"]) == ("Gangnam skin clinic", "KR", "Asia/Seoul")


def test_a_bad_time_zone_is_refused_beside_the_field(qtbot: QtBot, admin: ServiceContext) -> None:
    set_site(admin, "KR", "Gangnam", "Asia/Seoul")
    dialog = _editor(qtbot, SiteSettingsDialog(admin))
    assert dialog.time_zone.text() == "Asia/Seoul"
    dialog.name.setText("Gangnam 2")
    dialog.time_zone.setText("Asia/Gangnam")
    before = row_counts(admin.db)
    dialog.save_button.click()
    assert "IANA" in _shown_error(dialog, "time_zone") and "IANA" in dialog.banner.text()
    assert not _shown_error(dialog, "name")
    assert row_counts(admin.db) == before and site_info(admin)["name"] == "Gangnam"
    assert dialog.time_zone.text() == "Asia/Gangnam" and dialog.name.text() == "Gangnam 2"


def test_only_an_admin_changes_the_site(qtbot: QtBot, pharmacist: ServiceContext, director: ServiceContext) -> None:
    for ctx in (pharmacist, director):
        dialog = _editor(qtbot, SiteSettingsDialog(ctx))
        assert not dialog.save_button.isEnabled()
        assert "Only an admin may change the site's settings" in dialog.save_button.toolTip()


# --- the main window ------------------------------------------------------------------------------------------


def _catalogue_actions(window: MainWindow) -> dict[str, QAction]:
    return {
        a.objectName().removeprefix("catalogue:"): a
        for a in window.findChildren(QAction)
        if a.objectName().startswith("catalogue:")
    }


def _window(qtbot: QtBot, ctx: ServiceContext, tmp_path: Path) -> MainWindow:
    window = MainWindow(ctx, QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.install_workflows()
    return window


def test_menus_by_role(
    qtbot: QtBot, pharmacist: ServiceContext, inspector: ServiceContext, admin: ServiceContext, tmp_path: Path
) -> None:
    window = _window(qtbot, pharmacist, tmp_path)
    actions = _catalogue_actions(window)
    assert {"New product", "Edit the selected product", "Manufacturers", "Suppliers", "Site settings"} <= set(actions)
    assert actions["New product"].shortcut().toString() == "Ctrl+Shift+N"
    assert actions["Site settings"] in window.menus["File"].actions()
    assert not actions["Site settings"].isEnabled() and "admin" in actions["Site settings"].toolTip()
    actions["New product"].trigger()
    assert isinstance(window.catalogue_dialog, ProductEditor)
    window.catalogue_dialog.reject()

    inspecting = _catalogue_actions(_window(qtbot, inspector, tmp_path / "i"))
    assert not inspecting["New product"].isEnabled() and "Only a pharmacist" in inspecting["New product"].toolTip()
    assert inspecting["Manufacturers"].isEnabled(), "the lists are readable by every role"

    administering = _window(qtbot, admin, tmp_path / "a")
    site = _catalogue_actions(administering)["Site settings"]
    assert site.isEnabled()
    site.trigger()
    assert isinstance(administering.catalogue_dialog, SiteSettingsDialog)
    administering.catalogue_dialog.reject()


def test_edit_the_selected_product_from_the_menu(qtbot: QtBot, pharmacist: ServiceContext, tmp_path: Path) -> None:
    product_id = create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    window = _window(qtbot, pharmacist, tmp_path)
    page = window.show_page("Products")
    assert isinstance(page, ListPage)
    page.table.setCurrentIndex(page.proxy.index(0, 0))
    _catalogue_actions(window)["Edit the selected product"].trigger()
    assert isinstance(window.catalogue_dialog, ProductEditor) and window.catalogue_dialog.product_id == product_id


def test_ctrl_z_walks_back_edits_from_the_loaded_values(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    product_id = create_product(pharmacist, {"name": "Cordexa", "product_type": "exosome"})
    editor = _editor(qtbot, open_product_editor(None, pharmacist, product_id))
    assert editor.undo is not None and editor.undo.stack.count() == 0, "loading the record is not an edit"
    editor.name.setText("Cordexa 10B")
    set_checked(editor.routes, ["intradermal"])
    editor.undo.stack.undo()
    assert checked_values(editor.routes) == []
    editor.undo.stack.undo()
    assert editor.name.text() == "Cordexa"


def test_product_editor_loads_and_saves_off_the_gui_thread(
    qtbot: QtBot, pharmacist: ServiceContext, threaded_ops: object
) -> None:
    create_manufacturer(pharmacist, "Aquagen Pharma", "IT")
    editor = _editor(qtbot, open_product_editor(None, pharmacist))
    qtbot.waitUntil(lambda: editor.manufacturer.count() == 1 and editor.save_button.isEnabled(), timeout=10000)
    editor.name.setText("Threaded PN")
    set_combo_value(editor.product_type, "polynucleotide")
    editor.manufacturer.setCurrentIndex(0)
    editor.save_button.click()
    qtbot.waitUntil(lambda: editor.result() == editor.DialogCode.Accepted, timeout=10000)
    assert [p.manufacturer for p in list_products(pharmacist) if p.name == "Threaded PN"] == ["Aquagen Pharma"]
