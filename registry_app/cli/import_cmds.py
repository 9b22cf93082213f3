"""`import lots FILE [--dry-run] [--update]` and `import administrations FILE [--dry-run]`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..services import imports
from .common import EXIT_DATA, EXIT_OK, CommandError, add_command, open_context, signed_in


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("import", help="import lots or administrations from CSV or XLSX")
    kinds = parser.add_subparsers(dest="import_kind", required=True, metavar="KIND")
    lots = add_command(
        kinds,
        "lots",
        "a lot spreadsheet (formats/lot-import.md)",
        "registry-app import lots lots.csv --dry-run",
        "registry-app import lots lots.xlsx --update",
    )
    lots.add_argument("file")
    lots.add_argument("--dry-run", action="store_true", help="check the file and report; write nothing")
    lots.add_argument("--update", action="store_true", help="rows for lots already registered change them")
    lots.set_defaults(handler=import_lots_command)
    administrations = add_command(
        kinds,
        "administrations",
        "a treatment log (formats/lot-import.md)",
        "registry-app import administrations treatments-march.csv",
    )
    administrations.add_argument("file")
    administrations.add_argument("--dry-run", action="store_true", help="check the file and report; write nothing")
    administrations.set_defaults(handler=import_administrations_command)


class ProgressBar:
    """A one-line bar on stderr when it is a terminal; silent otherwise (scripts, logs, tests)."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.enabled = self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> bool:
        if not self.enabled:
            return True
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return True
        self._last = now
        share = done / total if total else 1.0
        filled = int(self.WIDTH * share)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
        return True


def _report(result: imports.ImportResult) -> int:
    if result.errors:
        # The first errors, then "... and N more": the count stays exact below.
        lines = [line if line.startswith("... and ") else f"error: {line}" for line in result.error_lines()]
        rejected = len({e.row for e in result.errors})
        lines.append(f"{result.file_name}: {rejected} row(s) rejected; nothing was written")
        raise CommandError(EXIT_DATA, *lines)
    if result.cancelled:
        raise CommandError(EXIT_DATA, f"{result.file_name}: import cancelled; nothing was written")
    noun = "lots" if result.kind == "lots" else "administrations"
    summary = f"{result.created} new {noun}"
    if result.kind == "lots":
        summary += f", {result.updated} updated, {result.products_created} new products"
        if result.excursions_opened:
            summary += f", {result.excursions_opened} temperature excursions opened"
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.dry_run:
        print(f"dry run: {result.file_name}: {result.accepted} rows are valid ({summary}); nothing was written")
    else:
        print(f"imported {result.file_name}: {result.accepted} rows ({summary}); sha256 {result.sha256}")
    return EXIT_OK


def import_lots_command(args: argparse.Namespace) -> int:
    # A large file's validation starts before the sign-in, whose password check is slow by design; the file is
    # checked against the registry's limits first (a FIFO or a file over the size limit starts no process).
    ctx = open_context(args)
    max_bytes = imports.registry_size_limit(ctx)
    with imports.validating_ahead(args.file, args.dry_run, args.update, max_bytes) as ahead:
        ctx = signed_in(args, ctx=ctx)
        result = imports.import_lots(
            ctx,
            args.file,
            dry_run=args.dry_run,
            update=args.update,
            progress=ProgressBar("importing lots"),
            ahead=ahead,
        )
    return _report(result)


def import_administrations_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    result = imports.import_administrations(
        ctx, args.file, dry_run=args.dry_run, progress=ProgressBar("importing administrations")
    )
    return _report(result)
