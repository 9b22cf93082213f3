"""Rules on products, lots and adverse events, and the alerts: one query per family over all subjects.

The lot family reads each lot's results facts (one row per lot in lot_result_facts, kept by the writers of
results: see domain/result_facts.py), its documents and excursions, and evaluates every lot rule as a bit of
one `flags` column; only flagged lots are returned. `lot_facts` (all lots, every fact) serves the scores.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from ..domain import (
    Administration,
    AdverseEvent,
    Document,
    Lot,
    LotResultFacts,
    Manufacturer,
    Product,
    ProductRegulatoryStatus,
    ProductRoute,
    TemperatureExcursion,
)
from ..domain.exact import Exact, exact_sql, facts_of, plain
from ..domain.vocab import (
    CONTAMINANT_MARKERS,
    DEVICE_ASSISTED_ROUTES,
    HUMAN_DERIVED_SOURCES,
    HUMAN_IN_DESCRIPTION,
    INJECTION_ROUTES,
    NEGATED_HUMAN,
    STATUSES_NEEDING_REFERENCE,
    BiologicalSource,
    DonorUse,
)
from .catalogue import Flag
from .common import (
    Request,
    blank,
    flag,
    flag_mask,
    flags_from_rows,
    label,
    local_day,
    named_rows,
    utc_start_of_local_day,
)
from .use_rules import current_administration

DEFAULT_ENDOTOXIN_MAX = Decimal("0.5")  # EU/mL
DEFAULT_SIZE_MIN_NM, DEFAULT_SIZE_MAX_NM = Decimal("30"), Decimal("150")
DEFAULT_CONCENTRATION_TOLERANCE_PCT = Decimal("20")
AE_REPORT_DAYS = 15
EXPIRING_DAYS = 30

EV_ITEMS = {
    "ev_particles": "particle concentration by a single-particle method (NTA, TRPS or nano-flow)",
    "ev_second_quant": "a second quantification (protein or lipid)",
    "ev_transmembrane": "a transmembrane marker detected (e.g. CD9, CD63, CD81)",
    "ev_cytosolic": "a cytosolic marker detected (e.g. TSG101, ALIX, syntenin)",
    "ev_contaminant_tested": "a contaminant marker tested (e.g. calnexin, GRP94, ApoA1)",
    "ev_imaging": "single-vesicle imaging (TEM, cryo-EM or AFM)",
}
PN_ITEMS = {"pn_dna": "DNA concentration", "pn_mw": "molecular weight"}
SAFETY_ITEMS = {"has_sterility": "sterility", "has_endotoxin": "endotoxin", "has_mycoplasma": "mycoplasma"}

PRODUCT_CODES = (
    "UNDOC-MANUFACTURER",
    "UNDOC-SOURCE",
    "UNDOC-REGULATORY",
    "UNDOC-REG-EVIDENCE",
    "REG-IMPLAUSIBLE-APPROVAL",
    "REG-361-CLAIM",
    "REG-HUMAN-COSMETIC-EU",
)
LOT_CODES = (
    "UNDOC-DONOR",
    "UNDOC-COA",
    "UNDOC-EXPIRY",
    "UNDOC-SUPPLIER",
    "UNDOC-RECEIPT",
    "UNDOC-EV-CHARACTERIZATION",
    "UNDOC-PN-CHARACTERIZATION",
    "UNDOC-SAFETY-TESTS",
    "OOS-STERILITY",
    "OOS-MYCOPLASMA",
    "OOS-ENDOTOXIN",
    "OOS-SIZE",
    "OOS-CONCENTRATION",
    "OOS-CONTAMINANT",
    "USE-OVERDRAWN",
    "USE-TEMPERATURE",
    "RECALL-LOOKBACK-OPEN",
    "ALERT-EXPIRING",
    "ALERT-EXPIRED-STOCK",
)


def _any(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.max(case((condition, 1), else_=0))


def _bit(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def lot_facts(req: Request) -> Any:
    """A select of every lot with its product, results facts and documentation facts (unfiltered)."""
    res = LotResultFacts.__table__
    docs = (
        select(
            Document.lot_id.label("lot_id"),
            _any(Document.kind == "coa").label("coa_doc"),
            _any(Document.kind == "donor_eligibility").label("donor_doc"),
        )
        .where(Document.lot_id.is_not(None))
        .group_by(Document.lot_id)
        .subquery("docs")
    )
    routes = (
        select(
            ProductRoute.product_id.label("product_id"),
            _any(ProductRoute.route.in_(sorted(INJECTION_ROUTES | DEVICE_ASSISTED_ROUTES))).label("invasive"),
        )
        .group_by(ProductRoute.product_id)
        .subquery("routes")
    )
    status = ProductRegulatoryStatus
    return (
        select(
            Lot.id.label("lot_id"),
            Lot.lot_number,
            Lot.expiry_date,
            Lot.supplier_id,
            Lot.coa_ref,
            Lot.donor_eligibility_ref,
            Lot.receipt_temperature_c,
            Lot.package_intact,
            Lot.quantity_received,
            Lot.quantity_administered,
            Lot.quantity_destroyed,
            Lot.status.label("lot_status"),
            Lot.recall_date,
            Lot.labelled_particles_per_ml,
            Product.id.label("product_id"),
            Product.name.label("product_name"),
            Product.product_type,
            Product.source,
            Product.pn_species,
            Product.manufacturer_id,
            Product.donor_use,
            case((human_derived(), 1), else_=0).label("human_derived"),
            case((donor_eligibility_applies(), 1), else_=0).label("donor_applies"),
            Manufacturer.name.label("manufacturer_name"),
            *(limit.label(name) for name, limit in _LIMITS.items()),
            status.status.label("reg_status"),
            status.reference.label("reg_reference"),
            func.coalesce(routes.c.invasive, 0).label("invasive"),
            func.coalesce(docs.c.coa_doc, 0).label("coa_doc"),
            func.coalesce(docs.c.donor_doc, 0).label("donor_doc"),
            *(
                func.coalesce(c, 0).label(c.name)
                for c in res.c
                if c.name.startswith(("ev_", "pn_", "has_", "sterility_", "mycoplasma_", "contaminants_"))
            ),
            res.c.endotoxin_max,
            res.c.size_min,
            res.c.size_max,
            res.c.particles_min,
            res.c.particles_max,
        )
        .select_from(Lot)
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
        .outerjoin(status, and_(status.product_id == Product.id, status.jurisdiction == literal(req.jurisdiction)))
        .outerjoin(routes, routes.c.product_id == Product.id)
        .outerjoin(docs, docs.c.lot_id == Lot.id)
        .outerjoin(res, res.c.lot_id == Lot.id)
    )


def human_derived() -> ColumnElement[bool]:
    """The product's biological source is human-derived: domain.vocab.is_human_derived, in SQL (the negations
    of "human" removed from the description before the word is looked for, as in Python)."""
    described: ColumnElement[Any] = func.lower(Product.source_description)
    for negation in NEGATED_HUMAN:
        described = func.replace(described, negation, "")
    return or_(
        Product.source.in_(sorted(HUMAN_DERIVED_SOURCES)),
        and_(Product.source == BiologicalSource.OTHER.value, described.like(f"%{HUMAN_IN_DESCRIPTION}%")),
    )


def donor_eligibility_applies() -> ColumnElement[bool]:
    """A lot of this product needs donor eligibility: an exosome product of human origin that is not
    autologous (ruling 7, 21 CFR 1271.90(a)(1): the donor is the patient)."""
    return and_(
        Product.product_type == "exosome",
        human_derived(),
        func.coalesce(Product.donor_use, "") != DonorUse.AUTOLOGOUS.value,
    )


def _lot_conditions(req: Request) -> dict[str, ColumnElement[bool]]:
    """Each lot rule as a condition on lot JOIN product LEFT JOIN lot_result_facts (no derived tables).

    Documents and invasive routes are EXISTS lookups on their indexes, reached only when the lot's own
    reference is blank: grouping all documents and routes per run and joining the result cost more."""
    res = LotResultFacts.__table__
    exosome = Product.product_type == "exosome"

    def missing(name: str) -> ColumnElement[bool]:
        return func.coalesce(res.c[name], 0) == 0

    def no_document(kind: str) -> ColumnElement[bool]:
        return ~exists().where(Document.lot_id == Lot.id, Document.kind == kind)

    # Uncorrelated IN lists (built once per query, probed per lot) rather than a subquery run per lot.
    invasive = Product.id.in_(
        select(ProductRoute.product_id).where(ProductRoute.route.in_(sorted(INJECTION_ROUTES | DEVICE_ASSISTED_ROUTES)))
    )
    unresolved = Lot.id.in_(select(TemperatureExcursion.lot_id).where(TemperatureExcursion.resolution.is_(None)))
    unnotified = exists().where(
        Administration.lot_id == Lot.id, current_administration(), Administration.patient_notified_on.is_(None)
    )
    stock = Lot.quantity_received - Lot.quantity_administered - Lot.quantity_destroyed
    # Rounded as stored sums are (domain/exact.py): on SQLite 0.3 - 0.2 - 0.1 is 2.8e-17, which is no stock.
    in_stock = and_(exact_sql(stock) > 0, Lot.status.not_in(("destroyed", "depleted")))
    labelled, tolerance = Lot.labelled_particles_per_ml, _LIMITS["tolerance_pct"]
    return {
        "UNDOC-DONOR": and_(
            donor_eligibility_applies(), blank(Lot.donor_eligibility_ref), no_document("donor_eligibility")
        ),
        "UNDOC-COA": and_(blank(Lot.coa_ref), no_document("coa")),
        "UNDOC-EXPIRY": Lot.expiry_date.is_(None),
        "UNDOC-SUPPLIER": Lot.supplier_id.is_(None),
        "UNDOC-RECEIPT": or_(Lot.receipt_temperature_c.is_(None), Lot.package_intact.is_(None)),
        "UNDOC-EV-CHARACTERIZATION": and_(exosome, or_(*(missing(item) for item in EV_ITEMS))),
        "UNDOC-PN-CHARACTERIZATION": and_(
            Product.product_type == "polynucleotide", or_(missing("pn_dna"), missing("pn_mw"))
        ),
        "UNDOC-SAFETY-TESTS": and_(
            or_(missing("has_sterility"), missing("has_endotoxin"), and_(exosome, missing("has_mycoplasma"))), invasive
        ),
        # A lot without a facts row has no result: NULL compares false, as coalesce(.., 0) did.
        "OOS-STERILITY": res.c.sterility_fail == 1,
        "OOS-MYCOPLASMA": res.c.mycoplasma_positive == 1,
        "OOS-ENDOTOXIN": res.c.endotoxin_max > _LIMITS["endotoxin_limit"],
        "OOS-SIZE": and_(exosome, or_(res.c.size_min < _LIMITS["size_low"], res.c.size_max > _LIMITS["size_high"])),
        "OOS-CONCENTRATION": and_(
            labelled.is_not(None),
            # Multiplied out rather than divided by 100: exact in doubles for the integral counts labels carry.
            or_(
                (labelled - res.c.particles_min) * 100 > labelled * tolerance,
                (res.c.particles_max - labelled) * 100 > labelled * tolerance,
            ),
        ),
        "OOS-CONTAMINANT": res.c.contaminants_detected != 0,
        "USE-OVERDRAWN": Lot.quantity_administered > Lot.quantity_received,
        "USE-TEMPERATURE": unresolved,
        "RECALL-LOOKBACK-OPEN": and_(or_(Lot.status == "recalled", Lot.recall_date.is_not(None)), unnotified),
        "ALERT-EXPIRING": and_(
            in_stock, Lot.expiry_date >= _plus(req, 0), Lot.expiry_date <= _plus(req, EXPIRING_DAYS)
        ),
        "ALERT-EXPIRED-STOCK": and_(in_stock, Lot.expiry_date < _plus(req, 0)),
    }


# The product's specification limits, defaulted (rules.md).
# Typed literals: NUMERIC on PostgreSQL (a float8 default would turn the comparison into doubles there).
_LIMITS: dict[str, ColumnElement[Any]] = {
    "endotoxin_limit": func.coalesce(Product.spec_endotoxin_max, literal(DEFAULT_ENDOTOXIN_MAX, Exact)),
    "size_low": func.coalesce(Product.spec_size_min_nm, literal(DEFAULT_SIZE_MIN_NM, Exact)),
    "size_high": func.coalesce(Product.spec_size_max_nm, literal(DEFAULT_SIZE_MAX_NM, Exact)),
    "tolerance_pct": func.coalesce(
        Product.spec_concentration_tolerance_pct, literal(DEFAULT_CONCENTRATION_TOLERANCE_PCT, Exact)
    ),
}


def _plus(req: Request, days: int) -> Any:
    return bindparam(f"today_plus_{days}", req.today + timedelta(days=days), type_=Date, unique=True)


def lot_flags(req: Request) -> list[Flag]:
    codes = [code for code in LOT_CODES if code in req.codes]
    if not codes:
        return []
    res = LotResultFacts.__table__
    conditions = _lot_conditions(req)
    wanted = {code: conditions[code] for code in codes}
    # Only flagged lots, and only the columns the messages read (result flags uncoalesced: a missing facts
    # row reads as None, which the messages treat as not done, like 0).
    # Exact columns are read as the driver gives them (no per-value conversion of ~50k flagged rows): the
    # messages print them with plain() and the facts with facts_of(), both exact from a double or a Decimal.
    query = (
        select(
            Lot.id.label("subject_id"),
            flag_mask(wanted),
            Lot.id.label("lot_id"),
            Lot.lot_number,
            Product.id.label("product_id"),
            Product.name.label("product_name"),
            Product.product_type,
            Lot.receipt_temperature_c,
            type_coerce(Lot.package_intact, Integer).label("package_intact"),
            _raw(Lot.quantity_received, "quantity_received"),
            _raw(Lot.quantity_administered, "quantity_administered"),
            type_coerce(Lot.expiry_date, String).label("expiry"),
            _raw(Lot.labelled_particles_per_ml, "labelled_particles_per_ml"),
            *(res.c[name] for name in (*EV_ITEMS, *PN_ITEMS, *SAFETY_ITEMS)),
            res.c.contaminants_detected,
            *(
                _raw(res.c[name], name)
                for name in ("endotoxin_max", "size_min", "size_max", "particles_min", "particles_max")
            ),
            *(_raw(limit, name) for name, limit in _LIMITS.items()),
        )
        .select_from(Lot)
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(res, res.c.lot_id == Lot.id)
        .where(or_(*wanted.values()), *req.id_filter(Lot.id))
    )
    messages = {code: partial(_lot_message, code) for code in codes}
    return flags_from_rows(req, named_rows(req.rows(query)), codes, messages, facts=LOT_FACTS)


def _raw(column: Any, name: str) -> Any:
    return type_coerce(column, Float).label(name)


# A value as recorded, never rounded across a limit (rules.md): 150.4 nm against 30-150 nm reads 150.4 nm.
_num = plain


def _compared(*names: str) -> Any:
    """The facts of a rule: the row's values of these columns (see Flag.facts)."""

    def facts(row: Any) -> str:
        return facts_of(*(getattr(row, name) for name in names))

    return facts


