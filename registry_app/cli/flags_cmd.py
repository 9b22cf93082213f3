"""`registry-app flags [--format table|json|csv] [--min-severity S] [--code C]... [--lot LOT_NUMBER [--product
NAME]] [--summary]`: the current flags, one lot's, or their counts.

JSON and CSV of all flags are streamed (services.flags.iter_flags, a chunk of subjects at a time): each flag is
written as it is produced, so a million flags print in constant memory (shared/cli.md)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from typing import TextIO

from ..domain.vocab import SEVERITY_RANK
from ..services import flag_table
from ..services import flags as flag_service
from ..services.catalogue import COMPLIANCE_CODES, Flag
from ..services.formats import csv_cells
from .common import EXIT_OK, EXIT_USAGE, CommandError, add_command, lot_ref, signed_in

CSV_FIELDS = ("code", "severity", "subject_type", "subject_id", "product_name", "lot_number", "message", "waived")


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "flags",
        "the current compliance flags",
        "registry-app flags --min-severity high --format json",
        "registry-app flags --summary",
        "registry-app flags --lot CX-2406-118 --product 'Cordexa UC-EV 10B'",
        "registry-app --user admin flags --rebuild",
    )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument(
        "--min-severity",
        choices=tuple(SEVERITY_RANK),
        metavar="S",
        help=f"only flags at or above S ({', '.join(SEVERITY_RANK)})",
    )
    parser.add_argument(
        "--code", action="append", choices=COMPLIANCE_CODES, metavar="C", help="only flags with this code (repeatable)"
    )
    parser.add_argument(
        "--lot", metavar="LOT_NUMBER", help="only the flags of this lot, its product and its administrations"
    )
    parser.add_argument("--product", metavar="NAME", help="the product of --lot, when several use the number")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="counts only: by severity and by code, open and waived (the dashboard's numbers)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="evaluate every rule again and bring the stored flags to that (admin or medical director; audited)",
    )
    parser.set_defaults(handler=flags_command)


def flags_command(args: argparse.Namespace) -> int:
    if args.product is not None and args.lot is None:
        raise CommandError(EXIT_USAGE, "error: --product names the product of --lot LOT_NUMBER; give both")
    if args.rebuild:
        return _rebuild(args)
    ctx = signed_in(args, required=False)
    found: Iterable[Flag]
    if args.summary and args.lot is None:
        _summary(
            flag_service.flag_summary(ctx, min_severity=args.min_severity, codes=args.code), args.format, sys.stdout
        )
        return EXIT_OK
    if args.lot is not None:
        lot = lot_ref(ctx, args.lot, args.product)
        found = flag_service.flags_for_lot(ctx, lot.lot_id, min_severity=args.min_severity, codes=args.code)
    elif args.summary or args.format != "table":
        found = flag_service.iter_flags(ctx, min_severity=args.min_severity, codes=args.code)
    else:  # a table is read by a person: all at once, highest severity first
        found = flag_service.list_flags(ctx, min_severity=args.min_severity, codes=args.code)
    out = sys.stdout
    if args.summary:
        _summary(flag_service.summarize_flags(found), args.format, out)
    elif args.format == "json":
        _stream_json(found, out)
    elif args.format == "csv":
        # Standard output has no BOM (it would corrupt a pipe), but the cells are neutralised like every CSV
        # export: a flag's message quotes imported text, which may start a formula.
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for item in found:
            row = item.as_json()
            row["waived"] = "yes" if item.waived else "no"
            writer.writerow(csv_cells([row[name] for name in CSV_FIELDS]))
    else:
        _table(list(found))
    return EXIT_OK


def _rebuild(args: argparse.Namespace) -> int:
    result = flag_table.rebuild_flags(signed_in(args))
    if args.format == "json":
        print(json.dumps({"raised": result.raised, "closed": result.closed, "open": result.open}))
    else:
        print(
            f"flags rebuilt in {result.seconds:.1f} s: {result.raised} raised, {result.closed} closed, "
            f"{result.open} open (waived included)"
        )
    return EXIT_OK


def _stream_json(found: Iterable[Flag], out: TextIO) -> None:
    """One JSON array, written an element at a time as the flags come (never the whole list or string)."""
    out.write("[")
    separator = "\n"
    for item in found:
        out.write(separator)
        out.write(json.dumps(item.as_json(), ensure_ascii=False))
        separator = ",\n"
    out.write("\n]\n" if separator != "\n" else "]\n")


def _summary(summary: flag_service.FlagSummary, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(summary.as_json(), ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("group", "name", "open", "waived"))
        for group, counts in (("severity", summary.by_severity), ("code", summary.by_code)):
            for name, count in counts.items():
                writer.writerow((group, name, count["open"], count["waived"]))
        return
    out.write(f"{summary.open} open flags, {summary.waived} waived\n")
    out.write(f"{'SEVERITY':<27} {'OPEN':>7} {'WAIVED':>7}\n")
    for name, count in summary.by_severity.items():
        out.write(f"{name:<27} {count['open']:>7} {count['waived']:>7}\n")
    out.write(f"{'CODE':<27} {'OPEN':>7} {'WAIVED':>7}\n")
    for name, count in summary.by_code.items():
        out.write(f"{name:<27} {count['open']:>7} {count['waived']:>7}\n")


def _table(found: list[Flag]) -> None:
    if not found:
        print("no flags")
        return
    print(f"{'SEVERITY':<9} {'CODE':<27} {'SUBJECT':<20} {'PRODUCT':<30} {'LOT':<18} MESSAGE")
    for f in found:
        subject = f"{f.subject_type} {f.subject_id}"
        mark = " [waived]" if f.waived else ""
        print(
            f"{f.severity:<9} {f.code:<27} {subject:<20} {(f.product_name or '')[:30]:<30} "
            f"{(f.lot_number or '-')[:18]:<18} {f.message}{mark}"
        )
    open_count = sum(1 for f in found if not f.waived)
    print(f"{len(found)} flags ({open_count} open, {len(found) - open_count} waived)")
