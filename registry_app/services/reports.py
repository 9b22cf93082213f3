"""Inspector-facing outputs: exports (CSV/XLSX), the compliance report (PDF) and the inspection bundle (ZIP).

Each writes its file and one audit entry naming who produced what, for which period, with the file's SHA-256.
The data is read in one read transaction (a consistent snapshot that never holds the SQLite write lock while
the file is rendered); the audit entry is written in a short write transaction, and the file is moved into
place inside it, so an output exists exactly when its audit entry does.

Patient references are pseudonymized by default: "P-" + the first 10 hex digits of HMAC-SHA256 over the
reference with a random key kept per registry (setting `pseudonym_key`), so one patient keeps one pseudonym
across outputs and over time. Only a medical director may include the clinic's own references, and the audit
entry says so. Free text (administration notes, amendment and void reasons, adverse event narratives) is left
out the same way unless a medical director includes it (`include_free_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from registry_app import __version__
from registry_app.domain import utcnow
from registry_app.domain.vocab import Role
from registry_app.reports import data as report_data
from registry_app.reports.bundle import BundleFile, write_bundle
from registry_app.reports.data import (
    EXPORT_KINDS,
    ClosedFlagRow,
    ComplianceData,
    FlagRow,
    Period,
    Pseudonym,
    ReportLotRow,
)
from registry_app.reports.exports import FORMATS, Table, file_sha256, write_table
from registry_app.rules import RULES, Flag, evaluate_flags, score
from registry_app.rules import table as flag_table
from registry_app.rules.common import utc_start_of_local_day
from registry_app.rules.table_read import closed_between, open_since, stored_flags
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord, head_text, verify_registry
from registry_app.services.clock import site_today
from registry_app.services.context import READERS, ServiceContext, changing, current_site
from registry_app.services.errors import FieldError, PermissionDenied, ValidationError
from registry_app.services.flag_table import life_phrase
from registry_app.services.outputs import output_target, publish, temporary_beside
from registry_app.services.privacy import PSEUDONYM_KEY as PSEUDONYM_KEY
from registry_app.services.privacy import check_free_text, make_pseudonymizer, registry_key

PSEUDONYMIZED = "pseudonyms (P-…, a keyed hash per registry)"
REAL_REFS = "the clinic's own patient references (included by a medical director)"


@dataclass(frozen=True)
class OutputResult:
    """A file written: where, its SHA-256, and what it holds (rows of an export, pages of a report)."""

    path: Path
    sha256: str
    kind: str
    rows: int = 0
    pages: int = 0
    files: tuple[BundleFile, ...] = ()
    audit_seq: int = 0
    audit_head: str = ""  # SEQ:HASH of the trail the output was made from (before its own entry): keep it


# ---- pseudonyms and free text ---------------------------------------------------------------------------


def _pseudonymizer(ctx: ServiceContext, include_patient_refs: bool) -> Pseudonym:
    if include_patient_refs:
        return make_pseudonymizer(None)
    return make_pseudonymizer(registry_key(ctx))


def _check_patient_refs(ctx: ServiceContext, include_patient_refs: bool) -> None:
    actor = ctx.actor
    if include_patient_refs and (actor is None or actor.role != Role.MEDICAL_DIRECTOR):
        who = f"{actor.username} ({actor.role.replace('_', ' ')})" if actor else "nobody signed in"
        raise PermissionDenied(
            f"{who} may not include patients' own references in an inspector's output; "
            "this needs the role medical director (pseudonyms are used otherwise)"
        )


# ---- validation ---------------------------------------------------------------------------------------------


def _period(ctx: ServiceContext, start: date | None, end: date | None, required: bool) -> Period:
    problems = []
    if required and start is None:
        problems.append(FieldError("from", "give the first day of the period (YYYY-MM-DD)"))
    if required and end is None:
        problems.append(FieldError("to", "give the last day of the period (YYYY-MM-DD)"))
    if start is not None and end is not None and start > end:
        problems.append(FieldError("to", f"the period ends ({end}) before it starts ({start})"))
    if problems:
        raise ValidationError(problems)
    return Period(start, end, site_scope.scope_of(ctx))  # a user of one site reports on that site


# ---- flags and completeness ----------------------------------------------------------------------------


def _flag_row(flag: Flag) -> FlagRow:
    waiver = flag.waiver or {}
    return FlagRow(
        code=flag.code,
        severity=flag.severity,
        title=RULES[flag.code].title if flag.code in RULES else flag.code,
        subject_type=flag.subject_type,
        subject_id=flag.subject_id,
        product_name=flag.product_name,
        lot_number=flag.lot_number,
        message=flag.message,
        waived=flag.waived,
        # A waiver is a dict of objects; rules.evaluate fills these three with a str, a datetime and a str.
        waived_by=waiver.get("waived_by"),  # type: ignore[arg-type]
        waived_at=waiver.get("waived_at"),  # type: ignore[arg-type]
        waiver_reason=waiver.get("reason"),  # type: ignore[arg-type]
        lot_id=flag.lot_id,
        product_id=flag.product_id,
    )


def current_flags(session: Session, jurisdiction: str, today: date) -> list[FlagRow]:
    """Every compliance flag now, open and waived (waivers carry who, when and why): the persisted flags when
    they hold this jurisdiction's, else evaluated."""
    if flag_table.built_for(session) == jurisdiction.upper():
        since = open_since(session, today)
        rows = []
        for item in stored_flags(session, today):
            raised, due = since[(item.code, item.subject_type, item.subject_id)]
            rows.append(replace(_flag_row(item), since=life_phrase(raised, None, None, None, due)))
        return rows
    return [_flag_row(f) for f in evaluate_flags(session, jurisdiction, today)]