# What each lot rule compares: its waiver ends when one of these changes, and only then.
LOT_FACTS = {
    "UNDOC-RECEIPT": lambda row: facts_of(row.receipt_temperature_c is None, row.package_intact is None),
    "UNDOC-EV-CHARACTERIZATION": _compared(*EV_ITEMS),
    "UNDOC-PN-CHARACTERIZATION": _compared(*PN_ITEMS),
    "UNDOC-SAFETY-TESTS": _compared(*SAFETY_ITEMS),
    "OOS-ENDOTOXIN": _compared("endotoxin_max", "endotoxin_limit"),
    "OOS-SIZE": _compared("size_min", "size_max", "size_low", "size_high"),
    "OOS-CONCENTRATION": _compared("labelled_particles_per_ml", "particles_min", "particles_max", "tolerance_pct"),
    "OOS-CONTAMINANT": _compared("contaminants_detected"),
    "USE-OVERDRAWN": _compared("quantity_administered", "quantity_received"),
    "ALERT-EXPIRING": _compared("expiry"),
    "ALERT-EXPIRED-STOCK": _compared("expiry"),
}


def _lot_message(code: str, row: Any) -> str:
    lot = f"Lot {row.lot_number}"
    if code == "UNDOC-DONOR":
        return (
            f"{lot} is of a human-derived product but has no donor-eligibility reference or document. Ask the "
            "supplier for the donor screening and testing record and attach it."
        )
    if code == "UNDOC-COA":
        return f"{lot} has no certificate of analysis. Obtain the CoA for this lot and attach or reference it."
    if code == "UNDOC-EXPIRY":
        return f"{lot} has no expiry date. Record the expiry date from the label."
    if code == "UNDOC-SUPPLIER":
        return f"{lot} has no supplier recorded. Record who supplied it, for traceability and recalls."
    if code == "UNDOC-RECEIPT":
        missing = [
            name
            for name, value in (
                ("temperature reading", row.receipt_temperature_c),
                ("package-integrity check", row.package_intact),
            )
            if value is None
        ]
        return f"{lot} was received without a {' or '.join(missing)}. Record the receipt check."
    if code == "UNDOC-EV-CHARACTERIZATION":
        missing = [text for item, text in EV_ITEMS.items() if not getattr(row, item)]
        return (
            f"{lot} lacks MISEV2018 minimal characterization: {'; '.join(missing)}. Ask the manufacturer "
            "for these results."
        )
    if code == "UNDOC-PN-CHARACTERIZATION":
        missing = [text for item, text in PN_ITEMS.items() if not getattr(row, item)]
        return f"{lot} has no {' and no '.join(missing)} result. Ask the manufacturer for these results."
    if code == "UNDOC-SAFETY-TESTS":
        items = ("has_sterility", "has_endotoxin") + (("has_mycoplasma",) if row.product_type == "exosome" else ())
        missing = [SAFETY_ITEMS[item] for item in items if not getattr(row, item)]
        return (
            f"{lot} is labelled for an injection or device-assisted route but has no {', no '.join(missing)} "
            "result. Do not use it until the results are on file."
        )
    if code == "OOS-STERILITY":
        return f"{lot} failed sterility testing. Quarantine it and do not use it; contact the supplier."
    if code == "OOS-MYCOPLASMA":
        return f"{lot} tested positive for mycoplasma. Quarantine it and do not use it; contact the supplier."
    if code == "OOS-ENDOTOXIN":
        return (
            f"{lot} endotoxin {_num(row.endotoxin_max)} EU/mL is above the limit of "
            f"{_num(row.endotoxin_limit)} EU/mL. Quarantine it and ask the supplier."
        )
    if code == "OOS-SIZE":
        worst = row.size_max if row.size_max is not None and row.size_max > row.size_high else row.size_min
        return (
            f"{lot} vesicle size mode {_num(worst)} nm is outside {_num(row.size_low)}-{_num(row.size_high)} "
            "nm. Ask the manufacturer whether the lot is within its specification."
        )
    if code == "OOS-CONCENTRATION":
        labelled = row.labelled_particles_per_ml
        worst = row.particles_min if labelled - row.particles_min > row.particles_max - labelled else row.particles_max
        return (
            f"{lot} measured {_num(worst)} particles/mL against a labelled {_num(labelled)} (tolerance "
            f"±{_num(row.tolerance_pct)} %). Ask the manufacturer to explain the difference."
        )
    if code == "OOS-CONTAMINANT":
        found = [m for i, m in enumerate(CONTAMINANT_MARKERS) if row.contaminants_detected >> i & 1]
        return (
            f"{lot} has contaminant marker(s) detected: {', '.join(found)}. The preparation is not pure; "
            "ask the manufacturer."
        )
    if code == "USE-OVERDRAWN":
        return (
            f"{lot}: {_num(row.quantity_administered)} administered but only {_num(row.quantity_received)} "
            "received. Check the administrations and the receipt records."
        )
    if code == "USE-TEMPERATURE":
        return (
            f"{lot} has an unresolved temperature excursion. Decide whether to use, quarantine or destroy "
            "it, and record the decision."
        )
    if code == "RECALL-LOOKBACK-OPEN":
        return (
            f"{lot} is recalled and some patients who received it are not marked notified. Notify them and "
            "record the date."
        )
    if code == "ALERT-EXPIRING":
        return f"{lot} expires on {row.expiry} with stock remaining. Use it first or plan its disposal."
    if code == "ALERT-EXPIRED-STOCK":
        return f"{lot} expired on {row.expiry} but stock remains. Remove it from use and destroy it."
    raise KeyError(code)


