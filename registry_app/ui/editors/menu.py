"""The catalogue and site actions of the main window's menus: a Catalogue menu (new product, the product on
the Products page, manufacturers, suppliers), File > Site settings…, File > Users… and, for a user of several
sites, File > Switch site…. Every action is shown; one the signed-in role may not take is disabled, its
tooltip and status tip saying why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from ...services.context import ADMIN, STAFF
from .common import refusal
from .parties import open_party_list
from .product_editor import open_product_editor
from .site_settings import open_site_settings
from .users import open_users

NEW_PRODUCT_SHORTCUT = "Ctrl+Shift+N"


def _refresh_on_save(window: Any, dialog: Any) -> Any:
    """Once the editor saves, the page on screen shows the change (and the status bar says so)."""
    saved = getattr(dialog, "saved", None)
    if saved is not None:
        saved.connect(lambda *_: window.refresh_current() if hasattr(window, "refresh_current") else None)
        if hasattr(window, "statusBar"):
            title = dialog.windowTitle()
            saved.connect(lambda *_: window.statusBar().showMessage(f"{title}: saved.", 6000))
    window.catalogue_dialog = dialog
    return dialog


def _selected_product(window: Any) -> int | None:
    page = getattr(window, "pages", {}).get("Products")
    row = page.selected_row() if page is not None and hasattr(page, "selected_row") else None
    return int(row["id"]) if row else None


def _edit_selected_product(window: Any) -> None:
    product_id = _selected_product(window)
    if product_id is None:
        window.show_page("Products")
        window.statusBar().showMessage("Choose the product to edit on the Products page, then Edit… or Enter.", 8000)
        return
    _refresh_on_save(window, open_product_editor(window, window.ctx, product_id))


def _action(
    window: QMainWindow, menu: QMenu, text: str, run: Callable[[], object], why: str | None, shortcut: str | None = None
) -> QAction:
    action = QAction(text, window)
    action.setObjectName("catalogue:" + text.replace("&", "").rstrip("…"))
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _=False: run())
    if why:
        action.setEnabled(False)
        action.setToolTip(why)
        action.setStatusTip(why)
    menu.addAction(action)
    return action


def install_catalogue_actions(window: QMainWindow) -> list[QAction]:
    """Add the Catalogue menu (before Help), File > Site settings… and File > Users… to `window` (a MainWindow:
    `ctx`, `menus`)."""
    ctx = window.ctx  # type: ignore[attr-defined]
    menus: dict[str, QMenu] = getattr(window, "menus", {})
    catalogue = QMenu("&Catalogue", window)
    catalogue.setToolTipsVisible(True)  # the reason a disabled action is disabled
    help_menu = menus.get("Help")
    bar = window.menuBar()
    if help_menu is not None:
        bar.insertMenu(help_menu.menuAction(), catalogue)
    else:
        bar.addMenu(catalogue)
    menus["Catalogue"] = catalogue
    staff = refusal(ctx, STAFF, "add or amend products, manufacturers and suppliers")
    added = [
        _action(
            window,
            catalogue,
            "&New product…",
            lambda: _refresh_on_save(window, open_product_editor(window, ctx)),
            staff,
            NEW_PRODUCT_SHORTCUT,
        ),
        _action(window, catalogue, "&Edit the selected product…", lambda: _edit_selected_product(window), staff),
    ]
    catalogue.addSeparator()
    # The lists are readable by every role; their New… and Edit… are disabled for the others.
    added.append(
        _action(
            window,
            catalogue,
            "&Manufacturers…",
            lambda: _refresh_on_save(window, open_party_list(window, ctx, "manufacturer")),
            None,
        )
    )
    added.append(
        _action(
            window,
            catalogue,
            "&Suppliers…",
            lambda: _refresh_on_save(window, open_party_list(window, ctx, "supplier")),
            None,
        )
    )
    file_menu = menus.get("File")
    if file_menu is not None:
        file_menu.setToolTipsVisible(True)
        site = QAction("Site &settings…", window, objectName="catalogue:Site settings")
        site.triggered.connect(lambda _=False: _refresh_on_save(window, open_site_settings(window, ctx)))
        why = refusal(ctx, ADMIN, "change the site's settings")
        if why:
            site.setEnabled(False)
            site.setToolTip(why)
            site.setStatusTip(why)
        users = QAction("&Users…", window, objectName="catalogue:Users")
        users.triggered.connect(lambda _=False: _refresh_on_save(window, open_users(window, ctx)))
        why = refusal(ctx, ADMIN, "add users or change their accounts")
        if why:
            users.setEnabled(False)
            users.setToolTip(why)
            users.setStatusTip(why)
        quit_action = next((a for a in file_menu.actions() if a.text() == "&Quit"), None)
        separator = next((a for a in file_menu.actions() if a.isSeparator()), quit_action)
        from ..site_switch import switch_site_action

        switch = switch_site_action(window)  # a user who works at several sites (issue 23)
        for action in (site, users, *([switch] if switch else [])):
            if separator is not None:  # before Quit, with the other registry-wide actions
                file_menu.insertAction(separator, action)
            else:
                file_menu.addAction(action)
            added.append(action)
    return added
