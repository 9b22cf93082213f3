"""Flags for the GUI, the reports and the CLI: all of them or one subject's, counts, completeness scores,
and the medical director's signed waiver of one flag on one subject."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from registry_app.domain import Administration, AdverseEvent, Lot, Product, Waiver, utcnow
from registry_app.domain.vocab import SEVERITY_RANK, SignatureMeaning
from registry_app.reports.data import Pseudonym
from registry_app.rules import ALERT_CODES, COMPLIANCE_CODES, RULES, Flag, evaluate_alerts, evaluate_flags
from registry_app.rules import score as scoring
from registry_app.rules.table_read import iter_stored_flags, stored_counts, stored_flags
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord
from registry_app.services.auth import add_signature, reauthenticate
from registry_app.services.clock import SiteClock, site_today
from registry_app.services.context import DIRECTOR, READERS, ServiceContext, changing, jurisdiction
from registry_app.services.errors import ConflictError, NotFound, ValidationError
from registry_app.services.flag_table import table_answers

SUBJECT_TYPES = ("product", "lot", "administration", "adverse_event")


def subject_names(session: Any, flags: list[Flag], clock: SiteClock, shown: Pseudonym) -> dict[tuple[str, int], str]:
    """Readable names for the subjects of these flags, a query per subject type (issue 20.7: "PLN24-0001",
    "PT-00412, 2026-11-03 14:05 KST (lot PLN24-0001)", not "Lot 22" or "Administration 72"); patients as `shown`
    gives them (an inspector sees pseudonyms)."""
    from registry_app.domain import Administration, AdverseEvent, Lot, Product

    wanted: dict[str, set[int]] = {}
    for flag in flags:
        wanted.setdefault(flag.subject_type, set()).add(flag.subject_id)
    names: dict[tuple[str, int], str] = {}

    def administration(patient: str | None, given: Any, number: str) -> str:
        return f"{shown(patient) or 'no patient reference'}, {clock.show_local(given)} (lot {number})"

    if ids := wanted.get("lot"):
        for lot_id, number in session.execute(select(Lot.id, Lot.lot_number).where(Lot.id.in_(ids))):
            names[("lot", lot_id)] = number
    if ids := wanted.get("product"):
        for product_id, name in session.execute(select(Product.id, Product.name).where(Product.id.in_(ids))):
            names[("product", product_id)] = name
    if ids := wanted.get("administration"):
        for row_id, patient, given, number in session.execute(
            select(Administration.id, Administration.patient_ref, Administration.administered_at, Lot.lot_number)
            .join(Lot, Lot.id == Administration.lot_id)
            .where(Administration.id.in_(ids))
        ):
            names[("administration", row_id)] = administration(patient, given, number)
    if ids := wanted.get("adverse_event"):
        for row_id, onset, patient, given, number in session.execute(
            select(
                AdverseEvent.id,
                AdverseEvent.onset_date,
                Administration.patient_ref,
                Administration.administered_at,
                Lot.lot_number,
            )
            .join(Administration, Administration.id == AdverseEvent.administration_id)
            .join(Lot, Lot.id == Administration.lot_id)
            .where(AdverseEvent.id.in_(ids))
        ):
            onset_text = f"event of {onset}" if onset else "event"
            names[("adverse_event", row_id)] = f"{onset_text} after {administration(patient, given, number)}"
    return names


@dataclass(frozen=True)
class FlagCounts:
    by_severity: dict[str, int]
    by_code: dict[str, int]
    total: int
    waived: int


def _today(ctx: ServiceContext, today: date | None) -> date:
    return today or site_today(ctx)


def validate_filters(min_severity: str | None, codes: Collection[str] | None) -> None:
    errors = []
    if min_severity is not None and min_severity not in SEVERITY_RANK:
        errors.append(f"min_severity: {min_severity!r} is not a severity; use one of {', '.join(SEVERITY_RANK)}")
    for code in codes or ():
        if code not in RULES or code in ALERT_CODES:
            errors.append(f"code: {code!r} is not a flag code (see rules.md)")
    if errors:
        from registry_app.services.errors import FieldError

        raise ValidationError([FieldError(e.split(":")[0], e.split(": ", 1)[1]) for e in errors])


def list_flags(
    ctx: ServiceContext,
    *,
    min_severity: str | None = None,
    codes: Collection[str] | None = None,
    include_waived: bool = True,
    today: date | None = None,
) -> list[Flag]:
    """The current compliance flags, highest severity first; filters by minimum severity and codes."""
    ctx.require(READERS, "see flags")
    validate_filters(min_severity, codes)
    with ctx.db.read() as session:
        if table_answers(session, ctx):
            stored = stored_flags(
                session, _today(ctx, today), codes=codes, min_rank=_floor(min_severity), include_waived=include_waived
            )
            return list(site_scope.flags_in_scope(session, ctx, stored))
        flags = evaluate_flags(
            session, jurisdiction(session, ctx), _today(ctx, today), codes=list(codes) if codes else None
        )
        flags = list(site_scope.flags_in_scope(session, ctx, flags))
    return filter_flags(flags, min_severity=min_severity, include_waived=include_waived)


def _floor(min_severity: str | None) -> int | None:
    return SEVERITY_RANK[min_severity] if min_severity else None


def filter_flags(
    flags: list[Flag],
    *,
    min_severity: str | None = None,
    codes: Collection[str] | None = None,
    include_waived: bool = True,
) -> list[Flag]:
    """The flags at or above a severity, of these codes, waived ones left out unless included: for a list
    already evaluated (the desktop's flags page evaluates once and narrows as the filters change)."""
    validate_filters(min_severity, codes)
    floor = SEVERITY_RANK[min_severity] if min_severity else -1
    wanted = frozenset(codes) if codes else None
    return [
        f
        for f in flags
        if f.rank >= floor and (include_waived or not f.waived) and (wanted is None or f.code in wanted)
    ]


def flags_for_subject(ctx: ServiceContext, subject_type: str, subject_id: int, today: date | None = None) -> list[Flag]:
    """The flags on one product, lot, administration or adverse event (not those of its lots or uses)."""
    ctx.require(READERS, "see flags")
    if subject_type not in SUBJECT_TYPES:
        raise ValidationError(
            f"{subject_type!r} is not a subject type; use one of {', '.join(SUBJECT_TYPES)}", field="subject_type"
        )
    with ctx.db.read() as session:
        if table_answers(session, ctx):
            found = stored_flags(session, _today(ctx, today), subject_type=subject_type, subject_ids=[subject_id])
        else:
            found = evaluate_flags(
                session,
                jurisdiction(session, ctx),
                _today(ctx, today),
                subject_type=subject_type,
                subject_ids=[subject_id],
            )
        return list(site_scope.flags_in_scope(session, ctx, found))


def flags_for_product(ctx: ServiceContext, product_id: int, today: date | None = None) -> list[Flag]:
    """Every flag that concerns a product: its own, its lots', its administrations' and adverse events'."""
    ctx.require(READERS, "see flags")
    with ctx.db.read() as session:
        if table_answers(session, ctx):
            return list(
                site_scope.flags_in_scope(
                    session, ctx, stored_flags(session, _today(ctx, today), product_id=product_id)
                )
            )
    return [f for f in list_flags(ctx, today=today) if f.product_id == product_id]


def count_flags(ctx: ServiceContext, today: date | None = None, include_waived: bool = False) -> FlagCounts:
    """Open (unwaived, unless asked) compliance flags by severity and by code, for the dashboard: one GROUP BY
    over the persisted flags."""
    ctx.require(READERS, "see flags")
    with ctx.db.read() as session:
        # A user of one site: counted from their flags (list_flags), not over the whole table.
        if table_answers(session, ctx) and site_scope.scope_of(ctx) is None:
            by_severity = {severity: 0 for severity in SEVERITY_RANK}
            by_code: Counter[str] = Counter()
            waived = 0
            for severity, code, is_waived, count in stored_counts(session, _today(ctx, today)):
                waived += count if is_waived else 0
                if include_waived or not is_waived:
                    by_severity[severity] += count
                    by_code[code] += count
            return FlagCounts(by_severity, dict(by_code), sum(by_severity.values()), waived)
    flags = list_flags(ctx, today=today)
    counted = [f for f in flags if include_waived or not f.waived]
    by_severity = {severity: 0 for severity in SEVERITY_RANK}
    by_severity.update(Counter(f.severity for f in counted))
    return FlagCounts(
        by_severity, dict(Counter(f.code for f in counted)), len(counted), sum(1 for f in flags if f.waived)
    )


# The subjects' tables, walked in id order by iter_flags.
_SUBJECT_MODELS: dict[str, Any] = {
    "product": Product,
    "lot": Lot,
    "administration": Administration,
    "adverse_event": AdverseEvent,
}
# Subjects evaluated per query while streaming. Each chunk is an id range the rule queries filter in SQL, so
# the size only trades memory (the flags of one chunk) against per-query overhead: 500 subjects per query
# made the stream 4.5x slower than one evaluation of everything; 5,000 keeps a chunk's flags to a few MB.
STREAM_CHUNK = 5000


def iter_flags(
    ctx: ServiceContext,
    *,
    min_severity: str | None = None,
    codes: Collection[str] | None = None,
    today: date | None = None,
) -> Iterator[Flag]:
    """The current compliance flags (as list_flags, waivers applied), produced a chunk of subjects at a time:
    memory stays bounded by one chunk however large the registry (`flags --format json`, `flags --summary`).

    Ordered by subject type, then subject id chunk, then severity and code within the chunk (not globally by
    severity: a global order needs every flag at once). One read transaction, so the output is one snapshot."""
    ctx.require(READERS, "see flags")
    validate_filters(min_severity, codes)
    floor = SEVERITY_RANK[min_severity] if min_severity else -1
    wanted = list(codes) if codes else list(COMPLIANCE_CODES)
    with ctx.db.read() as session:
        if table_answers(session, ctx):
            # Keyset pages of the persisted flags, in list_flags' order.
            stored = iter_stored_flags(session, _today(ctx, today), codes=codes, min_rank=_floor(min_severity))
            yield from site_scope.flags_in_scope(session, ctx, stored)
            return
        where, day = jurisdiction(session, ctx), _today(ctx, today)
        visible = site_scope.flag_filter(session, ctx)
        for subject_type, model in _SUBJECT_MODELS.items():
            if not any(RULES[code].subject_type == subject_type for code in wanted):
                continue
            low = session.execute(select(func.min(model.id))).scalar()
            while low is not None:
                # The chunk's last id (the STREAM_CHUNK-th from low), else the table's last one.
                high = session.execute(
                    select(model.id).where(model.id >= low).order_by(model.id).offset(STREAM_CHUNK - 1).limit(1)
                ).scalar()
                if high is None:
                    high = session.execute(select(func.max(model.id))).scalar_one()
                for item in evaluate_flags(
                    session, where, day, subject_type=subject_type, id_range=(low, high), codes=wanted
                ):
                    if item.rank >= floor and visible(item):
                        yield item
                low = session.execute(select(func.min(model.id)).where(model.id > high)).scalar()


def flags_for_lot(
    ctx: ServiceContext,
    lot_id: int,
    *,
    min_severity: str | None = None,
    codes: Collection[str] | None = None,
    today: date | None = None,
) -> list[Flag]:
    """The flags of one lot, of its product, of its administrations and of their adverse events (`flags --lot`),
    in list_flags' order; only those subjects are evaluated."""
    ctx.require(READERS, "see flags")
    validate_filters(min_severity, codes)
    wanted = list(codes) if codes else list(COMPLIANCE_CODES)
    with ctx.db.read() as session:
        product_id = session.execute(
            select(Lot.product_id).where(Lot.id == lot_id, *site_scope.lot_conditions(ctx))
        ).scalar_one_or_none()
        if product_id is None:
            raise NotFound(f"no lot with id {lot_id}")
        if table_answers(session, ctx):
            # The lot's, its uses' and their events' flags carry its id; its product's carry the product's.
            day, floor = _today(ctx, today), _floor(min_severity)
            stored = stored_flags(session, day, lot_id=lot_id, codes=codes, min_rank=floor)
            stored += stored_flags(
                session, day, subject_type="product", subject_ids=[product_id], codes=codes, min_rank=floor
            )
            stored.sort(key=lambda f: (-f.rank, f.code, f.subject_id))
            return stored
        administration_ids = (
            session.execute(select(Administration.id).where(Administration.lot_id == lot_id)).scalars().all()
        )
        event_ids = (
            session.execute(
                select(AdverseEvent.id).where(
                    AdverseEvent.administration_id.in_(select(Administration.id).where(Administration.lot_id == lot_id))
                )
            )
            .scalars()
            .all()
        )
        subjects = {
            "product": [product_id],
            "lot": [lot_id],
            "administration": administration_ids,
            "adverse_event": event_ids,
        }
        where, day = jurisdiction(session, ctx), _today(ctx, today)
        found: list[Flag] = []
        for subject_type, ids in subjects.items():
            if ids:
                found += evaluate_flags(session, where, day, subject_type=subject_type, subject_ids=ids, codes=wanted)
    order = {
        code: place for place, code in enumerate(sorted(RULES, key=lambda c: (-SEVERITY_RANK[RULES[c].severity], c)))
    }
    found.sort(key=lambda f: (order[f.code], f.subject_id))
    return filter_flags(found, min_severity=min_severity)


@dataclass
class FlagSummary:
    """Flag counts by severity and by code, each split into open and waived (`flags --summary`)."""

    by_severity: dict[str, dict[str, int]] = field(default_factory=dict)
    by_code: dict[str, dict[str, int]] = field(default_factory=dict)
    open: int = 0
    waived: int = 0

    def as_json(self) -> dict[str, object]:
        return {"open": self.open, "waived": self.waived, "by_severity": self.by_severity, "by_code": self.by_code}


def flag_summary(
    ctx: ServiceContext,
    *,
    min_severity: str | None = None,
    codes: Collection[str] | None = None,
    today: date | None = None,
) -> FlagSummary:
    """`flags --summary`: summarize_flags of every current flag, counted by one GROUP BY over the persisted
    flags (by streaming them when the table does not hold this jurisdiction's)."""
    ctx.require(READERS, "see flags")
    validate_filters(min_severity, codes)
    with ctx.db.read() as session:
        if table_answers(session, ctx) and site_scope.scope_of(ctx) is None:
            counted = stored_counts(session, _today(ctx, today), codes=codes, min_rank=_floor(min_severity))
            return _summary_of(counted)
    return summarize_flags(iter_flags(ctx, min_severity=min_severity, codes=codes, today=today))


def _summary_of(counted: Iterable[tuple[str, str, bool, int]]) -> FlagSummary:
    summary = summarize_flags(())
    codes: dict[str, dict[str, int]] = {}
    for severity, code, waived, count in counted:
        state = "waived" if waived else "open"
        summary.by_severity.setdefault(severity, {"open": 0, "waived": 0})[state] += count
        codes.setdefault(code, {"open": 0, "waived": 0})[state] += count
        if waived:
            summary.waived += count
        else:
            summary.open += count
    summary.by_code = {code: codes[code] for code in RULES if code in codes}
    return summary


def summarize_flags(flags: Iterable[Flag]) -> FlagSummary:
    """Count flags as they come (an iterator from iter_flags keeps memory constant). Every severity is listed,
    highest first, even at zero; codes appear in the catalogue's order."""
    summary = FlagSummary(
        by_severity={
            severity: {"open": 0, "waived": 0}
            for severity in sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True)
        }
    )
    codes: dict[str, dict[str, int]] = {}
    for item in flags:
        state = "waived" if item.waived else "open"
        summary.by_severity.setdefault(item.severity, {"open": 0, "waived": 0})[state] += 1
        codes.setdefault(item.code, {"open": 0, "waived": 0})[state] += 1
        if item.waived:
            summary.waived += 1
        else:
            summary.open += 1
    summary.by_code = {code: codes[code] for code in RULES if code in codes}
    return summary


