"""Rules whose subject is an administration, evaluated in one query over all current administrations.

Each condition is a bit of one `flags` column of the query; the WHERE keeps only administrations where at
least one holds, so the rows returned are the flagged ones and Python only words the messages. The columns
of the rarer messages and the product facts are read apart, by key (see administration_flags).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, func, literal, or_, select, tuple_, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from ..domain import Administration, Lot, Product, ProductRegulatoryStatus, ProductRoute
from ..domain.exact import facts_of
from ..domain.vocab import DEVICE_ASSISTED_ROUTES, INJECTION_ROUTES, ProductType
from .catalogue import Flag
from .common import (
    MAX_SQL_IDS,
    Labels,
    Message,
    Request,
    blank,
    flag_mask,
    flags_from_rows,
    label,
    list_contains,
    local_date,
    named_rows,
    present,
    split_list,
)

ADMINISTRATION_CODES = (
    "REG-COSMETIC-INJECTED",
    "REG-RUO-ADMINISTERED",
    "REG-UNAUTHORIZED-INJECTED",
    "REG-COSMETIC-DEVICE-ASSISTED",
    "REG-OFF-LABEL-ROUTE",
    "USE-EXPIRED",
    "USE-NOT-RELEASED",
    "USE-RECALLED",
    "TRACE-INCOMPLETE",
    "CONTRA-SCREENING-MISSING",
    "CONTRA-PN-FISH-ALLERGY",
    "CONTRA-RECORDED",
)

# Statuses under which an injection is unauthorised outright (a missing status counts too).
UNAUTHORIZED_FOR_INJECTION = ("not_authorized", "unknown", "hctp_361_claim")


def current_administration() -> ColumnElement[bool]:
    """Rules read only current rows: not superseded by an amendment and not voided."""
    return and_(Administration.superseded.is_(False), Administration.voided_at.is_(None))


def _conditions(req: Request) -> dict[str, ColumnElement[bool]]:
    status = ProductRegulatoryStatus.status
    given_on = local_date(Administration.administered_at)
    injected = Administration.route.in_(sorted(INJECTION_ROUTES))
    return {
        # Product-level tests before route lists: most administrations fail them first (AND/OR commute).
        "REG-COSMETIC-INJECTED": and_(status == "cosmetic", injected),
        "REG-RUO-ADMINISTERED": status == "research_use_only",
        # Investigational use needs the trial reference whatever the route (ruling 5); the other statuses
        # only forbid injection.
        "REG-UNAUTHORIZED-INJECTED": or_(
            and_(or_(status.is_(None), status.in_(UNAUTHORIZED_FOR_INJECTION)), injected),
            and_(status == "investigational", blank(Administration.ind_reference)),
        ),
        "REG-COSMETIC-DEVICE-ASSISTED": and_(
            status == "cosmetic", Administration.route.in_(sorted(DEVICE_ASSISTED_ROUTES))
        ),
        "USE-EXPIRED": and_(Lot.expiry_date.is_not(None), given_on > Lot.expiry_date),
        "USE-NOT-RELEASED": or_(
            Lot.status == "quarantine",
            and_(Lot.status == "rejected", Lot.released_on.is_(None)),
            # Rejected after release (and perhaps destroyed since): from the day of the rejection.
            and_(Lot.rejected_on.is_not(None), given_on >= Lot.rejected_on),
            and_(Lot.released_on.is_not(None), given_on < Lot.released_on),
        ),
        # From the recall's moment: a date alone from the start of its day; on the day of a recall from a
        # time, an administration recorded earlier that day was before it. One recorded with a date alone
        # on that day cannot be shown to be earlier, so it counts (the cautious reading).
        "USE-RECALLED": and_(
            Lot.recall_date.is_not(None),
            given_on >= Lot.recall_date,
            or_(
                Lot.recall_at.is_(None),
                given_on > Lot.recall_date,
                Administration.administered_at >= Lot.recall_at,
                Administration.time_recorded.is_(False),
            ),
        ),
        "TRACE-INCOMPLETE": or_(
            blank(Administration.patient_ref), blank(Administration.practitioner), Administration.quantity.is_(None)
        ),
        "CONTRA-SCREENING-MISSING": and_(
            or_(Administration.screening_done.is_(None), Administration.screening_done.is_(False)),
            blank(Administration.contraindications),
        ),
        "CONTRA-PN-FISH-ALLERGY": and_(
            Product.product_type == ProductType.POLYNUCLEOTIDE.value,
            list_contains(Administration.contraindications, "fish_allergy"),
        ),
        # Anything recorded other than the fish allergy that CONTRA-PN-FISH-ALLERGY reports for PN products.
        "CONTRA-RECORDED": and_(
            present(Administration.contraindications),
            or_(
                Product.product_type != ProductType.POLYNUCLEOTIDE.value,
                # Something besides the fish allergy (given once or repeated, with any separators).
                func.trim(func.replace(func.replace(Administration.contraindications, "fish_allergy", ""), ";", ""))
                != "",
            ),
        ),
    }


def administration_flags(req: Request) -> list[Flag]:
    codes = [code for code in ADMINISTRATION_CODES if code in req.codes]
    if not codes:
        return []
    conditions = _conditions(req)
    # Uncorrelated IN lists, built once per query and probed per row (route and the key columns are NOT NULL,
    # so NOT IN is NOT EXISTS). A LEFT JOIN on a per-product count and on the route made SQLite pick a plan
    # three times slower than the rest of the query; correlated EXISTS ran a subquery per administration.
    conditions["REG-OFF-LABEL-ROUTE"] = and_(
        Product.id.in_(select(ProductRoute.product_id)),
        tuple_(Product.id, Administration.route).not_in(select(ProductRoute.product_id, ProductRoute.route)),
    )
    wanted = {code: conditions[code] for code in codes}
    # Only what most messages and the Flag need (dates as ISO date text on SQLite, no parsing); product facts
    # and the columns of the rarer messages are read apart (`_products`, `_details`): fetching them on all
    # ~80k flagged rows of a large registry was a third of the query's time.
    query = (
        select(
            Administration.id.label("subject_id"),
            flag_mask(wanted),
            type_coerce(local_date(Administration.administered_at), String).label("given_on"),
            Administration.route,
            Lot.id.label("lot_id"),
            Lot.lot_number,
            Product.id.label("product_id"),
        )
        .select_from(Administration)
        .join(Lot, Lot.id == Administration.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(
            ProductRegulatoryStatus,
            and_(
                ProductRegulatoryStatus.product_id == Product.id,
                ProductRegulatoryStatus.jurisdiction == literal(req.jurisdiction),
            ),
        )
        .where(current_administration(), or_(*wanted.values()), *req.id_filter(Administration.id))
    )
    rows = named_rows(req.rows(query))
    products = _products(req)
    detailed = sum(1 << i for i, code in enumerate(codes) if code in DETAILED_CODES)
    details = _details(req, sorted({row.subject_id for row in rows if row.flags & detailed}))
    names = {product_id: product.name for product_id, product in products.items()}
    return flags_from_rows(
        req, rows, codes, _messages(req, products, details), product_names=names, facts=_facts(products, details)
    )


def _facts(products: dict[int, Any], details: dict[int, Any]) -> dict[str, Message]:
    """What each administration rule compares (Flag.facts): a waiver ends when one of these changes."""

    def status_route(row: Any) -> str:
        return facts_of(products[row.product_id].reg_status, row.route)

    def lot_facts(*names: str) -> Message:
        return lambda row: facts_of(row.given_on, *(getattr(details[row.subject_id], n) for n in names))

    def trace(row: Any) -> str:
        record = details[row.subject_id]
        return facts_of(
            not (record.patient_ref or "").strip(), not (record.practitioner or "").strip(), record.quantity is None
        )

    return {
        "REG-COSMETIC-INJECTED": status_route,
        "REG-RUO-ADMINISTERED": status_route,
        "REG-UNAUTHORIZED-INJECTED": status_route,
        "REG-COSMETIC-DEVICE-ASSISTED": status_route,
        "REG-OFF-LABEL-ROUTE": lambda row: facts_of(row.route),
        "USE-EXPIRED": lot_facts("expiry"),
        "USE-NOT-RELEASED": lot_facts("lot_status", "released_on", "rejected_on"),
        "USE-RECALLED": lot_facts("recalled_on", "recall_at"),
        "TRACE-INCOMPLETE": trace,
        "CONTRA-RECORDED": lambda row: facts_of(details[row.subject_id].contraindications),
    }


# Codes whose messages read the administration's record or its lot beyond the date and route.
DETAILED_CODES = frozenset({"USE-EXPIRED", "USE-NOT-RELEASED", "USE-RECALLED", "TRACE-INCOMPLETE", "CONTRA-RECORDED"})


def _products(req: Request) -> dict[int, Any]:
    """Product id -> its name, type and regulatory status in the jurisdiction (a registry has few products)."""
    status = ProductRegulatoryStatus
    query = select(Product.id, Product.name, Product.product_type, status.status.label("reg_status")).outerjoin(
        status, and_(status.product_id == Product.id, status.jurisdiction == literal(req.jurisdiction))
    )
    return {row.id: row for row in named_rows(req.rows(query))}


def _details(req: Request, ids: list[int]) -> dict[int, Any]:
    """Administration id -> the columns of the DETAILED_CODES messages, read by primary key per MAX_SQL_IDS."""
    details: dict[int, Any] = {}
    for start in range(0, len(ids), MAX_SQL_IDS):
        query = (
            select(
                Administration.id,
                Administration.patient_ref,
                Administration.practitioner,
                Administration.quantity,
                Administration.contraindications,
                type_coerce(Lot.expiry_date, String).label("expiry"),
                Lot.status.label("lot_status"),
                type_coerce(Lot.recall_date, String).label("recalled_on"),
                Lot.recall_at,
                type_coerce(Lot.released_on, String).label("released_on"),
                type_coerce(Lot.rejected_on, String).label("rejected_on"),
            )
            .join(Lot, Lot.id == Administration.lot_id)
            .where(Administration.id.in_(ids[start : start + MAX_SQL_IDS]))
        )
        details.update((row.id, row) for row in named_rows(req.rows(query)))
    return details


def _when(row: Any) -> object:
    # given_on is ISO date text on SQLite and a date on PostgreSQL: both print as YYYY-MM-DD, both are truthy.
    return row.given_on or "an unknown date"


def _recalled_from(lot: Any) -> str:
    """The recall's moment as it was given: a date, or a date and time."""
    if lot.recall_at is None:
        return str(lot.recalled_on)
    recall_at: datetime = lot.recall_at
    return recall_at.isoformat(sep=" ", timespec="minutes")


