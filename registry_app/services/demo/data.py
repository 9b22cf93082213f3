"""The demo catalogue: realistic (fictional) manufacturers, suppliers and products, each with the findings
it is meant to show. `compliant` products must raise no flag at all."""

from __future__ import annotations

from dataclasses import dataclass, field

MANUFACTURERS: dict[str, tuple[str, str | None]] = {
    # key: (name, country)
    "dermaforce": ("Dermaforce Bio Co., Ltd.", "KR"),
    "hanbit": ("Hanbit ExoLab Inc.", "KR"),
    "jeju": ("Jeju Marine Bio Co., Ltd.", "KR"),
    "cellvera": ("Cellvera Regenerative Inc.", "US"),
    "apex": ("Apex Biologics LLC", "US"),
    "adriatica": ("Biofarma Adriatica S.r.l.", "IT"),
    "roselia": ("Laboratoires Rosélia SAS", "FR"),
    "unknown": ("unknown", None),
}

SUPPLIERS: tuple[str, ...] = (
    "MedAesthetic Supply US",
    "K-Beauty Pro Distribution",
    "EuroDerm Wholesale",
    "ClinicDirect Logistics",
)

PRACTITIONERS: tuple[str, ...] = ("Dr. Mina Park", "Dr. Alex Rivera", "NP Jordan Lee", "Dr. Sofia Rossi")
BODY_AREAS: tuple[str, ...] = ("face", "face;neck", "periorbital", "scalp", "face;decollete", "hands", "neck")
CONTRAINDICATIONS: tuple[str, ...] = (
    "pregnancy",
    "anticoagulant_therapy",
    "autoimmune_disease",
    "active_skin_infection",
)


@dataclass(frozen=True)
class DemoProduct:
    name: str
    product_type: str
    manufacturer: str | None
    statuses: dict[str, tuple[str, str | None]]  # jurisdiction -> (status, reference)
    labelled_routes: tuple[str, ...]
    use_routes: tuple[str, ...]  # routes the demo clinic actually uses (may be off-label)
    compliant: bool
    source: str | None = None
    source_description: str | None = None
    pn_species: str | None = None
    presentation: str = "lyophilized_vial"
    storage_form: str = "refrigerated"
    unit: str = "vial"
    isolation_method: str | None = None
    donor_use: str | None = None
    spec: dict[str, float] = field(default_factory=dict)
    needs_ind: bool = False
    weight: float = 1.0


PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct(
        "Rosa Damascena Exosome Serum",
        "exosome",
        "roselia",
        {"US": ("cosmetic", "MoCRA-LST-44821"), "EU": ("cosmetic", "CPNP-3310472")},
        ("topical_intact",),
        ("topical_intact",),
        True,
        source="plant",
        source_description="Rosa damascena callus culture",
        presentation="topical_serum",
        storage_form="ambient",
        unit="ampoule",
        isolation_method="tangential_flow_filtration",
        weight=2.0,
    ),
    DemoProduct(
        "PN-HPT Dermal 2%",
        "polynucleotide",
        "adriatica",
        {"US": ("device_registered", "K231187"), "EU": ("device_registered", "CE-0477-III-2211")},
        ("intradermal",),
        ("intradermal",),
        True,
        pn_species="oncorhynchus_mykiss",
        presentation="prefilled_syringe",
        unit="syringe",
        weight=2.0,
    ),
    DemoProduct(
        "Keta PDRN Skin Booster",
        "polynucleotide",
        "jeju",
        {"US": ("device_registered", "K240562"), "KR": ("device_registered", "MFDS-21-4471")},
        ("intradermal", "subdermal"),
        ("intradermal", "subdermal"),
        True,
        pn_species="oncorhynchus_keta",
        presentation="solution_vial",
        weight=2.0,
    ),
    DemoProduct(
        "Centella Exo Recovery Ampoule",
        "exosome",
        "hanbit",
        {"US": ("cosmetic", "MoCRA-LST-51902"), "KR": ("cosmetic", "KCIA-2023-0913")},
        ("topical_intact",),
        ("topical_intact",),
        True,
        source="plant",
        source_description="Centella asiatica leaf",
        presentation="topical_ampoule",
        storage_form="ambient",
        unit="ampoule",
        isolation_method="ultrafiltration",
        weight=1.5,
    ),
    DemoProduct(
        "CordVita UC-MSC EV (clinical trial)",
        "exosome",
        "cellvera",
        {"US": ("investigational", "IND 029417")},
        ("intradermal",),
        ("intradermal",),
        True,
        source="msc_umbilical_cord",
        donor_use="allogeneic",
        isolation_method="density_gradient",
        storage_form="frozen",
        presentation="frozen_vial",
        needs_ind=True,
        weight=1.0,
    ),
    DemoProduct(
        "UC-MSC Exosome 10B",
        "exosome",
        "dermaforce",
        {
            "US": ("cosmetic", "MoCRA-LST-60117"),
            "EU": ("cosmetic", "CPNP-4410923"),
            "KR": ("cosmetic", "KCIA-2022-1180"),
        },
        ("topical_intact", "topical_post_microneedling"),
        ("topical_intact", "topical_post_microneedling", "intradermal"),
        False,
        source="msc_umbilical_cord",
        donor_use="allogeneic",
        isolation_method="ultracentrifugation",
        weight=3.0,
    ),
    DemoProduct(
        "Adipose Stem Exosome Kit",
        "exosome",
        "apex",
        {"US": ("hctp_361_claim", None)},
        ("intradermal", "scalp_injection"),
        ("intradermal", "scalp_injection"),
        False,
        source="msc_adipose",
        donor_use="allogeneic",
        isolation_method="ultracentrifugation",
        presentation="kit",
        unit="kit",
        storage_form="frozen",
        weight=1.5,
    ),
    DemoProduct(
        "Platelet EV Concentrate",
        "exosome",
        "apex",
        {"US": ("approved_biologic", None)},
        ("intradermal", "topical_post_microneedling"),
        ("intradermal", "topical_post_microneedling"),
        False,
        source="platelet",
        donor_use="allogeneic",
        isolation_method="size_exclusion",
        weight=1.0,
    ),
    DemoProduct(
        "ExoGen Research Grade 5B",
        "exosome",
        "unknown",
        {"US": ("research_use_only", None)},
        (),
        ("topical_post_microneedling", "intradermal"),
        False,
        source="msc_bone_marrow",
        isolation_method="unknown",
        weight=0.7,
    ),
    DemoProduct(
        "Generic Exosome Ampoule",
        "exosome",
        None,
        {},
        ("topical_intact",),
        ("topical_intact", "topical_post_fractional_laser"),
        False,
        source="unknown",
        presentation="topical_ampoule",
        unit="ampoule",
        storage_form="ambient",
        weight=0.8,
    ),
    DemoProduct(
        "Salmon PN Filler (parallel import)",
        "polynucleotide",
        "jeju",
        {"US": ("unknown", None)},
        ("intradermal",),
        ("intradermal",),
        False,
        pn_species="unknown",
        presentation="prefilled_syringe",
        unit="syringe",
        weight=1.0,
    ),
    DemoProduct(
        "Wharton's Jelly Exosome Booster",
        "exosome",
        "hanbit",
        {"US": ("cosmetic", "MoCRA-LST-70342")},
        ("topical_post_microneedling", "topical_post_rf_microneedling"),
        ("topical_post_microneedling", "topical_post_rf_microneedling"),
        False,
        source="msc_whartons_jelly",
        donor_use="allogeneic",
        isolation_method="tangential_flow_filtration",
        spec={
            "spec_endotoxin_max": 0.25,
            "spec_size_min_nm": 40.0,
            "spec_size_max_nm": 120.0,
            "spec_concentration_tolerance_pct": 15.0,
        },
        weight=1.5,
    ),
)

# The demo's passwords are fixed and documented: they are for trying the application, never for real records.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # username, role, password, full name
    ("admin", "admin", "admin-demo-only", "Demo Administrator"),
    ("pharmacist", "pharmacist", "pharmacist-demo", "Demo Pharmacist"),
    ("director", "medical_director", "director-demo", "Demo Medical Director"),
    ("inspector", "inspector", "inspector-demo", "Demo Inspector"),
)