def list_alerts(ctx: ServiceContext, today: date | None = None) -> list[Flag]:
    """Dashboard alerts (ALERT-EXPIRING, ALERT-EXPIRED-STOCK): not compliance findings."""
    ctx.require(READERS, "see alerts")
    with ctx.db.read() as session:
        return list(site_scope.flags_in_scope(session, ctx, evaluate_alerts(session, _today(ctx, today))))


def lot_scores(ctx: ServiceContext, lot_ids: Collection[int] | None = None) -> dict[int, float]:
    ctx.require(READERS, "see completeness scores")
    with ctx.db.read() as session:
        return scoring.lot_scores(session, jurisdiction(session, ctx), lot_ids, site_scope.scope_of(ctx))


def product_scores(ctx: ServiceContext) -> list[scoring.Average]:
    ctx.require(READERS, "see completeness scores")
    with ctx.db.read() as session:
        return scoring.product_averages(session, jurisdiction(session, ctx), site_scope.scope_of(ctx))


def supplier_scores(ctx: ServiceContext) -> list[scoring.Average]:
    ctx.require(READERS, "see completeness scores")
    with ctx.db.read() as session:
        return scoring.supplier_averages(session, jurisdiction(session, ctx), site_scope.scope_of(ctx))


@changing("waive flags", DIRECTOR)
def waive_flag(
    ctx: ServiceContext,
    code: str,
    subject_type: str,
    subject_id: int,
    reason: str,
    password: str,
    today: date | None = None,
) -> int:
    """A medical director accepts one open flag on one subject, with a written reason, signed ("waived")."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("give the reason for the waiver", field="reason")
    if code not in COMPLIANCE_CODES:
        raise ValidationError(f"{code!r} is not a compliance flag code", field="code")
    if subject_type != RULES[code].subject_type:
        raise ValidationError(
            f"{code} is raised on a {RULES[code].subject_type.replace('_', ' ')}, not on a "
            f"{subject_type.replace('_', ' ')}",
            field="subject_type",
        )
    if subject_type == "product":
        site_scope.require_group(ctx, "a waiver on a product's flag")
    signer = reauthenticate(ctx, password)
    with ctx.db.write() as session:
        flags = evaluate_flags(
            session,
            jurisdiction(session, ctx),
            _today(ctx, today),
            subject_type=subject_type,
            subject_ids=[subject_id],
            codes=[code],
        )
        flags = list(site_scope.flags_in_scope(session, ctx, flags))  # another site's: as if none
        if not flags:
            raise NotFound(f"no open {code} flag on {subject_type.replace('_', ' ')} {subject_id}")
        found = flags[0]
        if found.waived:
            raise ConflictError(f"the {code} flag on {subject_type.replace('_', ' ')} {subject_id} is waived already")
        content: dict[str, Any] = {
            "code": code,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "flag_message": found.message,
            "flag_facts": found.facts,
            "reason": reason,
        }
        signature = add_signature(session, signer, SignatureMeaning.WAIVED, subject_type, subject_id, content)
        waiver = Waiver(
            code=code,
            subject_type=subject_type,
            subject_id=subject_id,
            flag_message=found.message,
            flag_facts=found.facts,
            reason=reason,
            signature_id=signature.id,
            waived_by_id=signer.user_id,
            waived_at=utcnow(),
        )
        session.add(waiver)
        session.flush()
        ctx.audit(
            session,
            AuditRecord(
                "waive flag",
                "waiver",
                waiver.id,
                before={},
                after={**content, "signature_id": signature.id, "meaning": SignatureMeaning.WAIVED.value},
                reason=reason,
            ),
        )
        return waiver.id


@changing("revoke waivers", DIRECTOR)
def revoke_waiver(ctx: ServiceContext, waiver_id: int, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("give the reason for revoking the waiver", field="reason")
    with ctx.db.write() as session:
        waiver = session.execute(select(Waiver).where(Waiver.id == waiver_id)).scalar_one_or_none()
        if waiver is None:
            raise NotFound(f"no waiver {waiver_id}")
        site_scope.check_subject(session, ctx, waiver.subject_type, waiver.subject_id, f"no waiver {waiver_id}")
        if waiver.revoked_at is not None:
            raise ConflictError(f"waiver {waiver_id} is revoked already")
        waiver.revoked_at = utcnow()
        ctx.audit(
            session,
            AuditRecord(
                "revoke waiver",
                "waiver",
                waiver.id,
                before={"revoked_at": None},
                after={"revoked_at": waiver.revoked_at, "code": waiver.code},
                reason=reason,
            ),
        )
