"""The main window: navigation between the pages, the lot record, menus with standard shortcuts, a status bar
naming the user, role, site and database, and window geometry and view state kept in QSettings.

Pages are registered in one list, PAGES (name, icon, factory). Workflow actions (receive, release, administer,
recall, import ...) are added to the menus through WORKFLOW_ACTIONS: (menu, text, shortcut, handler(window)).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import QObject, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from .. import __version__
from ..domain.palette import palette
from ..domain.vocab import label
from ..services import RegistryError, ServiceContext
from ..services.backup import BACKUP_ROLES
from ..services.queries.lots_page import LotQuery
from ..services.sites import site_info
from .dialogs.forms import has_role
from .lot_record import LotRecord
from .ops import OpRunner, application_runner
from .pages.dashboard_page import DashboardPage
from .pages.lists import administrations_page, audit_page, products_page, suppliers_page
from .pages.lots_page import LotsPage
from .status_bar import RegistryStatusBar

Factory = Callable[["MainWindow"], QWidget]


@dataclass(frozen=True)
class PageSpec:
    name: str
    icon: QStyle.StandardPixmap
    factory: Factory


def _flags_page(window: MainWindow) -> QWidget:
    # Imported when first shown: the flag rules' catalogue and its models are not needed to show the window.
    from .pages.flags_page import FlagsPage

    return FlagsPage(window.ctx)


def _reports_page(window: MainWindow) -> QWidget:
    from .pages.reports_page import ReportsPage

    return ReportsPage(window.ctx)


SP = QStyle.StandardPixmap
PAGES: list[PageSpec] = [
    PageSpec("Dashboard", SP.SP_ComputerIcon, lambda w: DashboardPage(w.ctx)),
    PageSpec("Lots", SP.SP_FileDialogDetailedView, lambda w: LotsPage(w.ctx)),
    PageSpec("Products", SP.SP_DirIcon, lambda w: products_page(w.ctx)),
    PageSpec("Administrations", SP.SP_DialogApplyButton, lambda w: administrations_page(w.ctx)),
    PageSpec("Flags", SP.SP_MessageBoxWarning, _flags_page),
    PageSpec("Suppliers", SP.SP_DriveNetIcon, lambda w: suppliers_page(w.ctx)),
    PageSpec("Audit trail", SP.SP_FileDialogContentsView, lambda w: audit_page(w.ctx)),
    PageSpec("Reports", SP.SP_FileIcon, _reports_page),
]

# (menu title, action text, shortcut or None, handler(window)): added by the workflow dialogs.
WORKFLOW_ACTIONS: list[tuple[str, str, str | None, Callable[[MainWindow], Any]]] = []
# Changes come in bursts (a receipt, then its documents): the views refresh once the burst is over.
CHANGE_REFRESH_MS = 150


class RegistryChanges(QObject):
    changed = Signal(str)  # the name of the service that committed a change


def _forget(ctx: ServiceContext, listener: Callable[[str], None]) -> None:
    if listener in ctx.change_listeners:
        ctx.change_listeners.remove(listener)


class MainWindow(QMainWindow):
    def __init__(self, ctx: ServiceContext, settings: QSettings | None = None, ops: OpRunner | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        # Every service call of the window's pages and dialogs runs through this (ops.runner_for finds it).
        self.op_runner = ops or application_runner()
        self.settings = settings or QSettings("registry-app", "desktop")
        self.setWindowTitle("Exosome & PN lot registry")
        self.pages: dict[str, QWidget] = {}
        self.nav = QListWidget(objectName="navigation")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setMaximumWidth(260)
        self.stack = QStackedWidget(objectName="pages")
        for spec in PAGES:
            QListWidgetItem(self.style().standardIcon(spec.icon), spec.name, self.nav)
        self.record_holder = QWidget(objectName="lotRecordPage")
        QVBoxLayout(self.record_holder).setContentsMargins(0, 0, 0, 0)
        # The Lot menu's actions on the lot on screen, as buttons over its record (those the role allows).
        self.lot_actions = QToolBar("Lot actions", objectName="lotActions")
        self.lot_actions.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.lot_actions.setVisible(False)
        self.record_holder.layout().addWidget(self.lot_actions)
        self.record: LotRecord | None = None
        self.signed_out = False  # closed by Sign out: the app asks who signs in next instead of quitting
        self.splitter = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        self.splitter.addWidget(self.nav)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        # A banner over the pages for what must not scroll away in the status bar (the audit trail's warning).
        self.banner = QLabel(objectName="auditTrailWarning", wordWrap=True)
        self.banner.setVisible(False)
        problem = palette().state["problem"]
        self.banner.setStyleSheet(f"QLabel#auditTrailWarning {{ padding: 6px; font-weight: bold; color: {problem}; }}")
        central = QWidget(objectName="central")
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(lambda row: self.show_page(PAGES[row].name))
        self._listen_for_changes()
        self._build_menus()
        self._build_status_bar()
        self.restore_state()
        self.nav.setCurrentRow(int(self.settings.value("window/page", 1)))
        QTimer.singleShot(0, self.check_audit_trail)

    def check_audit_trail(self) -> None:
        """At sign-in, off the GUI thread: does the trail still extend the head verified on this computer? If
        not (cut short or rewritten since), a banner says so; work goes on (non-modal)."""
        from ..services.anchors import trail_warning

        ctx = self.ctx
        if ctx.actor is None:
            return
        self.op_runner.run(self, lambda _progress: trail_warning(ctx), self._show_trail_warning, lambda _error: None)

    def _show_trail_warning(self, problem: object) -> None:
        if not problem:
            return
        text = (
            f"Audit trail warning: {problem}. Check it on the Audit trail page (Verify the trail) and tell the "
            "admin: records may have been changed behind the registry's back."
        )
        self.banner.setText(text)
        self.banner.setToolTip(str(problem))
        self.banner.setVisible(True)
        self.statusBar().showMessage("Audit trail warning: the trail no longer extends the head kept here", 30000)

    # --- pages ------------------------------------------------------------------------------------------------
    def page(self, name: str) -> QWidget:
        """The page called `name`, created the first time it is shown (start-up stays fast)."""
        if name not in self.pages:
            spec = next(s for s in PAGES if s.name == name)
            widget = spec.factory(self)
            self.pages[name] = widget
            self.stack.addWidget(widget)
            self._connect(name, widget)
        return self.pages[name]

    def _connect(self, name: str, widget: QWidget) -> None:
        if isinstance(widget, LotsPage):
            widget.open_lot.connect(self.open_lot)
            if self.settings.value("lots/header") is not None:
                widget.restore_state(self.settings)
        if isinstance(widget, DashboardPage):
            widget.open_lots.connect(self.show_lots)
            widget.open_products.connect(self.show_products)
            widget.open_flags.connect(self.show_flags)
        if hasattr(widget, "activated") and name == "Administrations":
            widget.activated.connect(lambda row: self.open_lot(row["lot_id"]))
            from .editors.adverse_event import add_adverse_event_action

            add_adverse_event_action(widget)  # "Record an adverse event…" on the selected administration
        if hasattr(widget, "lot_requested"):  # the Flags page's "go to subject"
            widget.lot_requested.connect(self.open_lot)

    # --- one notification after every change, whoever made it ------------------------------------------------
    def _listen_for_changes(self) -> None:
        """Every changing service tells the context when it committed (services/context.py `changing`); the
        window then refreshes the view on screen and the others as they are next shown, so no list shows a
        lot released a moment ago as still in quarantine, and no dialog has to know which views to refresh."""
        self.changes = RegistryChanges(self)
        self._stale: set[str] = set()
        self._refresh_timer = QTimer(self, singleShot=True, interval=CHANGE_REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_after_change)
        self.changes.changed.connect(lambda _name: self._refresh_timer.start())
        changes = self.changes

        def listener(name: str) -> None:
            if isValid(changes):  # the window may be gone while the registry lives on
                changes.changed.emit(name)  # queued to the GUI thread when a worker thread saved

        self._change_listener = listener
        self.ctx.change_listeners.append(listener)
        ctx = self.ctx
        self.destroyed.connect(lambda: _forget(ctx, listener))

    def _refresh_after_change(self) -> None:
        current = self.stack.currentWidget()
        self._stale = {name for name, widget in self.pages.items() if widget is not current}
        self.refresh_current()

    def show_page(self, name: str) -> QWidget:
        if not self.may_leave_record():
            return self.stack.currentWidget()
        widget = self.page(name)
        if name in self._stale:
            self._stale.discard(name)
            if hasattr(widget, "refresh"):
                widget.refresh()
        self.stack.setCurrentWidget(widget)
        row = next(i for i, s in enumerate(PAGES) if s.name == name)
        if self.nav.currentRow() != row:
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(row)
            self.nav.blockSignals(False)
        return widget

    def show_lots(self, query: LotQuery) -> LotsPage:
        page = self.show_page("Lots")
        assert isinstance(page, LotsPage)
        page.show_query(query)
        return page

    def show_products(self, status: str | None) -> None:
        page = self.show_page("Products")
        if hasattr(page, "show_filter"):
            page.show_filter(label(status) if status else "")

    def show_flags(self, code: str) -> None:
        page = self.show_page("Flags")
        for method in ("show_code", "show_filter"):
            if hasattr(page, method):
                getattr(page, method)(code)
                return

    def may_leave_record(self) -> bool:
        """True when no lot record has unsaved edits, or the user chose to discard them."""
        if self.record is None or self.stack.currentWidget() is not self.record_holder:
            return True
        changed = self.record.unsaved_changes()
        if not changed:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            "You changed " + ", ".join(changed) + " on this lot and did not save.\nDiscard these changes?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Discard:
            return False
        self.record.reload()  # discarded: the record shows what is saved, and is not asked about again
        return True

    def open_lot(self, lot_id: int) -> LotRecord | None:
        """Show the lot's record in place of the list (Alt+Left or Escape goes back)."""
        if not self.may_leave_record():
            return None
        if self.record is not None:
            # Out of the layout now, not at the next event loop: two records stacked for a moment would
            # grow the window to both their heights (seen at 1024x700).
            self.record_holder.layout().removeWidget(self.record)
            self.record.hide()
            self.record.deleteLater()
        self.record = LotRecord(self.ctx, lot_id)
        self.record.saved.connect(self._lot_saved)
        self.record_holder.layout().addWidget(self.record)
        if self.stack.indexOf(self.record_holder) < 0:
            self.stack.addWidget(self.record_holder)
        self.stack.setCurrentWidget(self.record_holder)
        self.back_action.setEnabled(True)
        return self.record

    def _lot_saved(self, lot_id: int) -> None:
        lots = self.pages.get("Lots")
        if isinstance(lots, LotsPage):
            lots.model.refresh_lot(lot_id)
        self.statusBar().showMessage("Saved.", 4000)

    def go_back(self) -> None:
        if self.stack.currentWidget() is self.record_holder and self.may_leave_record():
            self.show_page(PAGES[max(self.nav.currentRow(), 0)].name)

    def refresh_current(self) -> None:
        widget = self.stack.currentWidget()
        if widget is self.record_holder and self.record is not None:
            self.record.reload(keep_input=True)
        elif hasattr(widget, "refresh"):
            widget.refresh()

    # --- menus and status bar ---------------------------------------------------------------------------------
    def _action(self, menu: Any, text: str, handler: Callable[[], Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(handler)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.menus = {
            "File": bar.addMenu("&File"),
            "Edit": bar.addMenu("&Edit"),
            "View": bar.addMenu("&View"),
            "Lot": bar.addMenu("&Lot"),
            "Help": bar.addMenu("&Help"),
        }
        file_menu = self.menus["File"]
        if has_role(self.ctx, BACKUP_ROLES):  # a copy of every record: for the people responsible for the data
            self._action(file_menu, "&Back up the registry…", self.back_up)
        self._action(file_menu, "Save an import &template…", self.save_import_template)
        self._action(file_menu, "Open a registry on a &server…", self.open_server)
        self.recent_menu = file_menu.addMenu("Open a &recent registry")
        self.recent_menu.setObjectName("recentRegistries")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self.sign_out_action = self._action(file_menu, "Sign &out…", self.sign_out, "Ctrl+Shift+Q")
        self.quit_action = self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self._action(self.menus["Edit"], "&Find lots", self.find_lots, QKeySequence.StandardKey.Find)
        view = self.menus["View"]
        for number, spec in enumerate(PAGES, start=1):
            self._action(view, f"&{spec.name}", lambda _=False, n=spec.name: self.show_page(n), f"Ctrl+{number}")
        view.addSeparator()
        self._action(view, "&Refresh", self.refresh_current, QKeySequence.StandardKey.Refresh)
        self.back_action = self._action(view, "&Back to the list", self.go_back, QKeySequence.StandardKey.Back)
        self.back_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Back), QKeySequence("Escape")])
        self.back_action.setEnabled(False)
        self._action(self.menus["Help"], "&Help for this page", self.show_help, QKeySequence.StandardKey.HelpContents)
        self._action(self.menus["Help"], "Open the &log folder", self.open_log_folder)
        self._action(self.menus["Help"], "&About", self.about)
        toolbar = QToolBar("Pages", objectName="pagesToolbar")
        toolbar.addAction(self.back_action)
        self.addToolBar(toolbar)
        for menu_name, text, shortcut, handler in WORKFLOW_ACTIONS:
            menu = self.menus.get(menu_name) or self.menuBar().addMenu(menu_name)
            self._action(menu, text, lambda _=False, h=handler: h(self), shortcut)
        # The workflow dialogs (receive, administer, release, recall, import) import a good deal (GS1 parsing,
        # forms): they join the menus just after the window shows, so start-up stays fast.
        self._workflows_timer = QTimer(self, singleShot=True, interval=100)
        self._workflows_timer.timeout.connect(self.install_workflows)
        self._workflows_timer.start()

    def install_workflows(self) -> None:
        if getattr(self, "_workflows_installed", False):
            return
        self._workflows_installed = True
        from .dialogs.workflows import LOT_RECORD_ACTIONS, install_workflow_actions
        from .editors.menu import install_catalogue_actions

        install_catalogue_actions(self)  # the Catalogue menu and File > Site settings… (issue 19)
        on_lot = [action for action in install_workflow_actions(self) if action.objectName() in LOT_RECORD_ACTIONS]
        self.lot_actions.addActions(on_lot)
        self.lot_actions.setVisible(bool(on_lot))
        # The workflows add to File (Import, Site settings…): Sign out and Quit stay last, as everywhere.
        file_menu = self.menus["File"]
        for action in (self.sign_out_action, self.quit_action):
            file_menu.removeAction(action)
        file_menu.addSeparator()
        file_menu.addActions([self.sign_out_action, self.quit_action])

    # --- the registry and the user --------------------------------------------------------------------------
    def _fill_recent_menu(self) -> None:
        from .recent import RecentRegistries, safe_url

        self.recent_menu.clear()
        current = safe_url(str(self.ctx.db.url))
        others = [url for url in RecentRegistries(self.settings).entries() if url != current]
        for url in others:
            action = self.recent_menu.addAction(url)
            action.triggered.connect(lambda _=False, u=url: self.open_recent(u))
        if not others:
            self.recent_menu.addAction("(no other registry opened yet)").setEnabled(False)

    def open_server(self) -> None:
        """Connect once here (so a wrong host or password is said in the dialog), then open the registry in
        its own window, which takes the password from the keyring or asks for it again."""
        from .recent import safe_url
        from .server_dialog import ServerDialog

        dialog = ServerDialog(self.settings, self.ctx.site_code, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.ctx is not None:
            url = safe_url(str(dialog.ctx.db.url))
            dialog.ctx.db.dispose()
            self.open_recent(url)

    def open_recent(self, url: str) -> None:
        """Open another registry in its own window (each registry is one running instance)."""
        from .recent import launch_with_registry

        if launch_with_registry(url):
            self.statusBar().showMessage(f"Opening {url} in a new window…", 10000)
        else:
            QMessageBox.warning(self, "Open a recent registry", f"The registry app could not be started for {url}.")

    def sign_out(self) -> None:
        """Close the window and ask who signs in next (the registry stays open: a colleague takes over)."""
        self.signed_out = True
        self.close()

    def _build_status_bar(self) -> None:
        actor = self.ctx.actor
        try:
            site = site_info(self.ctx)
            site_text = f"{site['name']} ({site['code']}, {site['jurisdiction']})"
        except RegistryError:
            site_text = "?"
        user = f"{actor.display_name} ({actor.username})" if actor else "not signed in"
        role = label(actor.role) if actor else ""
        database = self.ctx.db.display_name
        bar = RegistryStatusBar(self)  # messages and labels elided with a tooltip, never cut (issue 20.7)
        self.setStatusBar(bar)
        for name, text in (
            ("statusUser", f"User: {user}"),
            ("statusRole", f"Role: {role}"),
            ("statusSite", f"Site: {site_text}"),
            ("statusDatabase", f"Database: {database}"),
        ):
            bar.add_permanent_label(name, text)

    def current_page_name(self) -> str:
        if self.stack.currentWidget() is self.record_holder:
            return "Lot record"
        return next((name for name, widget in self.pages.items() if widget is self.stack.currentWidget()), "")

    def show_help(self) -> QDialog:
        """F1: the short guide of the page on screen (ui/help.py)."""
        from .help import HelpDialog, topic_for

        name = self.current_page_name() or "Registry"
        self.help_dialog = HelpDialog(topic_for(name), name, self)
        self.help_dialog.show()
        return self.help_dialog

    def find_lots(self) -> None:
        page = self.show_page("Lots")
        assert isinstance(page, LotsPage)
        page.focus_search()

    def back_up(self) -> None:
        """Copy the registry while it is in use (the backup service), off the GUI thread."""
        from PySide6.QtWidgets import QFileDialog

        from ..services.backup import backup_registry
        from .pages.reports_page import default_folder

        suffix = ".sqlite3" if self.ctx.db.is_sqlite else ".dump"
        suggested = default_folder() / f"registry-backup-{date.today().isoformat()}{suffix}"
        # The file dialog has asked before choosing an existing file: replacing it is what the person chose.
        path, _ = QFileDialog.getSaveFileName(self, "Back up the registry to", str(suggested))
        if not path:
            return
        ctx = self.ctx
        self.backup_task = self.op_runner.run(
            self,
            lambda _progress: backup_registry(ctx, path, replace=True),
            lambda result: self.statusBar().showMessage(f"Backed up: {result.describe()}", 15000),
            lambda error: self._backup_failed(error),
            title="Backing up the registry",
            progress=True,
            cancellable=False,
        )

    def _backup_failed(self, error: BaseException) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Back up", f"The backup failed: {error}", QMessageBox.StandardButton.Ok, self
        )
        box.open()  # not exec(): the op's callback must not spin a nested event loop

    def save_import_template(self) -> None:
        """Save a blank lot or administration template (CSV or XLSX, chosen by the file type) to fill in."""
        from PySide6.QtWidgets import QFileDialog

        from ..services.templates import save_import_template
        from .pages.reports_page import default_folder

        choices = {
            f"{kind.capitalize()} import template, {fmt.upper()} (*.{fmt})": (kind, fmt)
            for kind in ("lots", "administrations")
            for fmt in ("xlsx", "csv")
        }
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save an import template", str(default_folder() / "lots-template.xlsx"), ";;".join(choices)
        )
        if not path:
            return
        kind, fmt = choices.get(chosen) or (
            "administrations" if "administration" in path.lower() else "lots",
            "csv" if path.lower().endswith(".csv") else "xlsx",
        )
        if not path.lower().endswith(f".{fmt}"):
            path += f".{fmt}"
        try:
            saved = save_import_template(kind, fmt, path)
        except (RegistryError, OSError) as error:
            QMessageBox.warning(self, "Save an import template", f"The template was not saved: {error}")
            return
        self.statusBar().showMessage(f"Saved the {kind} import template: {saved}", 15000)

    def open_log_folder(self) -> None:
        from .crash import open_log_folder

        if not open_log_folder():
            from ..diagnostics import log_dir

            QMessageBox.information(self, "Log folder", f"The log files are in {log_dir()}")

    def about(self) -> None:
        QMessageBox.about(
            self, "About", f"Exosome & PN lot registry {__version__}\nDatabase: {self.ctx.db.display_name}"
        )

    # --- state ------------------------------------------------------------------------------------------------
    def restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        splitter = self.settings.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([180, max(self.width() - 180, 400)])

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/page", max(self.nav.currentRow(), 0))
        lots = self.pages.get("Lots")
        if isinstance(lots, LotsPage):
            lots.save_state(self.settings)
        self.settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        global _startup_frozen
        if not _startup_frozen:  # once per process: later windows' garbage stays collectable
            _startup_frozen = True
            QTimer.singleShot(0, _freeze_startup_objects)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_leave_record():
            self.signed_out = False
            event.ignore()
            return
        _forget(self.ctx, self._change_listener)
        # Nothing of a closed window reaches for the registry afterwards (it may be closed or gone by then).
        self._refresh_timer.stop()
        self._workflows_timer.stop()
        self.save_state()
        super().closeEvent(event)


_startup_frozen = False


def _freeze_startup_objects() -> None:
    """Move everything alive once the window is up (modules, widgets, mappings: some hundred thousand
    objects) out of the garbage collector's reach. Otherwise each full collection walks them all again,
    ~90 ms measured on the lots page: a keystroke that happens to trigger one misses its 150 ms."""
    gc.freeze()
