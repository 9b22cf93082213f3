"""The open findings on one lot and its product, as the flag service lists them, for the workflow dialogs."""

from __future__ import annotations

from typing import Any

from ...services import ServiceContext


def open_flags_of_lot(ctx: ServiceContext, lot_id: int) -> list[Any]:
    """Unwaived findings on the lot and on its product, highest severity first."""
    from ...services import flags

    return [f for f in flags.list_flags(ctx, lot_id=lot_id) if not f.waived]