def _status_text(reg_status: str | None, req: Request) -> str:
    if reg_status is None:
        return f"has no regulatory status recorded for {req.jurisdiction}"
    return f"is '{_STATUSES[reg_status]}' in {req.jurisdiction}"


_ROUTES, _STATUSES = Labels(), Labels()


def _given(row: Any) -> str:
    return f"Administered on {row.given_on or 'an unknown date'} by the {_ROUTES[row.route]} route"


def _messages(req: Request, products: dict[int, Any], details: dict[int, Any]) -> dict[str, Message]:
    """Code -> the wording of its flag from a row: one function per code, looked up once per distinct mask.
    `products` and `details` hold what the row does not (see administration_flags)."""
    where = req.jurisdiction

    def unauthorized(row: Any) -> str:
        reg_status = products[row.product_id].reg_status
        if reg_status == "investigational":
            return (
                f"{_given(row)} under an investigational status, but no IND/CTA reference is recorded on the "
                "administration. Record the trial reference, or stop using it outside the trial."
            )
        return (
            f"{_given(row)}, but the product {_status_text(reg_status, req)}, which does not authorise injection. "
            "Stop injecting it, or record the approval that allows it."
        )

    def not_released(row: Any) -> str:
        lot = details[row.subject_id]
        state = "rejected" if lot.lot_status == "rejected" else "not yet released (quarantine)"
        if lot.released_on is not None and lot.lot_status not in ("quarantine", "rejected"):
            rejected_since = lot.rejected_on is not None and row.given_on >= lot.rejected_on
            state = "rejected" if rejected_since else f"not yet released (released on {lot.released_on})"
        return (
            f"Administered on {_when(row)} while lot {row.lot_number} was {state}. Only released lots may be "
            "used: have the medical director review the lot and this administration."
        )

    def trace(row: Any) -> str:
        record = details[row.subject_id]
        missing = [
            name
            for name, value in (("patient reference", record.patient_ref), ("practitioner", record.practitioner))
            if not (value or "").strip()
        ]
        if record.quantity is None:
            missing.append("quantity")
        return (
            f"The administration of {_when(row)} has no {', no '.join(missing)}: it cannot be traced in a "
            "recall. Complete the record."
        )

    def recorded(row: Any) -> str:
        pn = products[row.product_id].product_type == ProductType.POLYNUCLEOTIDE.value
        found = [
            label(item)
            for item in split_list(details[row.subject_id].contraindications)
            if not (item == "fish_allergy" and pn)
        ]
        return (
            f"Administered on {_when(row)} although screening recorded: {', '.join(found)}. Document why "
            "the treatment went ahead, or review the patient."
        )

    return {
        "REG-COSMETIC-INJECTED": lambda row: (
            f"{_given(row)}, but the product is registered only as a cosmetic in {where}: cosmetics are for "
            "external use and may not be injected. Stop injecting it and review the patient."
        ),
        "REG-RUO-ADMINISTERED": lambda row: (
            f"Administered on {_when(row)} although the product is labelled research use only in {where}: it is "
            "not for human use. Stop using it and review the patient."
        ),
        "REG-UNAUTHORIZED-INJECTED": unauthorized,
        "REG-COSMETIC-DEVICE-ASSISTED": lambda row: (
            f"{_given(row)}: a cosmetic applied after a skin-breaching device reaches beyond intact skin. Check "
            "the manufacturer's instructions and document the clinical justification."
        ),
        "REG-OFF-LABEL-ROUTE": lambda row: (
            f"{_given(row)}, which is not among the product's labelled routes. Use a labelled route, or document "
            "the medical director's off-label decision."
        ),
        "USE-EXPIRED": lambda row: (
            f"Administered on {_when(row)} from lot {row.lot_number}, which expired on "
            f"{details[row.subject_id].expiry}. Review the patient and remove expired stock from use."
        ),
        "USE-NOT-RELEASED": not_released,
        "USE-RECALLED": lambda row: (
            f"Administered on {_when(row)} from lot {row.lot_number}, recalled from "
            f"{_recalled_from(details[row.subject_id])}. Notify the patient and record the follow-up."
        ),
        "TRACE-INCOMPLETE": trace,
        "CONTRA-SCREENING-MISSING": lambda row: (
            f"No contraindication screening is recorded for the administration of {_when(row)}. Record the "
            "screening (or that none was found)."
        ),
        "CONTRA-PN-FISH-ALLERGY": lambda row: (
            f"Polynucleotide (fish-derived DNA) administered on {_when(row)} to a patient screened with a fish "
            "allergy. Review the patient for hypersensitivity and record the medical director's decision."
        ),
        "CONTRA-RECORDED": recorded,
    }