def _closed_flags(session: Session, jurisdiction: str, period: Period) -> list[ClosedFlagRow]:
    """The flags that closed in the period (local days, compared with the UTC closing moments)."""
    if flag_table.built_for(session) != jurisdiction.upper():
        return []
    start = utc_start_of_local_day(period.start) if period.start else None
    end = utc_start_of_local_day(period.end + timedelta(days=1)) if period.end and period.end < date.max else None
    return [
        ClosedFlagRow(
            row.code,
            row.severity,
            row.subject_type,
            row.subject_id,
            row.lot_number,
            row.message,
            life_phrase(row.raised_at, row.closed_at, row.closed_by, None, row.due_on),
        )
        for row in closed_between(session, start, end)
    ]


def _completeness(session: Session, jurisdiction: str, today: date, lot_ids: list[int]) -> dict[int, float | None]:
    """Documentation completeness per lot (0-100 %), from the same scoring the flags service shows."""
    if not lot_ids:
        return {}
    return {int(k): float(v) for k, v in score.lot_scores(session, jurisdiction, lot_ids).items()}


# ---- building the content -----------------------------------------------------------------------------


def _lots_in_scope(session: Session, jurisdiction: str, period: Period, today: date) -> list[ReportLotRow]:
    """Lots received or used in the period, with their completeness scores."""
    ids = list(session.execute(report_data.lots_in_scope(period)).scalars())
    scores = _completeness(session, jurisdiction, today, ids)
    return report_data.lot_rows(session, jurisdiction, period, today, scores)


def _export_table(
    session: Session, kind: str, jurisdiction: str, period: Period, today: date, pseudonym: Pseudonym, free_text: bool
) -> Table:
    if kind == "lots":
        return report_data.lots_table(_lots_in_scope(session, jurisdiction, period, today))
    if kind == "products":
        return report_data.products_table(session, jurisdiction, period)
    if kind == "administrations":
        return report_data.administrations_table(session, period, pseudonym, free_text=free_text)
    if kind == "flags":
        flags = report_data.flags_in_scope(session, current_flags(session, jurisdiction, today), period)
        return report_data.flags_table(flags)
    if kind == "audit":
        return report_data.audit_table(session, pseudonym, free_text=free_text, site_id=period.site_id)
    raise ValueError(kind)


