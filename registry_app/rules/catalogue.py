"""The flag rules of shared/domain/rules.md: stable codes, subjects and severities, and the Flag record.

Codes are part of the public interface (reports, exports, JSON output): never rename or reuse one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.vocab import SEVERITY_RANK


@dataclass(frozen=True)
class Rule:
    code: str
    subject_type: str  # product | lot | administration | adverse_event
    severity: str
    title: str
    is_alert: bool = False  # alerts show on the dashboard but are not compliance findings


@dataclass(frozen=True)
class Flag:
    """One finding on one subject. `message` says what is missing or wrong and what to do about it."""

    code: str
    severity: str
    subject_type: str
    subject_id: int
    product_id: int | None
    product_name: str | None
    lot_id: int | None
    lot_number: str | None
    message: str
    waived: bool = False
    waiver: dict[str, object] | None = field(default=None, compare=False)
    # The values the rule compared (domain.exact.facts_of), which a waiver covers: it ends when they change,
    # not when the wording does (rules.md). Not part of the JSON output.
    facts: str = field(default="", compare=False)

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    def as_json(self) -> dict[str, object]:
        """The element of `flags --format json` (shared/cli.md)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "product_name": self.product_name,
            "lot_number": self.lot_number,
            "message": self.message,
            "waived": self.waived,
        }


_new = object.__new__
_set = object.__setattr__


def new_flag(
    code: str,
    severity: str,
    subject_type: str,
    subject_id: int,
    product_id: int | None,
    product_name: str | None,
    lot_id: int | None,
    lot_number: str | None,
    message: str,
    facts: str = "",
) -> Flag:
    """Flag(...) for an open flag, built by filling its __dict__ at once. The generated __init__ of a frozen
    dataclass sets each of the 11 fields through object.__setattr__: 2.5x slower, and an evaluation over a
    large registry builds ~100k flags. The result is an ordinary Flag (equal, hashable, `replace` works)."""
    item = _new(Flag)
    _set(
        item,
        "__dict__",
        {
            "code": code,
            "severity": severity,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "product_id": product_id,
            "product_name": product_name,
            "lot_id": lot_id,
            "lot_number": lot_number,
            "message": message,
            "waived": False,
            "waiver": None,
            "facts": facts,
        },
    )
    return item


_RULES = [
    Rule("UNDOC-MANUFACTURER", "product", "high", "Manufacturer unknown"),
    Rule("UNDOC-SOURCE", "product", "high", "Biological source or species unknown"),
    Rule("UNDOC-DONOR", "lot", "high", "No donor-eligibility record"),
    Rule("UNDOC-REGULATORY", "product", "high", "No regulatory status for the jurisdiction"),
    Rule("UNDOC-REG-EVIDENCE", "product", "medium", "Regulatory status without reference number"),
    Rule("UNDOC-COA", "lot", "high", "No certificate of analysis"),
    Rule("UNDOC-EXPIRY", "lot", "high", "No expiry date"),
    Rule("UNDOC-SUPPLIER", "lot", "medium", "No supplier"),
    Rule("UNDOC-RECEIPT", "lot", "medium", "Receipt check incomplete"),
    Rule("UNDOC-EV-CHARACTERIZATION", "lot", "medium", "MISEV2018 minimal characterization incomplete"),
    Rule("UNDOC-PN-CHARACTERIZATION", "lot", "medium", "Polynucleotide characterization incomplete"),
    Rule("UNDOC-SAFETY-TESTS", "lot", "high", "Safety tests missing"),
    Rule("OOS-STERILITY", "lot", "critical", "Sterility failed"),
    Rule("OOS-MYCOPLASMA", "lot", "critical", "Mycoplasma positive"),
    Rule("OOS-ENDOTOXIN", "lot", "high", "Endotoxin above limit"),
    Rule("OOS-SIZE", "lot", "medium", "Vesicle size out of range"),
    Rule("OOS-CONCENTRATION", "lot", "medium", "Particle concentration differs from label"),
    Rule("OOS-CONTAMINANT", "lot", "medium", "Contaminant marker detected"),
    Rule("REG-IMPLAUSIBLE-APPROVAL", "product", "critical", "Implausible US approval of an exosome product"),
    Rule("REG-361-CLAIM", "product", "high", "361 HCT/P claim for a secreted cell product"),
    Rule("REG-HUMAN-COSMETIC-EU", "product", "high", "Human-derived exosome sold as EU cosmetic"),
    Rule("REG-COSMETIC-INJECTED", "administration", "critical", "Cosmetic product injected"),
    Rule("REG-RUO-ADMINISTERED", "administration", "critical", "Research-use-only product administered"),
    Rule("REG-UNAUTHORIZED-INJECTED", "administration", "critical", "Injected without authorisation"),
    Rule("REG-COSMETIC-DEVICE-ASSISTED", "administration", "low", "Cosmetic applied after a skin-breaching device"),
    Rule("REG-OFF-LABEL-ROUTE", "administration", "medium", "Route not on the label"),
    Rule("USE-EXPIRED", "administration", "high", "Administered after expiry"),
    Rule("USE-NOT-RELEASED", "administration", "high", "Administered before release"),
    Rule("USE-RECALLED", "administration", "critical", "Administered from a recalled lot"),
    Rule("USE-OVERDRAWN", "lot", "medium", "More administered than received"),
    Rule("USE-TEMPERATURE", "lot", "high", "Unresolved temperature excursion"),
    Rule("RECALL-LOOKBACK-OPEN", "lot", "high", "Recall lookback open"),
    Rule("TRACE-INCOMPLETE", "administration", "high", "Traceability incomplete"),
    Rule("CONTRA-SCREENING-MISSING", "administration", "medium", "No contraindication screening"),
    Rule("CONTRA-PN-FISH-ALLERGY", "administration", "critical", "Fish allergy with a polynucleotide product"),
    Rule("CONTRA-RECORDED", "administration", "high", "Contraindication recorded"),
    Rule("AE-UNREPORTED", "adverse_event", "medium", "Adverse event not reported"),
    Rule("ALERT-EXPIRING", "lot", "info", "Expiring within 30 days", is_alert=True),
    Rule("ALERT-EXPIRED-STOCK", "lot", "info", "Expired stock on hand", is_alert=True),
]

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
COMPLIANCE_CODES: tuple[str, ...] = tuple(r.code for r in _RULES if not r.is_alert)
ALERT_CODES: tuple[str, ...] = tuple(r.code for r in _RULES if r.is_alert)
