"""The products export lists every jurisdiction's regulatory status and reference, not only the site's."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl

from registry_app.domain import ProductRegulatoryStatus
from registry_app.services import ServiceContext, reports

from ..rules import builders as b


def test_products_export_has_a_row_per_product_and_jurisdiction(pharmacist: ServiceContext, tmp_path: Path) -> None:
    with pharmacist.db.write() as session:
        product = b.product(session, name="Cordexa UC-EV", status="device_registered", reference="K-US-1")
        session.add(
            ProductRegulatoryStatus(product_id=product.id, jurisdiction="KR", status="cosmetic", reference="MFDS-7")
        )
        b.product(session, name="Unlisted Serum", status=None)
    xlsx = reports.export(pharmacist, "products", "xlsx", tmp_path / "products.xlsx").path
    sheet = openpyxl.load_workbook(xlsx)["products"]
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, (cell.value for cell in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    listed = [(r["name"], r["jurisdiction"], r["regulatory_status"], r["regulatory_reference"]) for r in rows]
    assert listed == [
        ("Cordexa UC-EV", "US", "device_registered", "K-US-1"),  # the site's jurisdiction first
        ("Cordexa UC-EV", "KR", "cosmetic", "MFDS-7"),
        ("Unlisted Serum", None, None, None),
    ]
    csv_path = reports.export(pharmacist, "products", "csv", tmp_path / "products.csv").path
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        from_csv = [(r["name"], r["jurisdiction"], r["regulatory_reference"]) for r in csv.DictReader(handle)]
    assert from_csv == [
        ("Cordexa UC-EV", "US", "K-US-1"),
        ("Cordexa UC-EV", "KR", "MFDS-7"),
        ("Unlisted Serum", "", ""),
    ]
