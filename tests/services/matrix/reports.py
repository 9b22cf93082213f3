"""Matrix calls for exports, the compliance report and the inspection bundle (every reader may produce them)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from registry_app.services import reports

from . import MatrixSetup, Prepare

PERIOD = (date(2024, 1, 1), date(2024, 12, 31))


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="matrix-reports-"))


def _export(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: reports.export(ctx, "products", "csv", _folder() / "products.csv")


def _report(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: reports.compliance_report(ctx, *PERIOD, _folder() / "report.pdf")


def _bundle(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: reports.bundle(ctx, *PERIOD, _folder() / "bundle.zip")


CALLS: dict[str, Prepare] = {
    "reports.export": _export,
    "reports.compliance_report": _report,
    "reports.bundle": _bundle,
}
