"""The controlled vocabularies of shared/domain/vocabulary.md.

Machine values are stored; labels are shown. Each vocabulary is a StrEnum so that a member compares equal to
its stored string, and `values(Vocab)` feeds the database CHECK constraints and the importers' validation.
"""

from __future__ import annotations

from enum import StrEnum


class ProductType(StrEnum):
    EXOSOME = "exosome"
    POLYNUCLEOTIDE = "polynucleotide"


class Presentation(StrEnum):
    LYOPHILIZED_VIAL = "lyophilized_vial"
    FROZEN_VIAL = "frozen_vial"
    SOLUTION_VIAL = "solution_vial"
    PREFILLED_SYRINGE = "prefilled_syringe"
    TOPICAL_AMPOULE = "topical_ampoule"
    TOPICAL_SERUM = "topical_serum"
    KIT = "kit"
    OTHER = "other"


class StorageForm(StrEnum):
    LYOPHILIZED = "lyophilized"
    FROZEN = "frozen"
    REFRIGERATED = "refrigerated"
    AMBIENT = "ambient"


class Unit(StrEnum):
    VIAL = "vial"
    SYRINGE = "syringe"
    AMPOULE = "ampoule"
    KIT = "kit"
    ML = "ml"


class BiologicalSource(StrEnum):
    MSC_UMBILICAL_CORD = "msc_umbilical_cord"
    MSC_WHARTONS_JELLY = "msc_whartons_jelly"
    MSC_ADIPOSE = "msc_adipose"
    MSC_BONE_MARROW = "msc_bone_marrow"
    AMNIOTIC = "amniotic"
    PLACENTAL = "placental"
    PLATELET = "platelet"
    PLANT = "plant"
    MILK = "milk"
    BACTERIAL = "bacterial"
    FISH = "fish"
    OTHER = "other"
    UNKNOWN = "unknown"


HUMAN_DERIVED_SOURCES: frozenset[str] = frozenset(
    {
        BiologicalSource.MSC_UMBILICAL_CORD,
        BiologicalSource.MSC_WHARTONS_JELLY,
        BiologicalSource.MSC_ADIPOSE,
        BiologicalSource.MSC_BONE_MARROW,
        BiologicalSource.AMNIOTIC,
        BiologicalSource.PLACENTAL,
        BiologicalSource.PLATELET,
    }
)


# Source `other` is human-derived "per description" (rules.md, ruling 4): the description names a human origin,
# the word "human" not negated. The negations are removed before looking for the word, so "Non-human primate"
# is not human-derived while "human and non-human cells" is. The lot rules ask the same in SQL
# (rules.lot_rules.human_derived), removing the same spellings in the same order.
HUMAN_IN_DESCRIPTION = "human"
NEGATED_HUMAN: tuple[str, ...] = ("non-human", "nonhuman", "non human", "not human")


def description_names_human(description: str | None) -> bool:
    """The free-text source description names a human origin (ruling 4). Lower-cased as SQL lower() does for
    the ASCII words compared here."""
    text = (description or "").lower()
    for negation in NEGATED_HUMAN:
        text = text.replace(negation, "")
    return HUMAN_IN_DESCRIPTION in text


def is_human_derived(source: str | None, description: str | None) -> bool | None:
    """Whether a biological source is human-derived (None: not recorded). `unknown` is not: it is undocumented
    (UNDOC-SOURCE), which is a different finding from a missing donor record."""
    if not source:
        return None
    if source == BiologicalSource.OTHER:
        return description_names_human(description)
    return source in HUMAN_DERIVED_SOURCES


class DonorUse(StrEnum):
    ALLOGENEIC = "allogeneic"
    AUTOLOGOUS = "autologous"


class IsolationMethod(StrEnum):
    ULTRACENTRIFUGATION = "ultracentrifugation"
    DENSITY_GRADIENT = "density_gradient"
    TANGENTIAL_FLOW_FILTRATION = "tangential_flow_filtration"
    ULTRAFILTRATION = "ultrafiltration"
    SIZE_EXCLUSION = "size_exclusion"
    PRECIPITATION = "precipitation"
    IMMUNOAFFINITY = "immunoaffinity"
    OTHER = "other"
    UNKNOWN = "unknown"


class PnSpecies(StrEnum):
    ONCORHYNCHUS_KETA = "oncorhynchus_keta"
    ONCORHYNCHUS_MYKISS = "oncorhynchus_mykiss"
    OTHER = "other"
    UNKNOWN = "unknown"


class Parameter(StrEnum):
    PARTICLE_CONCENTRATION = "particle_concentration"
    SIZE_MODE = "size_mode"
    SIZE_MEAN = "size_mean"
    SIZE_D90 = "size_d90"
    PROTEIN_CONCENTRATION = "protein_concentration"
    LIPID_CONCENTRATION = "lipid_concentration"
    MARKER = "marker"
    IMAGING = "imaging"
    STERILITY = "sterility"
    ENDOTOXIN = "endotoxin"
    MYCOPLASMA = "mycoplasma"
    DNA_CONCENTRATION = "dna_concentration"
    MOLECULAR_WEIGHT = "molecular_weight"
    PROTEIN_IMPURITY = "protein_impurity"


