"""`trace`, `recall` and `to-notify`: the recall lookback from the command line (shared/cli.md)."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime

from ..services import ServiceContext
from ..services.group_recall import NotificationToMake, notifications_to_make
from ..services.recalls import LotRef, Trace, group_lookback, recall_lot, trace_lot
from .common import (
    EXIT_OK,
    add_command,
    iso_date_or_datetime,
    lot_ref,
    signed_in,
    signed_in_with_password,
)


def register(commands: argparse._SubParsersAction) -> None:
    trace = add_command(
        commands,
        "trace",
        "recall lookback: every administration of a lot",
        "registry-app trace CX-2406-118 --format json",
    )
    trace.add_argument("lot_number", metavar="LOT_NUMBER")
    trace.add_argument("--product", metavar="NAME", help="the product, when several products use the lot number")
    trace.add_argument("--format", choices=("table", "json"), default="table")
    trace.add_argument(
        "--all-sites",
        action="store_true",
        help="the group's lookback: the same lot (number and GTIN) at every site you may see, site by site "
        "(JSON: an array of traces, each with its site)",
    )
    trace.set_defaults(handler=trace_command)

    recall = add_command(
        commands,
        "recall",
        "mark a lot recalled (signed by a medical director)",
        "registry-app recall CX-2406-118 --reason 'manufacturer notice FSN-7' --date 2026-12-01",
    )
    recall.add_argument("lot_number", metavar="LOT_NUMBER")
    recall.add_argument("--product", metavar="NAME", help="the product, when several products use the lot number")
    recall.add_argument("--reason", required=True, help="why the lot is recalled (kept with the signature)")
    recall.add_argument(
        "--date",
        type=iso_date_or_datetime,
        metavar="DATE",
        help="recalled from this date, YYYY-MM-DD (from the start of the day), or from this moment, "
        "YYYY-MM-DDTHH:MM (default: today)",
    )
    recall.set_defaults(handler=recall_command)

    to_notify = add_command(
        commands,
        "to-notify",
        "the patients of recalled lots still to notify, at your site (a group role: every site)",
        "registry-app --site BUSAN to-notify",
        "registry-app to-notify --lot CX-2406-118 --format json",
    )
    to_notify.add_argument("--lot", metavar="LOT_NUMBER", help="one lot's (and the same lot at the other sites)")
    to_notify.add_argument("--product", metavar="NAME", help="the product, when several products use the lot number")
    to_notify.add_argument("--format", choices=("table", "json"), default="table")
    to_notify.set_defaults(handler=to_notify_command)


def _lot(ctx: ServiceContext, args: argparse.Namespace) -> LotRef:
    return lot_ref(ctx, args.lot_number, args.product)


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def trace_table(trace: Trace) -> str:
    header = ("administered", "patient", "route", "body area", "practitioner", "quantity", "notified")
    rows = [
        (
            a.when(sep=" "),
            _text(a.patient_ref),
            a.route,
            _text(a.body_areas),
            _text(a.practitioner),
            _text(a.quantity),
            (f"{a.patient_notified_on} ({a.notified_how})" if a.notified_how else str(a.patient_notified_on))
            if a.patient_notified_on
            else "no",
        )
        for a in trace.administrations
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        f"{trace.product_name}, lot {trace.lot_number}: {trace.status}"
        + (f" from {trace.recalled_from}" if trace.recalled_from else "")
    ]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    patients = {a.patient_ref for a in trace.administrations if a.patient_ref}
    lines.append(
        f"{len(rows)} administration(s), {len(patients)} patient(s), {len(trace.not_notified)} not marked notified"
    )
    return "\n".join(lines)


def trace_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    if args.all_sites:
        found = group_lookback(ctx, _lot(ctx, args).lot_id)
        if args.format == "json":
            print(json.dumps([site.as_json() for site in found], ensure_ascii=False, indent=2))
        else:
            print("\n\n".join(f"site {site.site_code} ({site.site_name})\n{trace_table(site.trace)}" for site in found))
        return EXIT_OK
    trace = trace_lot(ctx, _lot(ctx, args).lot_id)
    if args.format == "json":
        print(json.dumps(trace.as_json(), ensure_ascii=False, indent=2))
    else:
        print(trace_table(trace))
    return EXIT_OK


def recall_command(args: argparse.Namespace) -> int:
    recall_date: date | datetime | None = args.date
    ctx, password = signed_in_with_password(args)
    lot = _lot(ctx, args)
    result = recall_lot(ctx, lot.lot_id, args.reason, password, recall_date)
    print(
        f"{lot.product_name}, lot {lot.lot_number}: recalled from {result.recalled_from} "
        f"(signature {result.signature_id})"
    )
    print(
        f"{result.recipients} administration(s) to notify: see `registry-app trace {lot.lot_number}"
        + (f" --product {json.dumps(lot.product_name)}`" if args.product else "`")
    )
    if result.also_recalled:
        print(
            f"the same lot (number and GTIN) also recalled at site {', '.join(result.also_recalled)}: each "
            "site's staff see their patients to notify with `registry-app to-notify`"
        )
    return EXIT_OK


def notifications_table(found: list[NotificationToMake]) -> str:
    header = ("site", "product", "lot", "recalled from", "administered", "patient", "practitioner")
    rows = [
        (
            n.site_code,
            n.administration.product_name,
            n.administration.lot_number,
            n.recalled_from,
            n.administration.when(sep=" "),
            _text(n.administration.patient_ref),
            _text(n.administration.practitioner),
        )
        for n in found
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    patients = {(n.site_code, n.administration.patient_ref) for n in found}
    lines.append(f"{len(patients)} patient(s) to notify ({len(found)} administration(s)); mark each with `notify`")
    return "\n".join(lines)


def to_notify_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    lot_id = _lot(ctx, argparse.Namespace(lot_number=args.lot, product=args.product)).lot_id if args.lot else None
    found = notifications_to_make(ctx, lot_id)
    if args.format == "json":
        print(json.dumps([n.as_json() for n in found], ensure_ascii=False, indent=2))
    else:
        print(notifications_table(found))
    return EXIT_OK
