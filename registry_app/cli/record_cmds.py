"""Records around lots from the command line (shared/cli.md): `product set-status`, `document attach|list`,
`waive` / `unwaive`, and `ae add|report|list`.

Handlers resolve the names given (lot number, product name) and call the desktop's services, which check the
role, validate, and write the audit entry (and, for a waiver, the signature).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..domain.vocab import (
    AdverseEventSeverity,
    AdverseEventType,
    DocumentKind,
    RegulatoryStatus,
    ReportStatus,
    values,
)
from ..services import ServiceContext, adverse_events, flags, products
from ..services.catalogue import COMPLIANCE_CODES
from ..services.errors import NotFound
from ..services.lots import documents
from .common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_command,
    iso_date,
    lot_ref,
    positive_id,
    signed_in,
    signed_in_with_password,
)

DOCUMENT_FIELDS = (
    "id",
    "kind",
    "product_id",
    "lot_id",
    "file_name",
    "media_type",
    "size_bytes",
    "sha256",
    "reference",
    "supersedes_id",
    "superseded_by_id",
    "uploaded_by",
    "uploaded_at",
)
AE_FIELDS = (
    "id",
    "administration_id",
    "patient_ref",
    "product_name",
    "lot_number",
    "administered_at",
    "event_type",
    "onset_date",
    "severity",
    "description",
    "report_status",
    "report_reference",
    "not_reportable_reason",
    "reported_on",
    "recorded_at",
)


def _subject_options(parser: argparse.ArgumentParser, others: bool = False) -> None:
    parser.add_argument(
        "--lot", metavar="LOT_NUMBER", help="a lot (with --product when several products use the number)"
    )
    parser.add_argument("--product", metavar="NAME", help="a product (or the product of --lot)")
    if others:
        parser.add_argument("--administration", type=positive_id, metavar="ID", help="an administration")
        parser.add_argument("--adverse-event", type=positive_id, metavar="ID", help="an adverse event")


def register(commands: argparse._SubParsersAction) -> None:
    product = commands.add_parser("product", help="products (created by receiving or import)")
    product_commands = product.add_subparsers(dest="product_command", required=True, metavar="COMMAND")
    status = add_command(
        product_commands,
        "set-status",
        "a product's regulatory status in a jurisdiction",
        "registry-app product set-status 'Cordexa UC-EV 10B' --jurisdiction KR "
        "--status cosmetic --reference MFDS-2024-0117",
    )
    status.add_argument("name", metavar="NAME")
    status.add_argument("--jurisdiction", required=True, metavar="J", help="ISO 3166 alpha-2 code, or EU")
    status.add_argument(
        "--status",
        required=True,
        choices=values(RegulatoryStatus),
        metavar="S",
        help=f"one of {', '.join(values(RegulatoryStatus))}",
    )
    status.add_argument("--reference", metavar="REF", help="the registration or approval number")
    status.add_argument("--verified", type=iso_date, metavar="DATE", help="when the status was verified")
    status.add_argument("--evidence", metavar="FILE", help="the certificate, attached as the evidence")
    status.add_argument("--reason", help="why it changed (kept in the audit trail)")
    status.set_defaults(handler=set_status_command)

    document = commands.add_parser("document", help="documents of a lot or product, stored with SHA-256")
    document_commands = document.add_subparsers(dest="document_command", required=True, metavar="COMMAND")
    attach = add_command(
        document_commands,
        "attach",
        "attach a file to a lot or a product; a new version "
        "(--supersedes) replaces an older one without overwriting it",
        "registry-app document attach --lot CX-2406-118 coa.pdf --kind coa",
        "registry-app document attach --lot CX-2406-118 coa-v2.pdf --kind coa --supersedes 31",
    )
    _subject_options(attach)
    attach.add_argument("file", metavar="FILE")
    attach.add_argument("--kind", required=True, choices=values(DocumentKind))
    attach.add_argument("--reference", metavar="REF", help="the document's own number")
    attach.add_argument("--supersedes", type=positive_id, metavar="ID", help="the document this one replaces")
    attach.set_defaults(handler=document_attach_command)
    listing = add_command(
        document_commands,
        "list",
        "the documents of a lot or a product",
        "registry-app document list --lot CX-2406-118 --format json",
    )
    _subject_options(listing)
    listing.add_argument("--all", action="store_true", help="superseded versions too")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=document_list_command)

    waive = add_command(
        commands,
        "waive",
        "accept one flag on one subject (medical director; signed)",
        "registry-app waive UNDOC-SUPPLIER --lot CX-2406-118 --reason 'bought direct from the manufacturer'",
    )
    waive.add_argument("code", choices=COMPLIANCE_CODES, metavar="CODE", help="the flag code (rules.md)")
    _subject_options(waive, others=True)
    waive.add_argument("--reason", required=True)
    waive.set_defaults(handler=waive_command)
    unwaive = add_command(
        commands,
        "unwaive",
        "end a waiver: the flag is open again (medical director)",
        "registry-app unwaive UNDOC-SUPPLIER --lot CX-2406-118 --reason 'supplier now known'",
    )
    unwaive.add_argument("code", choices=COMPLIANCE_CODES, metavar="CODE")
    _subject_options(unwaive, others=True)
    unwaive.add_argument("--reason", required=True)
    unwaive.set_defaults(handler=unwaive_command)

    ae = commands.add_parser("ae", help="adverse events and their report status")
    ae_commands = ae.add_subparsers(dest="ae_command", required=True, metavar="COMMAND")
    ae_add = add_command(
        ae_commands,
        "add",
        "record an adverse event after an administration",
        "registry-app ae add --administration 5012 --event swelling --onset 2026-12-02 --severity mild",
    )
    ae_add.add_argument("--administration", required=True, type=positive_id, metavar="ID")
    ae_add.add_argument(
        "--event",
        required=True,
        choices=values(AdverseEventType),
        metavar="KIND",
        help=f"one of {', '.join(values(AdverseEventType))}",
    )
    ae_add.add_argument("--onset", required=True, type=iso_date, metavar="DATE")
    ae_add.add_argument(
        "--severity",
        choices=values(AdverseEventSeverity),
        metavar="S",
        help=f"one of {', '.join(values(AdverseEventSeverity))}",
    )
    ae_add.add_argument("--note", help="what was seen")
    ae_add.set_defaults(handler=ae_add_command)
    report = add_command(
        ae_commands,
        "report",
        "record where an adverse event was reported",
        "registry-app ae report 77 --status reported_regulator --reference MW-2026-0042",
        "registry-app ae report 78 --status not_reportable --reason 'expected, transient'",
    )
    report.add_argument("id", type=positive_id, metavar="ID")
    report.add_argument(
        "--status",
        required=True,
        choices=values(ReportStatus),
        metavar="S",
        help=f"one of {', '.join(values(ReportStatus))}",
    )
    report.add_argument("--reference", metavar="REF", help="e.g. the MedWatch number")
    report.add_argument("--date", type=iso_date, metavar="DATE", help="when it was reported (default: today)")
    report.add_argument("--reason", help="why it is not reportable (with --status not_reportable)")
    report.set_defaults(handler=ae_report_command)
    ae_list = add_command(
        ae_commands, "list", "adverse events, newest first", "registry-app ae list --lot CX-2406-118 --format json"
    )
    _subject_options(ae_list)
    ae_list.add_argument("--administration", type=positive_id, metavar="ID")
    ae_list.add_argument("--patient", metavar="REF")
    ae_list.add_argument("--format", choices=("table", "json"), default="table")
    ae_list.set_defaults(handler=ae_list_command)


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _subject(ctx: ServiceContext, args: argparse.Namespace) -> tuple[str, int, str]:
    """(subject type, id, how to name it) from --lot [--product] | --product | --administration | --adverse-event:
    exactly one subject (a usage error otherwise, exit 2)."""
    given = [name for name in ("lot", "administration", "adverse_event") if getattr(args, name, None) is not None]
    if not given and args.product is not None:
        given = ["product"]
    if len(given) != 1:
        raise CommandError(
            EXIT_USAGE,
            "error: name one subject: --lot LOT_NUMBER [--product NAME], "
            "--product NAME"
            + (", --administration ID or --adverse-event ID" if hasattr(args, "administration") else ""),
        )
    kind = given[0]
    if kind == "lot":
        lot = lot_ref(ctx, args.lot, args.product)
        return "lot", lot.lot_id, f"{lot.product_name}, lot {lot.lot_number}"
    if kind == "product":
        found = products.find_product_by_name(ctx, args.product)
        return "product", found.id, found.name
    number = getattr(args, kind)
    return kind, number, f"{kind.replace('_', ' ')} {number}"


def set_status_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    product = products.find_product_by_name(ctx, args.name)
    products.set_regulatory_status(
        ctx,
        product.id,
        args.status,
        args.jurisdiction,
        reference=args.reference,
        verified_on=args.verified,
        reason=args.reason,
        evidence_path=args.evidence,
    )
    print(
        f"{product.name}: {args.status} in {args.jurisdiction.strip().upper()}"
        + (f" ({args.reference.strip()})" if args.reference and args.reference.strip() else "")
    )
    return EXIT_OK


def document_attach_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    kind, subject_id, named = _subject(ctx, args)
    document_id = documents.attach_document(
        ctx,
        args.kind,
        product_id=subject_id if kind == "product" else None,
        lot_id=subject_id if kind == "lot" else None,
        path=args.file,
        reference=args.reference,
        supersedes_id=args.supersedes,
    )
    stored = documents.get_document(ctx, document_id)
    print(
        f"{named}: document {document_id} ({stored.kind}, {stored.file_name}, sha256 {stored.sha256})"
        + (f", supersedes document {args.supersedes}" if args.supersedes else "")
    )
    return EXIT_OK


def document_list_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    kind, subject_id, named = _subject(ctx, args)
    found = documents.list_documents(
        ctx,
        product_id=subject_id if kind == "product" else None,
        lot_id=subject_id if kind == "lot" else None,
        include_superseded=args.all,
    )
    if args.format == "json":
        print(
            json.dumps(
                [{name: _json_value(getattr(d, name)) for name in DOCUMENT_FIELDS} for d in found], ensure_ascii=False
            )
        )
        return EXIT_OK
    if not found:
        print(f"{named}: no documents")
    for d in found:
        replaced = f"  superseded by {d.superseded_by_id}" if d.superseded_by_id else ""
        print(
            f"{d.id:>6}  {d.kind:<22} {d.file_name or d.reference or '-'}  {d.uploaded_at:%Y-%m-%d}  "
            f"{(d.sha256 or '')[:12]}{replaced}".rstrip()
        )
    return EXIT_OK


def waive_command(args: argparse.Namespace) -> int:
    ctx, password = signed_in_with_password(args)
    kind, subject_id, named = _subject(ctx, args)
    waiver_id = flags.waive_flag(ctx, args.code, kind, subject_id, args.reason, password)
    print(f"{named}: {args.code} waived (waiver {waiver_id})")
    return EXIT_OK


def unwaive_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    kind, subject_id, named = _subject(ctx, args)
    waived = [f for f in flags.flags_for_subject(ctx, kind, subject_id) if f.code == args.code and f.waiver]
    if not waived:
        raise NotFound(f"no waived {args.code} flag on {named}")
    waiver_id = int(str(waived[0].waiver["id"]))  # type: ignore[index]  # not None: filtered on f.waiver above
    flags.revoke_waiver(ctx, waiver_id, args.reason)
    print(f"{named}: waiver {waiver_id} of {args.code} ended; the flag is open again")
    return EXIT_OK


def ae_add_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    event_id = adverse_events.record_adverse_event(
        ctx, args.administration, args.event, onset_date=args.onset, severity=args.severity, description=args.note
    )
    print(
        f"adverse event {event_id} recorded ({args.event}, administration {args.administration}); not reported "
        f"yet: `registry-app ae report {event_id} --status S`"
    )
    return EXIT_OK


def ae_report_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    adverse_events.update_adverse_event_report(
        ctx,
        args.id,
        args.status,
        report_reference=args.reference,
        not_reportable_reason=args.reason,
        reported_on=args.date,
    )
    print(f"adverse event {args.id}: {args.status}")
    return EXIT_OK


def ae_list_command(args: argparse.Namespace) -> int:
    if args.product is not None and args.lot is None:
        raise CommandError(EXIT_USAGE, "error: --product names the product of --lot LOT_NUMBER; give both")
    ctx = signed_in(args, required=False)
    lot_id = lot_ref(ctx, args.lot, args.product).lot_id if args.lot else None
    found = adverse_events.list_adverse_events(
        ctx, administration_id=args.administration, lot_id=lot_id, patient_ref=args.patient
    )
    if args.format == "json":
        print(
            json.dumps([{name: _json_value(getattr(e, name)) for name in AE_FIELDS} for e in found], ensure_ascii=False)
        )
        return EXIT_OK
    if not found:
        print("no adverse events")
    for e in found:
        print(
            f"{e.id:>6}  {e.onset_date or '-'}  {e.event_type:<24} {e.severity or '-':<9} {e.report_status:<22} "
            f"{e.product_name}, lot {e.lot_number}, {e.patient_ref or '-'}"
        )
    return EXIT_OK
