"""The open findings on one lot and its product, as the flag service lists them, for the workflow dialogs."""

from __future__ import annotations

from ...domain.vocab import SEVERITY_RANK
from ...services import ServiceContext
from ...services.catalogue import Flag
from ...services.flags import flags_for_subject


def open_flags_of_lot(ctx: ServiceContext, lot_id: int, product_id: int) -> list[Flag]:
    """Unwaived findings on the lot and on its product, highest severity first."""
    found = flags_for_subject(ctx, "lot", lot_id) + flags_for_subject(ctx, "product", product_id)
    return sorted((f for f in found if not f.waived), key=lambda f: (-SEVERITY_RANK[f.severity], f.code))
