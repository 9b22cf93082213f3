"""`registry-app flags [--format table|json|csv] [--min-severity S] [--code C]...`: the current flags."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from ..domain.vocab import SEVERITY_RANK
from ..services import flags as flag_service
from ..services.catalogue import COMPLIANCE_CODES
from ..services.formats import csv_cells
from .common import EXIT_OK, signed_in

CSV_FIELDS = ("code", "severity", "subject_type", "subject_id", "product_name", "lot_number", "message", "waived")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("flags", help="the current compliance flags")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--min-severity", choices=tuple(SEVERITY_RANK), metavar="S",
                        help=f"only flags at or above S ({', '.join(SEVERITY_RANK)})")
    parser.add_argument("--code", action="append", choices=COMPLIANCE_CODES, metavar="C",
                        help="only flags with this code (repeatable)")
    parser.set_defaults(handler=flags_command)


def flags_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    found = flag_service.list_flags(ctx, min_severity=args.min_severity, codes=args.code)
    out = sys.stdout
    if args.format == "json":
        json.dump([f.as_json() for f in found], out, ensure_ascii=False, indent=1)
        out.write("\n")
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
        _table(found)
    return EXIT_OK


def _table(found: list) -> None:  # type: ignore[type-arg]
    if not found:
        print("no flags")
        return
    print(f"{'SEVERITY':<9} {'CODE':<27} {'SUBJECT':<20} {'PRODUCT':<30} {'LOT':<18} MESSAGE")
    for f in found:
        subject = f"{f.subject_type} {f.subject_id}"
        mark = " [waived]" if f.waived else ""
        print(f"{f.severity:<9} {f.code:<27} {subject:<20} {(f.product_name or '')[:30]:<30} "
              f"{(f.lot_number or '-')[:18]:<18} {f.message}{mark}")
    open_count = sum(1 for f in found if not f.waived)
    print(f"{len(found)} flags ({open_count} open, {len(found) - open_count} waived)")
