"""Matrix calls for the demo generator and flag waivers."""

from __future__ import annotations

from datetime import date

from registry_app.services import demo

from . import MatrixSetup, Prepare


def _demo(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: demo.generate_demo(ctx, lots=40, seed=1, today=date(2025, 6, 15))


CALLS: dict[str, Prepare] = {
    "demo.generate_demo": _demo,
}
