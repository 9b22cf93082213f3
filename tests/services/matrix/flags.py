"""Matrix calls for the demo generator and flag waivers."""

from __future__ import annotations

from datetime import date

from registry_app.services import flag_table, flags
from registry_app.services.demo import generate as demo

from . import MatrixSetup, Prepare


def _demo(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: demo.generate_demo(ctx, lots=40, seed=1, today=date(2025, 6, 15))


CALLS: dict[str, Prepare] = {
    "generate.generate_demo": _demo,
}


def _waivable(setup: MatrixSetup) -> int:
    """A product with an open UNDOC-MANUFACTURER flag; returns its id."""
    from registry_app.domain import Product

    with setup.db.write() as session:
        product = Product(name="Matrix Exosome", name_key="matrix exosome", product_type="exosome", source="plant")
        session.add(product)
        session.flush()
        return product.id


def _waive(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _waivable(setup)
    return lambda ctx: flags.waive_flag(
        ctx, "UNDOC-MANUFACTURER", "product", product_id, "made in-house", setup.password_for(ctx)
    )


def _revoke(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    product_id = _waivable(setup)
    waiver_id = flags.waive_flag(
        setup.director, "UNDOC-MANUFACTURER", "product", product_id, "made in-house", setup.password_for(setup.director)
    )
    return lambda ctx: flags.revoke_waiver(ctx, waiver_id, "manufacturer now known")


CALLS["flags.waive_flag"] = _waive
CALLS["flags.revoke_waiver"] = _revoke


def _rebuild(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: flag_table.rebuild_flags(ctx)


CALLS["flag_table.rebuild_flags"] = _rebuild
