""" "Fix…" from a flag (issue 19 item 8): each flag code -> the editor that resolves it.

`FIXES` is the table (code -> what the fix does, opener). `fix_flag(parent, ctx, target)` opens the editor for
one flag; `can_fix(code)` says whether any editor answers the code. The Flags page and the lot record's flag
list put a "Fix…" button beside "Waive…" that calls these.

Product-level codes (regulatory status, manufacturer, source) are answered by the catalog editors, written in
another branch: `open_product_regulatory` and `open_product_editor` below are the hooks the lead wires after
merging. They import those editors lazily and, while they are missing, show the product in the Products page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from ...services import RegistryError, ServiceContext
from ...services.context import STAFF
from ...services.sites import site_info
from ..dialogs.forms import has_role
from ..ops import report_unexpected, runner_for
from .lot_editor_kit import show_dialog, who_may


@dataclass(frozen=True)
class FixTarget:
    """What a fix needs to know of a flag: rules.Flag and the lot record's flag dicts both give it."""

    code: str
    subject_type: str
    subject_id: int
    lot_id: int | None = None
    product_id: int | None = None
    product_name: str | None = None

    @classmethod
    def of(cls, flag: Any, lot_id: int | None = None, product_id: int | None = None) -> FixTarget:
        def get(name: str) -> Any:
            return flag.get(name) if isinstance(flag, dict) else getattr(flag, name, None)

        subject_type, subject_id = str(get("subject_type")), int(get("subject_id"))
        return cls(
            str(get("code")),
            subject_type,
            subject_id,
            get("lot_id") or (subject_id if subject_type == "lot" else lot_id),
            get("product_id") or (subject_id if subject_type == "product" else product_id),
            get("product_name"),
        )


Opener = Callable[[QWidget | None, ServiceContext, FixTarget], Any]


# --- openers --------------------------------------------------------------------------------------------------


