"""File > Switch site…: a user with a role at several sites (or a group role) moves to another one. The role
may differ there, so the user signs in again at the chosen site (the window closes as at Sign out)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMainWindow

from ..domain.vocab import label
from ..services import RegistryError
from ..services.memberships import my_sites


def switch_site_action(window: QMainWindow) -> QAction | None:
    """The action, when the signed-in user may work at more than one site (else None: nothing to switch)."""
    ctx = window.ctx  # type: ignore[attr-defined]
    try:
        places = my_sites(ctx)
    except RegistryError:
        return None
    if len(places) < 2:
        return None
    action = QAction("Switch &site…", window, objectName="file:Switch site")
    action.triggered.connect(lambda _=False: switch_site(window, places))
    return action


def _choice(site: dict[str, Any]) -> str:
    return f"{site['code']}: {site['name']} ({label(str(site['role'])).lower()})"


def switch_site(window: QMainWindow, places: list[dict[str, Any]]) -> str | None:
    """Ask which site; on another one, the context acts there and the user signs in again. Returns the code."""
    labels = [_choice(site) for site in places]
    current = next((i for i, site in enumerate(places) if site["current"]), 0)
    chosen, ok = QInputDialog.getItem(window, "Switch site", "Work at the site:", labels, current, False)
    if not ok or chosen not in labels:
        return None
    site = places[labels.index(chosen)]
    if site["current"]:
        return None
    window.ctx.site_code = str(site["code"])  # type: ignore[attr-defined]
    window.sign_out()  # type: ignore[attr-defined]
    return str(site["code"])