# parameter -> (unit of a numeric value or None for a qualitative result, allowed methods, allowed results)
PARAMETER_SPEC: dict[str, tuple[str | None, frozenset[str], frozenset[str]]] = {
    "particle_concentration": ("particles/mL", frozenset({"nta", "trps", "nano_flow"}), frozenset()),
    "size_mode": ("nm", frozenset({"nta", "trps", "nano_flow", "dls"}), frozenset()),
    "size_mean": ("nm", frozenset({"nta", "trps", "nano_flow", "dls"}), frozenset()),
    "size_d90": ("nm", frozenset({"nta", "trps", "nano_flow", "dls"}), frozenset()),
    "protein_concentration": ("µg/mL", frozenset({"bca", "bradford"}), frozenset()),
    "lipid_concentration": ("µg/mL", frozenset({"other"}), frozenset()),
    "marker": (
        None,
        frozenset({"western_blot", "elisa", "flow", "mass_spec"}),
        frozenset({"detected", "not_detected"}),
    ),
    "imaging": (None, frozenset({"tem", "cryo_em", "afm"}), frozenset({"performed"})),
    "sterility": (None, frozenset({"usp71", "ph_eur_2_6_1"}), frozenset({"pass", "fail"})),
    "endotoxin": ("EU/mL", frozenset({"lal", "rfc"}), frozenset()),
    "mycoplasma": (None, frozenset({"qpcr", "culture"}), frozenset({"negative", "positive"})),
    "dna_concentration": ("mg/mL", frozenset({"uv", "other"}), frozenset()),
    "molecular_weight": ("kDa", frozenset({"gel", "sec", "other"}), frozenset()),
    "protein_impurity": ("%", frozenset({"bca", "other"}), frozenset()),
}

METHODS: frozenset[str] = frozenset().union(*(spec[1] for spec in PARAMETER_SPEC.values()))
QUALITATIVE_RESULTS: frozenset[str] = frozenset().union(*(spec[2] for spec in PARAMETER_SPEC.values()))

TRANSMEMBRANE_MARKERS: tuple[str, ...] = ("cd9", "cd63", "cd81", "integrin", "mfge8")
CYTOSOLIC_MARKERS: tuple[str, ...] = ("tsg101", "alix", "syntenin", "annexin", "hsp70")
CONTAMINANT_MARKERS: tuple[str, ...] = ("calnexin", "grp94", "gm130", "histone", "argonaute", "apoa1", "apob")
MARKERS: tuple[str, ...] = TRANSMEMBRANE_MARKERS + CYTOSOLIC_MARKERS + CONTAMINANT_MARKERS


class MeasuredBy(StrEnum):
    MANUFACTURER = "manufacturer"
    INDEPENDENT_LAB = "independent_lab"


class RegulatoryStatus(StrEnum):
    APPROVED_BIOLOGIC = "approved_biologic"
    INVESTIGATIONAL = "investigational"
    DEVICE_REGISTERED = "device_registered"
    COSMETIC = "cosmetic"
    HCTP_361_CLAIM = "hctp_361_claim"
    RESEARCH_USE_ONLY = "research_use_only"
    NOT_AUTHORIZED = "not_authorized"
    UNKNOWN = "unknown"


STATUSES_NEEDING_REFERENCE: frozenset[str] = frozenset(
    {RegulatoryStatus.APPROVED_BIOLOGIC, RegulatoryStatus.INVESTIGATIONAL, RegulatoryStatus.DEVICE_REGISTERED}
)


class Route(StrEnum):
    TOPICAL_INTACT = "topical_intact"
    TOPICAL_POST_MICRONEEDLING = "topical_post_microneedling"
    TOPICAL_POST_FRACTIONAL_LASER = "topical_post_fractional_laser"
    TOPICAL_POST_RF_MICRONEEDLING = "topical_post_rf_microneedling"
    INTRADERMAL = "intradermal"
    SUBDERMAL = "subdermal"
    SCALP_INJECTION = "scalp_injection"
    INTRAVENOUS = "intravenous"


INJECTION_ROUTES: frozenset[str] = frozenset(
    {Route.INTRADERMAL, Route.SUBDERMAL, Route.SCALP_INJECTION, Route.INTRAVENOUS}
)
DEVICE_ASSISTED_ROUTES: frozenset[str] = frozenset(
    {Route.TOPICAL_POST_MICRONEEDLING, Route.TOPICAL_POST_FRACTIONAL_LASER, Route.TOPICAL_POST_RF_MICRONEEDLING}
)


class BodyArea(StrEnum):
    FACE = "face"
    PERIORBITAL = "periorbital"
    PERIORAL = "perioral"
    NECK = "neck"
    DECOLLETE = "decollete"
    HANDS = "hands"
    SCALP = "scalp"
    EYEBROWS = "eyebrows"
    BODY = "body"
    OTHER = "other"