def _characterization(from_coa: bool = False) -> Opener:
    def run(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
        from .characterization import open_characterization

        assert target.lot_id is not None
        return open_characterization(parent, ctx, target.lot_id, show_certificate=from_coa)

    return run


def _lot_source(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    from .lot_source import open_lot_source

    assert target.lot_id is not None
    return open_lot_source(parent, ctx, target.lot_id)


def _excursions(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    from .excursion import open_excursions

    assert target.lot_id is not None
    return open_excursions(parent, ctx, target.lot_id)


def _adverse_event_report(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    from .adverse_event import open_adverse_event_report

    return open_adverse_event_report(parent, ctx, target.subject_id)


def _lookback(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    from ..dialogs.recall import LookbackDialog

    assert target.lot_id is not None
    return show_dialog(LookbackDialog(ctx, target.lot_id, parent))


def _main_window(parent: QWidget | None) -> Any:
    window = parent.window() if parent is not None else None
    return window if window is not None and hasattr(window, "open_lot") else None


def _lot_field(field: str, tab: int = 0) -> Opener:
    """The lot record with the field to correct in focus (amend_lot, with a reason), in the main window when
    there is one, else in a window of its own."""

    def run(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
        from ..lot_record import LotRecord

        assert target.lot_id is not None
        window = _main_window(parent)
        if isinstance(parent, LotRecord) and parent.lot_id == target.lot_id:
            record = parent  # fixing from the record itself: its own Overview
        elif window is not None:
            record = window.open_lot(target.lot_id)
        else:
            holder = QDialog(parent)
            holder.setWindowTitle("Lot record")
            holder.resize(1000, 680)
            record = LotRecord(ctx, target.lot_id, holder)
            QVBoxLayout(holder).addWidget(record)
            show_dialog(holder)
        record.tabs.setCurrentIndex(tab)
        editor = record.editors.get(field)
        if editor is not None:
            editor.setFocus()
        return record

    return run


def _show_in_products(parent: QWidget | None, target: FixTarget) -> Any:
    """Until the product editors are merged: the product, filtered by name, in the Products page."""
    window = _main_window(parent)
    if window is None or not hasattr(window, "show_page"):
        return None
    page = window.show_page("Products")
    if hasattr(page, "show_filter"):
        page.show_filter(target.product_name or "")
    return page


def open_product_regulatory(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    """The product's regulatory status for the site's jurisdiction (the catalogue's regulatory editor)."""
    from .regulatory_editor import open_regulatory_status

    if target.product_id is None:
        return _show_in_products(parent, target)
    product_id = target.product_id

    def opened(site: dict[str, str]) -> None:
        open_regulatory_status(parent, ctx, product_id, site["jurisdiction"])

    def failed(error: BaseException) -> None:
        if isinstance(error, RegistryError):  # no site to read: the editor asks for the jurisdiction itself
            open_regulatory_status(parent, ctx, product_id, None)
        else:
            report_unexpected(parent, error)

    return runner_for(parent).run(parent, lambda _p: site_info(ctx), opened, failed, title="Reading the site")


def open_product_editor(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    """The catalogue's product editor on the flag's product (manufacturer, biological source...)."""
    from .product_editor import open_product_editor as open_editor

    if target.product_id is None:
        return _show_in_products(parent, target)
    return open_editor(parent, ctx, target.product_id)


# --- the table ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    what: str  # the button's tooltip: what the editor lets you do
    open: Opener


_GRID = _characterization()
FIXES: dict[str, Fix] = {
    "UNDOC-COA": Fix("Attach the certificate of analysis and enter its results", _characterization(from_coa=True)),
    "UNDOC-EV-CHARACTERIZATION": Fix("Enter the missing MISEV results", _GRID),
    "UNDOC-PN-CHARACTERIZATION": Fix("Enter the DNA concentration and molecular weight", _GRID),
    "UNDOC-SAFETY-TESTS": Fix("Enter the sterility, endotoxin and mycoplasma results", _GRID),
    # Out of specification: the grid shows the reading; a result typed in error is voided there.
    "OOS-STERILITY": Fix("Review the sterility result (void it if entered in error)", _GRID),
    "OOS-MYCOPLASMA": Fix("Review the mycoplasma result (void it if entered in error)", _GRID),
    "OOS-ENDOTOXIN": Fix("Review the endotoxin result against the specification", _GRID),
    "OOS-SIZE": Fix("Review the vesicle size against the specification", _GRID),
    "OOS-CONCENTRATION": Fix("Review the particle concentration against the label", _GRID),
    "OOS-CONTAMINANT": Fix("Review the contaminant marker results", _GRID),
    "UNDOC-DONOR": Fix("Record donor use and the donor-eligibility record", _lot_source),
    "USE-TEMPERATURE": Fix("Resolve the temperature excursion (signed)", _excursions),
    "AE-UNREPORTED": Fix("Report the adverse event, or record why it is not reportable", _adverse_event_report),
    "RECALL-LOOKBACK-OPEN": Fix("Mark the patients notified", _lookback),
    "UNDOC-EXPIRY": Fix("Record the expiry date on the lot", _lot_field("expiry_date")),
    "UNDOC-SUPPLIER": Fix("Record the supplier on the lot", _lot_field("supplier")),
    "UNDOC-RECEIPT": Fix("Record the receipt temperature and package check", _lot_field("receipt_temperature_c")),
    "USE-OVERDRAWN": Fix("Check the quantity received against the administrations", _lot_field("quantity_received")),
    # Product-level: the catalog editors (hooks above).
    "UNDOC-REGULATORY": Fix("Record the regulatory status for the site's jurisdiction", open_product_regulatory),
    "UNDOC-REG-EVIDENCE": Fix("Record the approval or registration number", open_product_regulatory),
    "REG-IMPLAUSIBLE-APPROVAL": Fix("Verify the recorded US status", open_product_regulatory),
    "REG-361-CLAIM": Fix("Review the recorded 361 HCT/P status", open_product_regulatory),
    "REG-HUMAN-COSMETIC-EU": Fix("Review the recorded EU status", open_product_regulatory),
    "UNDOC-MANUFACTURER": Fix("Record the manufacturer", open_product_editor),
    "UNDOC-SOURCE": Fix("Record the biological source or species", open_product_editor),
}


def can_fix(code: str) -> bool:
    return code in FIXES


def fix_refusal(ctx: ServiceContext, code: str) -> str | None:
    """Why "Fix…" is disabled for this code and role (None: it is enabled)."""
    if not can_fix(code):
        return "No editor resolves this finding yet: use Go to subject."
    if not has_role(ctx, STAFF):
        role = ctx.actor.role.replace("_", " ") if ctx.actor else "not signed in"
        return f"Only a {who_may(STAFF)} may fix findings (you are signed in as {role})."
    return None


def fix_flag(parent: QWidget | None, ctx: ServiceContext, target: FixTarget) -> Any:
    """Open the editor that resolves the flag (None when no editor answers its code or the role may not)."""
    if fix_refusal(ctx, target.code) is not None:
        return None
    return FIXES[target.code].open(parent, ctx, target)