def product_flags(req: Request) -> list[Flag]:
    codes = [code for code in PRODUCT_CODES if code in req.codes]
    if not codes:
        return []
    status = ProductRegulatoryStatus

    def status_in(jurisdiction: str, values: tuple[str, ...]) -> ColumnElement[bool]:
        return exists().where(
            status.product_id == Product.id, status.jurisdiction == jurisdiction, status.status.in_(values)
        )

    exosome = Product.product_type == "exosome"
    conditions = {
        "UNDOC-MANUFACTURER": or_(
            Product.manufacturer_id.is_(None), func.lower(func.trim(Manufacturer.name)) == "unknown"
        ),
        "UNDOC-SOURCE": or_(
            and_(
                exosome,
                or_(
                    Product.source.is_(None),
                    Product.source == "unknown",
                    and_(Product.source == "other", blank(Product.source_description)),
                ),
            ),
            and_(
                Product.product_type == "polynucleotide",
                or_(Product.pn_species.is_(None), Product.pn_species == "unknown"),
            ),
        ),
        "REG-IMPLAUSIBLE-APPROVAL": and_(exosome, status_in("US", ("approved_biologic",))),
        "REG-361-CLAIM": and_(
            exosome, exists().where(status.product_id == Product.id, status.status == "hctp_361_claim")
        ),
        "REG-HUMAN-COSMETIC-EU": and_(exosome, human_derived(), status_in("EU", ("cosmetic",))),
    }
    jur_status = (
        select(status.product_id, status.status, status.reference)
        .where(status.jurisdiction == req.jurisdiction)
        .subquery("jur")
    )
    conditions["UNDOC-REGULATORY"] = or_(jur_status.c.status.is_(None), jur_status.c.status == "unknown")
    conditions["UNDOC-REG-EVIDENCE"] = and_(
        jur_status.c.status.in_(sorted(STATUSES_NEEDING_REFERENCE)), blank(jur_status.c.reference)
    )
    wanted = {code: conditions[code] for code in codes}
    query = (
        select(
            Product.id.label("subject_id"),
            flag_mask(wanted),
            Product.id.label("product_id"),
            Product.name.label("product_name"),
            null().label("lot_id"),
            null().label("lot_number"),
            Product.product_type,
            jur_status.c.status.label("reg_status"),
        )
        .select_from(Product)
        .outerjoin(Manufacturer, Manufacturer.id == Product.manufacturer_id)
        .outerjoin(jur_status, jur_status.c.product_id == Product.id)
        .where(or_(*wanted.values()), *req.id_filter(Product.id))
    )
    messages = {code: partial(_product_message, code, req=req) for code in codes}
    status_facts = {"UNDOC-REGULATORY": _compared("reg_status"), "UNDOC-REG-EVIDENCE": _compared("reg_status")}
    return flags_from_rows(req, named_rows(req.rows(query)), codes, messages, facts=status_facts)


