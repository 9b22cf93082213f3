"""Where a user works (issue 23), for the Users editor: each user's roles at sites in words, and the combo of the
places a role is granted at (each site of the registry, and the whole group: `--site all` on the command line).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QComboBox

from ...domain.vocab import label
from ...services.memberships import GROUP

GROUP_LABEL = "Every site (group)"
NO_PLACE = "no role at any site (may not sign in)"
# The service's own words (memberships._user), shown before anyone tries.
OWN_PLACES = "you cannot change your own roles: another admin can"


def place_name(code: str) -> str:
    return "every site" if code == GROUP else code


def places_text(places: Sequence[dict[str, str]]) -> str:
    """ "pharmacist at BUSAN; inspector at every site" (list_users' `sites`, in its order)."""
    return "; ".join(f"{label(p['role']).lower()} at {place_name(p['site'])}" for p in places) or NO_PLACE


def role_at(user: dict[str, Any] | None, code: str) -> str | None:
    """The user's own role at the place `code` (a site code or GROUP): not the group role a site falls back on."""
    return next((p["role"] for p in (user or {}).get("sites", []) if p["site"] == code), None)


def place_state(user: dict[str, Any] | None, code: str) -> str:
    """What the user may do at the place now, in words (a site without a role of theirs falls back on the group)."""
    if user is None:
        return ""
    own, group = role_at(user, code), role_at(user, GROUP)
    if own is not None:
        return f"Now {label(own).lower()} at {place_name(code)}."
    if code != GROUP and group is not None:
        return f"No role of their own at {code}: their group role ({label(group).lower()}) holds there."
    return f"No role at {place_name(code)}."


def place_combo(object_name: str) -> QComboBox:
    """A combo of places: the group first (every site), then the sites once `fill_places` has them."""
    combo = QComboBox(objectName=object_name)
    combo.addItem(GROUP_LABEL, GROUP)
    return combo


def fill_places(combo: QComboBox, sites: Sequence[dict[str, Any]], default: str | None = None) -> None:
    """Put list_sites' sites in the combo, keeping the place chosen (else `default`, else the group). Refilled
    without signals: the caller updates what depends on the place once."""
    keep = combo.currentData() if combo.count() > 1 else default
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(GROUP_LABEL, GROUP)
    for site in sites:
        combo.addItem(f"{site['code']} — {site['name']}", site["code"])
    index = combo.findData(keep)
    combo.setCurrentIndex(max(index, 0))
    combo.blockSignals(False)
