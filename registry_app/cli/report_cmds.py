"""`export`, `report compliance`, `bundle`: the inspector's outputs (shared/cli.md)."""

from __future__ import annotations

import argparse
import sys

from ..services import reports
from ..services.formats import EXPORT_KINDS, FORMATS
from .common import EXIT_OK, add_command, add_force_option, iso_date, signed_in

PATIENT_REFS_HELP = (
    "include the clinic's own patient references instead of pseudonyms (medical director only; "
    "recorded in the audit trail)"
)
FREE_TEXT_HELP = (
    "include free text (administration notes, amendment and void reasons, adverse event narratives), which is "
    "left out otherwise (medical director only; recorded in the audit trail)"
)


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="start",
        type=iso_date,
        required=True,
        metavar="DATE",
        help="first day of the period (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--to", dest="end", type=iso_date, required=True, metavar="DATE", help="last day of the period (YYYY-MM-DD)"
    )


def register(commands: argparse._SubParsersAction) -> None:
    export = add_command(
        commands, "export", "export records as CSV or XLSX", "registry-app export lots --format xlsx --out lots.xlsx"
    )
    export.add_argument("kind", choices=EXPORT_KINDS, metavar="KIND", help=f"one of {', '.join(EXPORT_KINDS)}")
    export.add_argument("--format", dest="fmt", choices=FORMATS, required=True)
    export.add_argument("--out", required=True, metavar="FILE")
    add_force_option(export)
    export.add_argument("--include-patient-refs", action="store_true", help=PATIENT_REFS_HELP)
    export.add_argument("--include-free-text", action="store_true", help=FREE_TEXT_HELP)
    export.set_defaults(handler=export_command)

    report = commands.add_parser("report", help="reports")
    report_commands = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    compliance = add_command(
        report_commands,
        "compliance",
        "the inspector's compliance report (PDF)",
        "registry-app report compliance --from 2026-01-01 --to 2026-06-30 --out h1.pdf",
    )
    _period_options(compliance)
    compliance.add_argument("--out", required=True, metavar="FILE.pdf")
    add_force_option(compliance)
    compliance.add_argument("--include-patient-refs", action="store_true", help=PATIENT_REFS_HELP)
    compliance.add_argument("--include-free-text", action="store_true", help=FREE_TEXT_HELP)
    compliance.set_defaults(handler=compliance_command)

    bundle = add_command(
        commands,
        "bundle",
        "inspection bundle: report, exports, audit trail, SHA-256 manifest",
        "registry-app bundle --from 2026-01-01 --to 2026-06-30 --out inspection.zip",
    )
    _period_options(bundle)
    bundle.add_argument("--out", required=True, metavar="FILE.zip")
    add_force_option(bundle)
    bundle.add_argument("--include-patient-refs", action="store_true", help=PATIENT_REFS_HELP)
    bundle.add_argument("--include-free-text", action="store_true", help=FREE_TEXT_HELP)
    bundle.set_defaults(handler=bundle_command)


def _wrote(result: reports.OutputResult) -> int:
    """After the one-line summary: the audit head the output reflects, on stderr, to keep elsewhere."""
    print(f"audit head: {result.audit_head}", file=sys.stderr)
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    result = reports.export(
        ctx,
        args.kind,
        args.fmt,
        args.out,
        include_patient_refs=args.include_patient_refs,
        replace=args.force,
        include_free_text=args.include_free_text,
    )
    print(f"wrote {result.path}: {result.rows} {args.kind} rows, sha256 {result.sha256}")
    return _wrote(result)


def compliance_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    result = reports.compliance_report(
        ctx,
        args.start,
        args.end,
        args.out,
        include_patient_refs=args.include_patient_refs,
        replace=args.force,
        include_free_text=args.include_free_text,
    )
    print(f"wrote {result.path}: {result.pages} pages, sha256 {result.sha256}")
    return _wrote(result)


def bundle_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    result = reports.bundle(
        ctx,
        args.start,
        args.end,
        args.out,
        include_patient_refs=args.include_patient_refs,
        replace=args.force,
        include_free_text=args.include_free_text,
    )
    print(f"wrote {result.path}: {len(result.files)} files, sha256 {result.sha256}")
    return _wrote(result)
