"""The workflow actions of the main window's menus and toolbar, by role: each user sees only the actions
their role may take (an inspector sees none that change records; the services refuse them anyway).

Actions that act on one lot use the lot record on screen, or ask for the lot (scan or number) first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMainWindow, QVBoxLayout, QWidget

from ...services import ServiceContext
from ...services.context import DIRECTOR, READERS, STAFF
from .administer import AdministerDialog
from .forms import has_role, wire_keyboard
from .import_wizard import ImportWizard
from .lots import LotPicker
from .recall import LookbackDialog, NotificationsDialog, RecallDialog
from .receive_lot import ReceiveLotDialog
from .release_lot import DestroyLotDialog, RejectLotDialog, ReleaseLotDialog


class ChooseLotDialog(QDialog):
    """Which lot? Scan it or type its number; Enter on a found lot goes on."""

    def __init__(
        self, ctx: ServiceContext, purpose: str, parent: QWidget | None = None, pick_statuses: tuple[str, ...] = ()
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(purpose)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{purpose}: scan the package or type the lot number, then Enter."))
        self.picker = LotPicker(ctx, pick_statuses=pick_statuses)
        layout.addWidget(self.picker)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Continue")
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        wire_keyboard(self, self.buttons, self.ok_button)
        self.picker.lot_changed.connect(lambda ref: self.ok_button.setEnabled(ref is not None))
        self.picker.scan_edit.setFocus()

    def lot_id(self) -> int | None:
        return self.picker.lot_id()


@dataclass(frozen=True)
class WorkflowAction:
    menu: str
    text: str
    shortcut: str | None
    roles: tuple[str, ...]
    run: Callable[[Any], QDialog | None]


def _current_lot_id(window: Any) -> int | None:
    record = getattr(window, "record", None)
    holder = getattr(window, "record_holder", None)
    stack = getattr(window, "stack", None)
    if record is not None and stack is not None and stack.currentWidget() is holder:
        return int(record.lot_id)
    return None


def _refresh_after(window: Any, dialog: QDialog) -> QDialog:
    """When the dialog saves, the page or lot record on screen shows the change."""
    refresh = getattr(window, "refresh_current", None)
    if refresh is not None:
        dialog.accepted.connect(refresh)
    if hasattr(window, "statusBar"):
        title = dialog.windowTitle()
        dialog.accepted.connect(lambda: window.statusBar().showMessage(f"{title}: saved.", 6000))
    dialog.open()
    return dialog


def _on_lot(
    make: Callable[[ServiceContext, int, QWidget], QDialog], purpose: str, pick_statuses: tuple[str, ...] = ()
) -> Callable[[Any], QDialog]:
    """Open the dialog on the lot on screen, or ask which lot first."""

    def run(window: Any) -> QDialog:
        lot_id = _current_lot_id(window)
        if lot_id is not None:
            return _refresh_after(window, make(window.ctx, lot_id, window))
        chooser = ChooseLotDialog(window.ctx, purpose, window, pick_statuses)

        def chosen() -> None:
            picked = chooser.lot_id()
            if picked is not None:
                window.workflow_dialog = _refresh_after(window, make(window.ctx, picked, window))

        chooser.accepted.connect(chosen)
        chooser.open()
        return chooser

    return run


# The lot editors, imported when first used (start-up stays fast).
def _characterization(ctx: ServiceContext, lot_id: int, parent: QWidget) -> QDialog:
    from ..editors.characterization import CharacterizationEditor

    return CharacterizationEditor(ctx, lot_id, parent)


def _lot_source(ctx: ServiceContext, lot_id: int, parent: QWidget) -> QDialog:
    from ..editors.lot_source import LotSourceEditor

    return LotSourceEditor(ctx, lot_id, parent)


def _excursions(ctx: ServiceContext, lot_id: int, parent: QWidget) -> QDialog:
    from ..editors.excursion import ExcursionsDialog

    return ExcursionsDialog(ctx, lot_id, parent)


def _adverse_events(ctx: ServiceContext, lot_id: int, parent: QWidget) -> QDialog:
    from ..editors.adverse_event import AdverseEventsDialog

    return AdverseEventsDialog(ctx, lot_id, parent)


def _lookback(ctx: ServiceContext, lot_id: int, parent: QWidget) -> QDialog:
    return LookbackDialog(ctx, lot_id, parent)


ACTIONS: tuple[WorkflowAction, ...] = (
    WorkflowAction(
        "Lot", "&Receive a lot…", "Ctrl+Shift+R", STAFF, lambda w: _refresh_after(w, ReceiveLotDialog(w.ctx, w))
    ),
    WorkflowAction(
        "Lot",
        "Record an &administration…",
        "Ctrl+Shift+A",
        STAFF,
        lambda w: _refresh_after(w, AdministerDialog(w.ctx, w, lot_id=_current_lot_id(w))),
    ),
    WorkflowAction(
        "Lot",
        "Re&lease the lot…",
        "Ctrl+Shift+L",
        DIRECTOR,
        _on_lot(ReleaseLotDialog, "Release a lot", ("quarantine",)),
    ),
    WorkflowAction(
        "Lot", "Re&ject the lot…", None, STAFF, _on_lot(RejectLotDialog, "Reject a lot", ("quarantine", "released"))
    ),
    WorkflowAction(
        "Lot",
        "&Destroy the lot…",
        None,
        STAFF,
        _on_lot(DestroyLotDialog, "Destroy a lot", ("quarantine", "released", "expired", "recalled", "rejected")),
    ),
    WorkflowAction(
        "Lot",
        "Re&call a lot…",
        None,
        DIRECTOR,
        lambda w: _refresh_after(w, RecallDialog(w.ctx, w, lot_id=_current_lot_id(w))),
    ),
    WorkflowAction("Lot", "Recall loo&kback…", "Ctrl+Shift+K", READERS, _on_lot(_lookback, "Recall lookback")),
    # Every recalled lot's patients still to notify at the user's site: the work list after a group recall.
    WorkflowAction(
        "Lot", "Patients to &notify…", None, STAFF, lambda w: _refresh_after(w, NotificationsDialog(w.ctx, None, w))
    ),
    # The lot editors (ui/editors): every reader may open them; they are read-only for roles that may not change.
    WorkflowAction(
        "Lot",
        "C&haracterization results…",
        "Ctrl+Shift+H",
        READERS,
        _on_lot(_characterization, "Characterization results"),
    ),
    WorkflowAction(
        "Lot", "Source and d&onor eligibility…", None, READERS, _on_lot(_lot_source, "Source and donor eligibility")
    ),
    WorkflowAction(
        "Lot", "Temperature e&xcursions…", "Ctrl+Shift+X", READERS, _on_lot(_excursions, "Temperature excursions")
    ),
    WorkflowAction("Lot", "Ad&verse events…", "Ctrl+Shift+V", READERS, _on_lot(_adverse_events, "Adverse events")),
    WorkflowAction(
        "File", "&Import lots or administrations…", "Ctrl+I", STAFF, lambda w: _refresh_after(w, ImportWizard(w.ctx, w))
    ),
)


# The actions that work on the lot on screen: shown as buttons over the lot record too.
LOT_RECORD_ACTIONS = frozenset(
    f"workflow:{name}"
    for name in (
        "Record an administration",
        "Release the lot",
        "Reject the lot",
        "Destroy the lot",
        "Recall a lot",
        "Recall lookback",
        "Characterization results",
        "Source and donor eligibility",
        "Temperature excursions",
        "Adverse events",
    )
)


def install_workflow_actions(window: QMainWindow) -> list[QAction]:
    """Add the actions the signed-in user's role allows to the window's menus (and the main ones to its
    toolbar). `window` has `ctx`, `menus` (title -> QMenu) and optionally a toolbar named pagesToolbar."""
    ctx: ServiceContext = window.ctx  # type: ignore[attr-defined]
    menus: dict[str, Any] = getattr(window, "menus", {})
    added: list[QAction] = []
    for spec in ACTIONS:
        if not has_role(ctx, spec.roles):
            continue
        menu = menus.get(spec.menu) or window.menuBar().addMenu(f"&{spec.menu}")
        action = QAction(spec.text, window)
        action.setObjectName("workflow:" + spec.text.replace("&", "").rstrip("…"))
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.triggered.connect(lambda _=False, run=spec.run: setattr(window, "workflow_dialog", run(window)))
        menu.addAction(action)
        added.append(action)
    toolbar = window.findChild(QWidget, "pagesToolbar")
    if toolbar is not None:
        main = [a for a in added if a.objectName() in ("workflow:Receive a lot", "workflow:Record an administration")]
        if main:
            toolbar.addSeparator()  # type: ignore[attr-defined]
            toolbar.addActions(main)
    return added
