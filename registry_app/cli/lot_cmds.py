"""A lot's life from the command line (shared/cli.md): `release`, `reject`, `destroy`, `result add|void`,
`notify` (recall lookback) and `excursion add|resolve|list`.

Each handler finds the records named on the command line and calls the service the desktop calls; the services
check the role, validate, write the audit entry and (release, excursion resolve) the signature.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from ..domain.exact import quantity_text
from ..domain.vocab import PARAMETER_SPEC, DestroyReason, ExcursionResolution, values
from ..services.lots import excursions, lifecycle, results
from ..services.recalls import mark_patient_notified, trace_lot
from .common import (
    EXIT_DATA,
    EXIT_OK,
    CommandError,
    add_command,
    iso_date,
    iso_datetime,
    lot_ref,
    positive_id,
    signed_in,
    signed_in_with_password,
)

NOTIFY_METHODS = ("phone", "letter", "email", "in_person")
EXCURSION_FIELDS = (
    "id",
    "lot_id",
    "occurred_at",
    "ended_at",
    "reading_c",
    "min_c",
    "max_c",
    "duration_minutes",
    "notes",
    "resolution",
    "resolution_note",
    "resolved_at",
)


def _lot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lot_number", metavar="LOT_NUMBER")
    parser.add_argument("--product", metavar="NAME", help="the product, when several products use the lot number")


def register(commands: argparse._SubParsersAction) -> None:
    release = add_command(
        commands,
        "release",
        "release a quarantined lot for use (medical director; signed)",
        "REGISTRY_USER=dana registry-app release CX-2406-118 --product 'Cordexa UC-EV 10B' --acknowledge UNDOC-COA",
    )
    _lot_arguments(release)
    release.add_argument("--note", help="a note kept with the release")
    release.add_argument(
        "--acknowledge",
        action="append",
        default=[],
        metavar="CODE",
        help="an open critical or high finding of the lot (or its product) the signature "
        "acknowledges; repeat for each (the refusal lists them)",
    )
    release.set_defaults(handler=release_command)

    reject = add_command(
        commands,
        "reject",
        "reject a lot (signed); it stays on record",
        "registry-app reject CX-2406-118 --reason 'cold chain broken on arrival'",
    )
    _lot_arguments(reject)
    reject.add_argument("--reason", required=True, help="why the lot is rejected")
    reject.set_defaults(handler=reject_command)

    destroy = add_command(
        commands,
        "destroy",
        "destroy what is on hand of a lot (signed)",
        "registry-app destroy CX-2406-118 --reason damaged --note 'vial cracked'",
    )
    _lot_arguments(destroy)
    destroy.add_argument(
        "--reason",
        required=True,
        choices=values(DestroyReason),
        metavar="CODE",
        help=f"one of {', '.join(values(DestroyReason))}",
    )
    destroy.add_argument("--note", help="details (required with --reason other)")
    destroy.set_defaults(handler=destroy_command)

    result = commands.add_parser("result", help="characterization results of a lot (vocabulary.md)")
    result_commands = result.add_subparsers(dest="result_command", required=True, metavar="COMMAND")
    add = add_command(
        result_commands,
        "add",
        "record one characterization result of a lot",
        "registry-app result add CX-2406-118 --parameter particle_concentration --value 2.1e10 "
        "--unit particles/mL --method nta --lab 'Lab One' --date 2026-11-02",
        "registry-app result add CX-2406-118 --parameter sterility --value pass --method usp71",
    )
    _lot_arguments(add)
    add.add_argument(
        "--parameter",
        required=True,
        choices=tuple(PARAMETER_SPEC),
        metavar="P",
        help=f"one of {', '.join(PARAMETER_SPEC)}",
    )
    add.add_argument(
        "--value",
        required=True,
        metavar="V",
        help="a number in the parameter's unit, or a qualitative result (pass, negative, detected ...)",
    )
    add.add_argument("--unit", metavar="U", help="checked against the parameter's unit (values are not converted)")
    add.add_argument("--method", metavar="M")
    add.add_argument("--marker", help="the marker, for --parameter marker (cd63, calnexin ...)")
    add.add_argument("--lab", metavar="NAME", help="the laboratory that measured it")
    add.add_argument("--date", type=iso_date, metavar="DATE", help="the date of the test, YYYY-MM-DD")
    add.set_defaults(handler=result_add_command)
    void = add_command(
        result_commands,
        "void",
        "void a result entered in error (kept on record, marked void)",
        "registry-app result void 812 --reason 'typed into the wrong lot'",
    )
    void.add_argument("id", type=positive_id, metavar="ID")
    void.add_argument("--reason", required=True)
    void.set_defaults(handler=result_void_command)

    notify = add_command(
        commands,
        "notify",
        "recall lookback: mark a recipient of a lot notified",
        "registry-app notify CX-2406-118 --patient PT-00412 --method phone --date 2026-12-03",
    )
    _lot_arguments(notify)
    notify.add_argument("--patient", required=True, metavar="REF", help="the patient reference")
    notify.add_argument("--method", required=True, choices=NOTIFY_METHODS)
    notify.add_argument("--date", type=iso_date, metavar="DATE", help="when the patient was told (default: today)")
    notify.set_defaults(handler=notify_command)

    excursion = commands.add_parser("excursion", help="temperature excursions of a lot")
    excursion_commands = excursion.add_subparsers(dest="excursion_command", required=True, metavar="COMMAND")
    ex_add = add_command(
        excursion_commands,
        "add",
        "record a temperature excursion (a logger's span and extremes)",
        "registry-app excursion add CX-2406-118 --from 2026-12-01T08:00 --to 2026-12-01T11:30 --min 2 --max 14",
    )
    _lot_arguments(ex_add)
    ex_add.add_argument(
        "--from",
        dest="start",
        required=True,
        type=iso_datetime,
        metavar="DATETIME",
        help="when it began, clinic-local YYYY-MM-DDTHH:MM",
    )
    ex_add.add_argument("--to", dest="end", type=iso_datetime, metavar="DATETIME", help="when it ended")
    ex_add.add_argument("--min", dest="min_c", type=float, metavar="C", help="the lowest reading, °C")
    ex_add.add_argument("--max", dest="max_c", type=float, metavar="C", help="the highest reading, °C")
    ex_add.add_argument(
        "--reading", dest="reading_c", type=float, metavar="C", help="one reading, °C (instead of --min/--max)"
    )
    ex_add.add_argument("--note", help="what happened")
    ex_add.set_defaults(handler=excursion_add_command)
    resolve = add_command(
        excursion_commands,
        "resolve",
        "judge an excursion: use, quarantine or destroy (signed)",
        "registry-app excursion resolve 14 --disposition use --reason 'stability data: 24 h at 25 °C'",
    )
    resolve.add_argument("id", type=positive_id, metavar="ID")
    resolve.add_argument("--disposition", required=True, choices=values(ExcursionResolution))
    resolve.add_argument("--reason", required=True, help="the justification, kept with the signature")
    resolve.set_defaults(handler=excursion_resolve_command)
    listing = add_command(
        excursion_commands,
        "list",
        "a lot's temperature excursions, newest first",
        "registry-app excursion list CX-2406-118 --format json",
    )
    _lot_arguments(listing)
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=excursion_list_command)


def _named(lot: Any) -> str:
    return f"{lot.product_name}, lot {lot.lot_number}"


def release_command(args: argparse.Namespace) -> int:
    ctx, password = signed_in_with_password(args)
    lot = lot_ref(ctx, args.lot_number, args.product)
    signature_id = lifecycle.release_lot(ctx, lot.lot_id, password, args.note, acknowledged=args.acknowledge)
    print(f"{_named(lot)}: released (signature {signature_id})")
    return EXIT_OK


def reject_command(args: argparse.Namespace) -> int:
    ctx, password = signed_in_with_password(args)
    lot = lot_ref(ctx, args.lot_number, args.product)
    signature_id = lifecycle.reject_lot(ctx, lot.lot_id, args.reason, password=password)
    print(f"{_named(lot)}: rejected (signature {signature_id})")
    return EXIT_OK


def destroy_command(args: argparse.Namespace) -> int:
    ctx, password = signed_in_with_password(args)
    lot = lot_ref(ctx, args.lot_number, args.product)
    amount = lifecycle.destroy_lot(ctx, lot.lot_id, args.reason, args.note, password=password)
    print(f"{_named(lot)}: destroyed ({quantity_text(amount)} on hand destroyed, reason {args.reason})")
    return EXIT_OK


def result_add_command(args: argparse.Namespace) -> int:
    unit = PARAMETER_SPEC[args.parameter][0]
    if args.unit is not None and args.unit.strip() != (unit or ""):
        # Values are stored in the parameter's unit: a value in another unit would be read wrongly, not converted.
        expected = f"is measured in {unit}" if unit else "is a qualitative result without a unit"
        raise CommandError(EXIT_DATA, f"error: unit: {args.parameter} {expected}, not {args.unit.strip()!r}")
    ctx = signed_in(args)
    lot = lot_ref(ctx, args.lot_number, args.product)
    # Given as both: the service reads the number of a measured parameter or the result of a qualitative one.
    result_id = results.add_characterization_result(
        ctx,
        lot.lot_id,
        args.parameter,
        value=args.value,
        result=args.value,
        method=args.method,
        marker=args.marker,
        laboratory=args.lab,
        tested_on=args.date,
    )
    print(f"{_named(lot)}: result {result_id} recorded ({args.parameter} {args.value}{' ' + unit if unit else ''})")
    return EXIT_OK


def result_void_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    results.void_characterization_result(ctx, args.id, args.reason)
    print(f"result {args.id} voided")
    return EXIT_OK


def notify_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    lot = lot_ref(ctx, args.lot_number, args.product)
    patient = args.patient.strip()
    given = [a for a in trace_lot(ctx, lot.lot_id).administrations if a.patient_ref == patient]
    if not given:
        raise CommandError(EXIT_DATA, f"error: patient: {patient} received no administration of {_named(lot)}")
    on = args.date or date.today()
    # One call per administration, as the desktop's recall dialog marks each row: a patient treated twice
    # from the lot is notified once, and both uses are marked.
    for administration in given:
        mark_patient_notified(ctx, administration.id, on, args.method)
    print(f"{_named(lot)}: {patient} marked notified on {on} by {args.method} ({len(given)} administration(s))")
    return EXIT_OK


def excursion_add_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    lot = lot_ref(ctx, args.lot_number, args.product)
    excursion_id = excursions.record_excursion(
        ctx,
        lot.lot_id,
        args.start,
        args.reading_c,
        notes=args.note,
        ended_at=args.end,
        min_c=args.min_c,
        max_c=args.max_c,
    )
    print(
        f"{_named(lot)}: excursion {excursion_id} recorded; resolve it with "
        f"`registry-app excursion resolve {excursion_id} --disposition use|quarantine|destroy --reason TEXT`"
    )
    return EXIT_OK


def excursion_resolve_command(args: argparse.Namespace) -> int:
    ctx, password = signed_in_with_password(args)
    signature_id = excursions.sign_excursion_resolution(ctx, args.id, args.disposition, args.reason, password)
    print(f"excursion {args.id}: resolved, {args.disposition} (signature {signature_id})")
    return EXIT_OK


def _json_value(value: Any) -> Any:
    return value.isoformat(timespec="minutes") if hasattr(value, "isoformat") else value


def excursion_list_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    lot = lot_ref(ctx, args.lot_number, args.product)
    found = excursions.list_excursions(ctx, lot.lot_id)
    if args.format == "json":
        print(
            json.dumps(
                [{name: _json_value(getattr(e, name)) for name in EXCURSION_FIELDS} for e in found], ensure_ascii=False
            )
        )
        return EXIT_OK
    if not found:
        print(f"{_named(lot)}: no temperature excursions")
    for e in found:
        state = f"resolved: {e.resolution}" if e.resolution else "OPEN"
        line = f"{e.id:>6}  {e.occurred_at:%Y-%m-%d %H:%M}  {e.reading_c:g} °C  {state}  {e.resolution_note or ''}"
        print(line.rstrip())
    return EXIT_OK