def _compliance_data(
    session: Session,
    ctx: ServiceContext,
    period: Period,
    today: date,
    pseudonym: Pseudonym,
    include_patient_refs: bool,
    scope_lots: list[ReportLotRow] | None = None,
    flags: list[FlagRow] | None = None,
    free_text: bool = False,
) -> ComplianceData:
    """The report's content. `scope_lots` (every lot in scope) and `flags` (the flags in scope) are passed
    when the caller has read them already for the exports, so each is read and evaluated once."""
    site = current_site(session, ctx.site_code)
    jurisdiction = site.jurisdiction
    if scope_lots is None:
        scope_lots = _lots_in_scope(session, jurisdiction, period, today)
    if flags is None:
        flags = report_data.flags_in_scope(session, current_flags(session, jurisdiction, today), period)
    verified = verify_registry(session)
    actor = ctx.actor
    role = actor.role.replace("_", " ") if actor else ""
    return ComplianceData(
        clinic=site.name,
        site_code=site.code,
        jurisdiction=jurisdiction,
        period=period,
        generated_by=f"{actor.display_name} ({role})" if actor else "system",
        generated_at=utcnow(),
        registry_version=__version__,
        audit_status=verified.describe(),
        audit_ok=verified.ok,
        audit_head=head_text(session),
        patient_refs=REAL_REFS if include_patient_refs else PSEUDONYMIZED,
        # The report lists the lots received in the period; the lots export also those only used in it.
        lots=[lot for lot in scope_lots if period.includes(lot.received_date)],
        flags=flags,
        closed_flags=_closed_flags(session, jurisdiction, period),
        administrations=report_data.administration_summary(session, period),
        per_month=report_data.administrations_per_month(session, period),
        recalls=report_data.recall_rows(session, period),
        adverse_events=report_data.adverse_event_rows(session, period, pseudonym, free_text=free_text),
        products_in_scope=report_data.products_in_scope_count(session, period),
        patients=report_data.patient_count(session, period),
    )


def _write_pdf(path: Path, content: ComplianceData) -> int:
    from registry_app.reports.compliance_pdf import write_compliance_pdf  # Qt is loaded only when a PDF is written

    return write_compliance_pdf(path, content)


@dataclass(frozen=True)
class _Disclosure:
    """What an output shows of patients and free text, checked against the role before anything is read."""

    patient_refs: bool
    free_text: bool
    pseudonym: Pseudonym

    def fields(self) -> dict[str, Any]:
        return {
            "patient_refs": "included" if self.patient_refs else "pseudonymized",
            "free_text": "included" if self.free_text else "withheld",
        }

    def reason(self) -> str | None:
        included = [
            *(["the clinic's own patient references"] if self.patient_refs else []),
            *(["free text (notes, reasons, narratives)"] if self.free_text else []),
        ]
        return f"the medical director included {' and '.join(included)}" if included else None


def _disclosure(ctx: ServiceContext, include_patient_refs: bool, include_free_text: bool) -> _Disclosure:
    _check_patient_refs(ctx, include_patient_refs)
    check_free_text(ctx, include_free_text)
    return _Disclosure(include_patient_refs, include_free_text, _pseudonymizer(ctx, include_patient_refs))


def _publish(
    ctx: ServiceContext,
    temporary: Path,
    final: Path,
    replace: bool,
    shown: _Disclosure,
    entry: tuple[str, str, str],
    after: dict[str, Any],
) -> int:
    """The audit entry (action, entity type, entity id; what the output holds and what it discloses) and the file
    appear together: the move happens inside the entry's transaction."""
    action, entity_type, entity_id = entry
    record = AuditRecord(
        action, entity_type, entity_id, before={}, after={**after, **shown.fields()}, reason=shown.reason()
    )
    with ctx.db.write() as session:
        seq = ctx.audit(session, record)
        publish(temporary, final, replace)
    return seq


# ---- services -----------------------------------------------------------------------------------------


@changing("export registry records", READERS)
def export(
    ctx: ServiceContext,
    kind: str,
    fmt: str,
    out: str | Path,
    include_patient_refs: bool = False,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
    replace: bool = False,
    include_free_text: bool = False,
) -> OutputResult:
    """Write one export (lots, products, administrations, flags, audit) as CSV or XLSX; the whole registry,
    or the records of a period when `start`/`end` are given. An existing `out` is replaced only with
    `replace` (services/outputs.py)."""
    problems = []
    if kind not in EXPORT_KINDS:
        problems.append(FieldError("kind", f"{kind!r} is not an export: use one of {', '.join(EXPORT_KINDS)}"))
    if fmt not in FORMATS:
        problems.append(FieldError("format", f"{fmt!r} is not a format: use one of {', '.join(FORMATS)}"))
    if problems:
        raise ValidationError(problems)
    period = _period(ctx, start, end, required=False)
    final = output_target(out, f".{fmt}", replace)
    shown = _disclosure(ctx, include_patient_refs, include_free_text)
    today = today or site_today(ctx)
    pseudonym = shown.pseudonym
    with temporary_beside(final) as temporary:
        with ctx.db.read() as session:
            jurisdiction = current_site(session, ctx.site_code).jurisdiction
            table = _export_table(session, kind, jurisdiction, period, today, pseudonym, include_free_text)
            head = head_text(session)
        rows = write_table(temporary, fmt, table)
        digest = file_sha256(temporary)
        after = {
            "kind": kind,
            "format": fmt,
            "file": final.name,
            "sha256": digest,
            "rows": rows,
            "period": period.as_json(),
            "audit_head": head,
        }
        seq = _publish(ctx, temporary, final, replace, shown, (f"export {kind}", "export", kind), after)
    return OutputResult(final, digest, kind, rows=rows, audit_seq=seq, audit_head=head)