class Contraindication(StrEnum):
    FISH_ALLERGY = "fish_allergy"
    PRODUCT_HYPERSENSITIVITY = "product_hypersensitivity"
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    AUTOIMMUNE_DISEASE = "autoimmune_disease"
    ANTICOAGULANT_THERAPY = "anticoagulant_therapy"
    BLEEDING_DISORDER = "bleeding_disorder"
    ACTIVE_SKIN_INFECTION = "active_skin_infection"
    UNDER_18 = "under_18"


class AdverseEventType(StrEnum):
    ERYTHEMA = "erythema"
    SWELLING = "swelling"
    BRUISING = "bruising"
    PAPULE = "papule"
    DELAYED_NODULE_GRANULOMA = "delayed_nodule_granuloma"
    NECROSIS = "necrosis"
    INFECTION = "infection"
    HYPERSENSITIVITY = "hypersensitivity"
    OTHER = "other"


class AdverseEventSeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    SERIOUS = "serious"


class ReportStatus(StrEnum):
    NOT_REPORTED = "not_reported"
    REPORTED_MANUFACTURER = "reported_manufacturer"
    REPORTED_REGULATOR = "reported_regulator"
    NOT_REPORTABLE = "not_reportable"


class LotStatus(StrEnum):
    """Stored lot states. `expired` is derived from the expiry date, never stored."""

    QUARANTINE = "quarantine"
    RELEASED = "released"
    DEPLETED = "depleted"
    RECALLED = "recalled"
    REJECTED = "rejected"
    DESTROYED = "destroyed"


EXPIRED = "expired"  # the derived display status


class DestroyReason(StrEnum):
    EXPIRED = "expired"
    TEMPERATURE_EXCURSION = "temperature_excursion"
    DAMAGED = "damaged"
    RECALLED = "recalled"
    CONTAMINATED = "contaminated"
    OTHER = "other"


class ExcursionResolution(StrEnum):
    USE = "use"
    QUARANTINE = "quarantine"
    DESTROY = "destroy"


class DocumentKind(StrEnum):
    COA = "coa"
    REGULATORY_CERTIFICATE = "regulatory_certificate"
    DONOR_ELIGIBILITY = "donor_eligibility"
    IFU = "ifu"
    OTHER = "other"


class Role(StrEnum):
    PHARMACIST = "pharmacist"
    MEDICAL_DIRECTOR = "medical_director"
    INSPECTOR = "inspector"
    ADMIN = "admin"


class SignatureMeaning(StrEnum):
    RELEASED = "released"
    WAIVED = "waived"
    OVERRIDDEN = "overridden"
    APPROVED = "approved"
    RECALLED = "recalled"
    REJECTED = "rejected"
    DESTROYED = "destroyed"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


SEVERITY_RANK: dict[str, int] = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


class SubjectType(StrEnum):
    PRODUCT = "product"
    LOT = "lot"
    ADMINISTRATION = "administration"
    ADVERSE_EVENT = "adverse_event"


def values(vocab: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in vocab)


# Where spelling out the machine value would read wrong: acronyms, species, the 361 HCT/P claim.
LABELS: dict[str, str] = {
    "coa": "Certificate of analysis (CoA)",
    "ifu": "Instructions for use (IFU)",
    "msc_umbilical_cord": "MSC, umbilical cord",
    "msc_whartons_jelly": "MSC, Wharton's jelly",
    "msc_adipose": "MSC, adipose",
    "msc_bone_marrow": "MSC, bone marrow",
    "oncorhynchus_keta": "Chum salmon (Oncorhynchus keta)",
    "oncorhynchus_mykiss": "Rainbow trout (Oncorhynchus mykiss)",
    "decollete": "Décolleté",
    "hctp_361_claim": "HCT/P 361 claim",
    "research_use_only": "Research use only (RUO)",
    "topical_post_rf_microneedling": "Topical post RF microneedling",
    "under_18": "Under 18",
    "ml": "mL",
    "dna_concentration": "DNA concentration",
    "size_d90": "Size D90",
    # characterization methods
    "afm": "AFM",
    "bca": "BCA",
    "cryo_em": "Cryo-EM",
    "dls": "DLS",
    "elisa": "ELISA",
    "lal": "LAL",
    "mass_spec": "Mass spectrometry",
    "nano_flow": "Nano-flow cytometry",
    "nta": "NTA",
    "ph_eur_2_6_1": "Ph. Eur. 2.6.1",
    "qpcr": "qPCR",
    "rfc": "rFC",
    "sec": "SEC",
    "tem": "TEM",
    "trps": "TRPS",
    "usp71": "USP <71>",
    "uv": "UV",
    "flow": "Flow cytometry",
}


def label(value: str | None) -> str:
    """A human label for a machine value: `msc_adipose` -> `MSC, adipose`, `intradermal` -> `Intradermal`."""
    if not value:
        return ""
    known = LABELS.get(value)
    if known is not None:
        return known
    text = value.replace("_", " ")
    return text[0].upper() + text[1:]
