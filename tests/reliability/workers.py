"""Processes that write to a registry, for the crash and concurrency tests and bench/bench_reliability.py.

Run from the repository root: `python -m tests.reliability.workers KIND URL ...`. Each prints one line per
write the service reported saved (flushed at once), so the parent knows exactly what must survive a kill.
The password of the test users comes from REGISTRY_PASSWORD.

  administrations URL LOT_ID COUNT TAG   record COUNT administrations of the lot; prints "saved ID QTY"
  users URL PREFIX SECONDS               create users PREFIX-1, PREFIX-2, ... for SECONDS; prints "saved NAME"
  import URL CSV                         import the lot file; prints "started" then "imported CREATED"
"""

from __future__ import annotations

import csv
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

LOT_TEMPLATE = {
    "product_name": "Cordexa UC-EV 10B",
    "product_type": "exosome",
    "manufacturer": "Northbay Biologics",
    "manufacturer_country": "KR",
    "supplier": "MedSource Distribution",
    "lot_number": "",
    "expiry_date": "",
    "manufacture_date": "",
    "received_date": "",
    "received_by": "pharmacist.lee",
    "quantity_received": "20",
    "unit": "vial",
    "presentation": "lyophilized_vial",
    "storage_form": "refrigerated",
    "receipt_temperature_c": "4.5",
    "package_intact": "yes",
    "source": "msc_umbilical_cord",
    "source_description": "Umbilical cord MSC conditioned medium",
    "donor_use": "allogeneic",
    "donor_eligibility_ref": "DE-1",
    "isolation_method": "tangential_flow_filtration",
    "labelled_routes": "topical_post_microneedling;topical_post_fractional_laser",
    "regulatory_jurisdiction": "US",
    "regulatory_status": "investigational",
    "regulatory_reference": "IND 031245",
    "coa_ref": "COA.pdf",
    "particle_concentration_per_ml": "9.2e9",
    "particle_method": "nta",
    "size_mode_nm": "112",
    "size_method": "nta",
    "protein_ug_per_ml": "410",
    "markers_detected": "cd9;cd63;cd81",
    "markers_not_detected": "calnexin",
    "sterility": "pass",
    "endotoxin_eu_per_ml": "0.12",
    "mycoplasma": "negative",
    "result_source": "independent_lab",
}


def write_lot_file(path: Path, count: int, prefix: str = "CR") -> Path:
    """A valid lot file of `count` lots of one well-documented product (formats/lot-import.md)."""
    today = date.today()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(LOT_TEMPLATE))
        writer.writeheader()
        for i in range(count):
            writer.writerow(
                LOT_TEMPLATE
                | {
                    "lot_number": f"{prefix}-{i:06d}",
                    "expiry_date": (today + timedelta(days=400)).isoformat(),
                    "manufacture_date": (today - timedelta(days=90)).isoformat(),
                    "received_date": (today - timedelta(days=3 + i % 20)).isoformat(),
                }
            )
    return path


def _context(url: str, username: str):  # type: ignore[no-untyped-def]
    from registry_app.db import Database
    from registry_app.services import ServiceContext
    from registry_app.services.auth import sign_in

    ctx = ServiceContext(Database(url))
    sign_in(ctx, username, os.environ["REGISTRY_PASSWORD"])
    return ctx


def administrations(url: str, lot_id: str, count: str, tag: str) -> None:
    from registry_app.services.administrations import AdministrationInput, record_administration

    ctx = _context(url, "pharmacist")
    given = datetime.combine(date.today() - timedelta(days=1), datetime.min.time()).replace(hour=10)
    print("started", flush=True)
    for i in range(int(count)):
        quantity = 1.0 + (i % 3) * 0.5
        entry = AdministrationInput(
            lot_id=int(lot_id),
            administered_at=given,
            route="topical_post_microneedling",
            patient_ref=f"PT-{tag}-{i:05d}",
            body_areas=("face",),
            quantity=quantity,
            practitioner="dr.nguyen",
            screening_done=True,
        )
        result = record_administration(ctx, entry, confirm=True)
        print(f"saved {result.administration_id} {quantity}", flush=True)


def users(url: str, prefix: str, seconds: str) -> None:
    from registry_app.services.auth import create_user

    ctx = _context(url, "admin")
    print("started", flush=True)
    end, i = time.monotonic() + float(seconds), 0
    while time.monotonic() < end:
        i += 1
        create_user(ctx, f"{prefix}-{i}", "pharmacist", "long-enough-password")
        print(f"saved {prefix}-{i}", flush=True)


def import_lots(url: str, path: str) -> None:
    from registry_app.services.imports import import_lots as run_import

    ctx = _context(url, "pharmacist")
    print("started", flush=True)
    result = run_import(ctx, path)
    assert not result.errors, result.errors[:3]
    print(f"imported {result.created}", flush=True)


if __name__ == "__main__":
    kind, *arguments = sys.argv[1:]
    {"administrations": administrations, "users": users, "import": import_lots}[kind](*arguments)
