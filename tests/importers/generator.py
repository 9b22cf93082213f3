"""Realistic lot-import rows for tests and bench/bench_import.py: a catalogue of exosome and PN products from
a few manufacturers and distributors, and lots whose documentation ranges from complete (full MISEV
characterization, safety tests, CoA) to the bare minimum a clinic's spreadsheet often holds."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from registry_app.importers.cells import gtin_check_digit
from registry_app.importers.lot_rows import LOT_COLUMNS

LOT_HEADER = tuple(LOT_COLUMNS)  # the format's columns, in the order the format document lists them

MANUFACTURERS = [
    ("Northbay Biologics", "KR"),
    ("Petal Labs", "FR"),
    ("Aquagen Pharma", "IT"),
    ("Seoul Cell Science", "KR"),
    ("Mekong Bio", "VN"),
    ("unknown", ""),
]
SUPPLIERS = ["MedSource Distribution", "Beauty Wholesale Co", "Online reseller", "Asia Aesthetic Supply", ""]
EXO_SOURCES = ["msc_umbilical_cord", "msc_adipose", "plant", "platelet", "milk", "unknown", "amniotic"]
ROUTES_EXO = ["topical_post_microneedling", "topical_post_fractional_laser", "topical_intact", "scalp_injection"]
STATUSES = ["investigational", "cosmetic", "device_registered", "unknown", "research_use_only", "not_authorized"]


def make_gtin(rng: random.Random) -> str:
    body = "880" + "".join(rng.choice("0123456789") for _ in range(9))
    return "0" + body + str(gtin_check_digit(body))


def _product(rng: random.Random, index: int) -> dict[str, str]:
    exosome = rng.random() < 0.65
    manufacturer, country = rng.choice(MANUFACTURERS)
    product = {
        "product_name": f"{'Exo' if exosome else 'PN'} {rng.choice(['Glow', 'Renew', 'Cordexa', 'Nucleo', 'Vita'])}"
        f" {index}",
        "product_type": "exosome" if exosome else "polynucleotide",
        "manufacturer": manufacturer,
        "manufacturer_country": country,
        "gtin": make_gtin(rng) if rng.random() < 0.7 else "",
        "unit": "vial" if exosome else rng.choice(["syringe", "vial"]),
        "presentation": "lyophilized_vial" if exosome else "prefilled_syringe",
        "storage_form": rng.choice(["refrigerated", "lyophilized", "ambient"]) if exosome else "ambient",
        "source": rng.choice(EXO_SOURCES) if exosome else "",
        "pn_species": "" if exosome else rng.choice(["oncorhynchus_keta", "oncorhynchus_mykiss", "unknown"]),
        "isolation_method": rng.choice(["tangential_flow_filtration", "ultracentrifugation", "unknown"])
        if exosome
        else "",
        "labelled_routes": ";".join(rng.sample(ROUTES_EXO, 2)) if exosome else "intradermal",
        "regulatory_jurisdiction": "US",
        "regulatory_status": rng.choice(STATUSES) if rng.random() < 0.8 else "",
    }
    product["regulatory_reference"] = (
        f"REF-{index:05d}" if product["regulatory_status"] in ("investigational", "device_registered") else ""
    )
    product["donor_use"] = "allogeneic" if product["source"].startswith(("msc", "amn", "plat")) else ""
    return product


def lot_rows(count: int, seed: int = 1, today: date | None = None, products: int = 200) -> Iterator[dict[str, str]]:
    """`count` valid lot rows (unique product + lot number), documentation complete to sparse."""
    rng = random.Random(seed)
    today = today or date.today()
    catalogue = [_product(rng, i) for i in range(products)]
    for index in range(count):
        product = catalogue[index % products]
        exosome = product["product_type"] == "exosome"
        received = today - timedelta(days=rng.randint(0, 3 * 365))
        row = dict.fromkeys(LOT_HEADER, "")
        row.update(product)
        row.update(
            supplier=rng.choice(SUPPLIERS),
            lot_number=f"L{received:%y%m}-{index:07d}",
            received_date=received.isoformat(),
            quantity_received=str(rng.choice([5, 10, 20, 30, 50])),
            expiry_date=(received + timedelta(days=rng.randint(180, 720))).isoformat() if rng.random() < 0.9 else "",
            manufacture_date=(received - timedelta(days=rng.randint(10, 200))).isoformat()
            if rng.random() < 0.6
            else "",
            received_by=rng.choice(["pharmacist.lee", "pharmacist.kim", ""]),
            status=rng.choice(["released", "released", "depleted", "quarantine", ""]),
            receipt_temperature_c=f"{rng.uniform(2, 8):.1f}" if rng.random() < 0.7 else "",
            package_intact=rng.choice(["yes", "yes", "yes", "no", ""]),
            coa_ref=f"COA-{index}.pdf" if rng.random() < 0.6 else "",
            donor_eligibility_ref=f"DE-{index}" if product["donor_use"] and rng.random() < 0.7 else "",
            result_source=rng.choice(["manufacturer", "independent_lab"]),
        )
        documented = rng.random()
        if exosome and documented < 0.3:
            row.update(
                labelled_particles_per_ml="1.0e10",
                particle_concentration_per_ml=f"{rng.uniform(7, 12):.1f}e9",
                particle_method="nta",
                size_mode_nm=str(rng.randint(80, 170)),
                size_method="nta",
                protein_ug_per_ml=str(rng.randint(100, 600)),
                markers_detected="cd9;cd63;cd81;tsg101",
                markers_not_detected="calnexin",
                imaging_method="cryo_em",
            )
        if documented < 0.6:
            row.update(
                sterility=rng.choice(["pass", "pass", "pass", "fail"]),
                endotoxin_eu_per_ml=f"{rng.uniform(0.01, 0.8):.2f}",
            )
            if exosome:
                row["mycoplasma"] = "negative"
            else:
                row.update(dna_mg_per_ml="20", molecular_weight_kda=str(rng.randint(800, 2000)))
        yield row


def write_lots_csv(path: Path, count: int, seed: int = 1, today: date | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOT_HEADER)
        writer.writeheader()
        writer.writerows(lot_rows(count, seed, today))
    return path