def _product_message(code: str, row: Any, *, req: Request) -> str:
    name = row.product_name
    if code == "UNDOC-MANUFACTURER":
        return f"{name}: the manufacturer is unknown. Record who makes it (from the label or the supplier)."
    if code == "UNDOC-SOURCE":
        what = "biological source" if row.product_type == "exosome" else "source species"
        return f"{name}: the {what} is not documented. Ask the manufacturer what it is made from and record it."
    if code == "UNDOC-REGULATORY":
        state = "is recorded as unknown" if row.reg_status == "unknown" else "is not recorded"
        return (
            f"{name}: its regulatory status in {req.jurisdiction} {state}. Establish and record its legal "
            "status before use."
        )
    if code == "UNDOC-REG-EVIDENCE":
        return (
            f"{name}: status '{label(row.reg_status)}' in {req.jurisdiction} has no reference number. Record "
            "the approval, registration or IND number and attach the evidence."
        )
    if code == "REG-IMPLAUSIBLE-APPROVAL":
        return (
            f"{name}: recorded as an approved biologic in the US, but FDA has stated that no exosome product "
            "is approved. Verify the record and the product's claims."
        )
    if code == "REG-361-CLAIM":
        return (
            f"{name}: the supplier claims a 361 HCT/P exemption, but secreted cell products such as exosomes "
            "are outside the HCT/P definition (21 CFR 1271.3(d)). Do not inject it on that basis."
        )
    if code == "REG-HUMAN-COSMETIC-EU":
        return (
            f"{name}: a human-derived exosome product recorded as a cosmetic in the EU, where cosmetics may "
            "not contain human cells or tissues. Verify its status."
        )
    raise KeyError(code)