@changing("produce the compliance report", READERS)
def compliance_report(
    ctx: ServiceContext,
    start: date,
    end: date,
    out: str | Path,
    include_patient_refs: bool = False,
    today: date | None = None,
    replace: bool = False,
    include_free_text: bool = False,
) -> OutputResult:
    """The inspector's compliance report for the period, as PDF."""
    period = _period(ctx, start, end, required=True)
    final = output_target(out, ".pdf", replace)
    shown = _disclosure(ctx, include_patient_refs, include_free_text)
    today = today or site_today(ctx)
    pseudonym = shown.pseudonym
    with temporary_beside(final) as temporary:
        with ctx.db.read() as session:
            content = _compliance_data(
                session, ctx, period, today, pseudonym, include_patient_refs, free_text=include_free_text
            )
        pages = _write_pdf(temporary, content)
        digest = file_sha256(temporary)
        after = {
            "report": "compliance",
            "file": final.name,
            "sha256": digest,
            "pages": pages,
            "period": period.as_json(),
            "audit_trail": content.audit_status,
            "audit_head": content.audit_head,
        }
        seq = _publish(ctx, temporary, final, replace, shown, ("compliance report", "report", "compliance"), after)
    return OutputResult(final, digest, "compliance", pages=pages, audit_seq=seq, audit_head=content.audit_head)


@changing("produce inspection bundles", READERS)
def bundle(
    ctx: ServiceContext,
    start: date,
    end: date,
    out: str | Path,
    include_patient_refs: bool = False,
    today: date | None = None,
    replace: bool = False,
    include_free_text: bool = False,
) -> OutputResult:
    """One ZIP: the compliance report, every export of the period as CSV and XLSX, the whole audit trail, the
    result of `audit verify`, and a manifest of every file's SHA-256."""
    period = _period(ctx, start, end, required=True)
    final = output_target(out, ".zip", replace)
    shown = _disclosure(ctx, include_patient_refs, include_free_text)
    today = today or site_today(ctx)
    pseudonym = shown.pseudonym
    with temporary_beside(final) as temporary:
        with ctx.db.read() as session:
            # Flags are evaluated and lots read once, for the report and the exports alike.
            jurisdiction = current_site(session, ctx.site_code).jurisdiction
            scope_lots = _lots_in_scope(session, jurisdiction, period, today)
            flags = report_data.flags_in_scope(session, current_flags(session, jurisdiction, today), period)
            content = _compliance_data(
                session, ctx, period, today, pseudonym, include_patient_refs, scope_lots, flags, include_free_text
            )
            tables = {
                "lots": report_data.lots_table(scope_lots),
                "products": report_data.products_table(session, jurisdiction, period),
                "administrations": report_data.administrations_table(
                    session, period, pseudonym, free_text=include_free_text
                ),
                "flags": report_data.flags_table(flags),
                # The audit trail is exported whole: its hash chain only reads from the first entry. Another
                # site's entries keep their place and hashes only, for a user of one site.
                "audit": report_data.audit_table(
                    session, pseudonym, free_text=include_free_text, site_id=period.site_id
                ),
            }
        files = write_bundle(
            temporary, content, tables, content.audit_status, content.audit_ok, audit_head=content.audit_head
        )
        digest = file_sha256(temporary)
        after = {
            "bundle": final.name,
            "sha256": digest,
            "period": period.as_json(),
            "files": {f.name: f.sha256 for f in files},
            "audit_trail": content.audit_status,
            "audit_head": content.audit_head,
        }
        seq = _publish(ctx, temporary, final, replace, shown, ("inspection bundle", "bundle", final.name), after)
    return OutputResult(final, digest, "bundle", files=tuple(files), audit_seq=seq, audit_head=content.audit_head)
