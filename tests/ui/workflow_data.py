"""Records the workflow tests start from, inserted with the rule tests' builders (explicit and fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytestqt.qtbot import QtBot

from registry_app.db import Database
from tests.rules import builders


@dataclass(frozen=True)
class LotIds:
    product_id: int
    lot_id: int
    lot_number: str
    product_name: str


def make_lot(
    db: Database,
    product_type: str = "exosome",
    *,
    routes: tuple[str, ...] = ("topical_intact",),
    status: str | None = "cosmetic",
    product_values: dict[str, Any] | None = None,
    **lot_values: Any,
) -> LotIds:
    with db.write() as session:
        product = builders.product(session, product_type, routes=routes, status=status, **(product_values or {}))
        lot = builders.lot(session, product, **lot_values)
        return LotIds(product.id, lot.id, lot.lot_number, product.name)


def add_administration(db: Database, lot_id: int, **values: Any) -> int:
    with db.write() as session:
        from registry_app.domain import Lot

        lot = session.get(Lot, lot_id)
        assert lot is not None
        return builders.administration(session, lot, **values).id


def show_active(qtbot: QtBot, widget: Any) -> Any:
    """Show the widget as the active window, so keyboard shortcuts reach it as they do for a user."""
    qtbot.addWidget(widget)
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow)
    return widget