def adverse_event_flags(req: Request) -> list[Flag]:
    if "AE-UNREPORTED" not in req.codes:
        return []
    # Recorded before the local day AE_REPORT_DAYS ago began (recorded_at is UTC; the days are the site's).
    cutoff = bindparam("ae_cutoff", utc_start_of_local_day(req.today - timedelta(days=AE_REPORT_DAYS)), type_=DateTime)
    query = (
        select(
            AdverseEvent.id.label("subject_id"),
            AdverseEvent.event_type,
            AdverseEvent.recorded_at,
            Lot.id.label("lot_id"),
            Lot.lot_number,
            Product.id.label("product_id"),
            Product.name.label("product_name"),
        )
        .select_from(AdverseEvent)
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(
            AdverseEvent.report_status == "not_reported",
            AdverseEvent.recorded_at < cutoff,
            *req.id_filter(AdverseEvent.id),
        )
    )
    return [
        flag(
            "AE-UNREPORTED",
            row.subject_id,
            row,
            f"Adverse event ({label(row.event_type)}) recorded on {local_day(row.recorded_at).isoformat()} is not "
            f"reported after more than {AE_REPORT_DAYS} days. Report it to the manufacturer or the regulator, "
            "or record why it is not reportable.",
        )
        for row in req.rows(query)
        if req.keep(row.subject_id)
    ]
