"""`audit verify [--anchor SEQ:HASH]`, `audit head` and `backup --out FILE`: checking the trail's hash chain
(and that it still holds an anchor kept elsewhere), printing its head, and copying the registry."""

from __future__ import annotations

import argparse
import re
import sys

from sqlalchemy.engine import make_url

from ..services import anchors, audit, backup
from .common import EXIT_DATA, EXIT_OK, CommandError, add_command, add_force_option, signed_in

_ANCHOR = re.compile(r"(\d+):([0-9a-fA-F]{64})")


def _anchor(text: str) -> tuple[int, str]:
    """SEQ:HASH as `audit head` prints it (a malformed one is a usage error, exit 2)."""
    match = _ANCHOR.fullmatch(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an anchor: use SEQ:HASH as `registry-app audit head` "
            "prints it (a number, a colon, 64 hex digits)"
        )
    return int(match.group(1)), match.group(2).lower()


def register(commands: argparse._SubParsersAction) -> None:
    audit_parser = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = add_command(
        audit_commands,
        "verify",
        "check the audit trail's hash chain; exit 1 and name the first broken entry if it was tampered with",
        "registry-app audit verify",
        "registry-app audit verify --anchor 1187:3f1c...e09a  (a head printed on a bundle)",
    )
    verify.add_argument(
        "--anchor",
        type=_anchor,
        metavar="SEQ:HASH",
        help="also prove that the trail still holds "
        "entry SEQ with HASH (a head printed earlier on a report, bundle or backup)",
    )
    verify.add_argument(
        "--backup",
        metavar="FILE",
        help="check a backup file instead (read-only: not a byte of it changes; no sign-in needed)",
    )
    verify.set_defaults(handler=audit_verify)
    head = add_command(
        audit_commands,
        "head",
        "print the trail's current head as SEQ:HASH, to keep elsewhere as an anchor",
        "registry-app audit head >> anchors.txt",
    )
    head.set_defaults(handler=audit_head)

    backup_parser = add_command(
        commands,
        "backup",
        "a consistent online copy of the registry while it is in use",
        "registry-app backup --out /backups/registry-$(date +%F).backup",
    )
    backup_parser.add_argument("--out", required=True, metavar="FILE", help="the backup file to write")
    add_force_option(backup_parser)
    backup_parser.set_defaults(handler=backup_command)

    restore = add_command(
        commands,
        "restore",
        "check a backup (integrity, audit trail, schema revision) and "
        "restore it into a new registry, never over an existing one",
        "registry-app restore --from registry-2026-12-01.backup --to ~/registry-restored.sqlite3",
    )
    restore.add_argument("--from", dest="source", required=True, metavar="FILE", help="the backup file")
    restore.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="PATH_OR_URL",
        help="the new registry: a file path or sqlite:/// URL that does not exist yet",
    )
    restore.set_defaults(handler=restore_command)


def audit_verify(args: argparse.Namespace) -> int:
    if args.backup:
        check = backup.check_sqlite_file(args.backup)
        if not check.ok:
            raise CommandError(EXIT_DATA, f"error: {args.backup}: integrity {check.integrity}; {check.audit_message}")
        print(f"{args.backup}: integrity {check.integrity}; {check.audit_message}")
        print(f"audit head: {check.head}", file=sys.stderr)
        return EXIT_OK
    ctx = signed_in(args, required=False)
    # A registry without users yet has nobody to sign in; its (empty) trail is still checked.
    result = audit.verify_trail(ctx, args.anchor) if ctx.actor is not None else audit.verify(ctx.db)
    if not result.ok:
        raise CommandError(EXIT_DATA, f"error: {result.describe()}")
    # The head kept on this computer at the last successful check: a trail cut short or rewritten since (with
    # every hash and the head recomputed) verifies on its own, but no longer extends it.
    kept = anchors.kept_anchor(ctx.db.url)
    if kept is not None:
        with ctx.db.read() as session:
            problem = anchors.anchor_problem(session, kept)
        if problem is not None:
            raise CommandError(EXIT_DATA, f"error: {problem}")
    seq, digest = audit.current_head(ctx.db)
    anchors.keep_anchor(ctx.db.url, seq, digest)
    print(result.describe())
    print(f"audit head: {seq}:{digest}", file=sys.stderr)
    return EXIT_OK


def audit_head(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    try:
        seq, digest = audit.trail_head(ctx) if ctx.actor is not None else (0, audit.GENESIS_HASH)
    except ValueError as error:
        raise CommandError(EXIT_DATA, f"error: {error}") from error
    print(f"{seq}:{digest}")
    return EXIT_OK


def backup_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    result = backup.backup_registry(ctx, args.out, replace=args.force)
    print(result.describe())
    if result.check is not None and result.check.head:
        print(f"audit head: {result.check.head}", file=sys.stderr)  # the backup's own head, to keep elsewhere
    return EXIT_OK


def restore_command(args: argparse.Namespace) -> int:
    target = args.target
    if "://" in target:
        url = make_url(target)
        if not url.drivername.startswith("sqlite") or not url.database:
            raise CommandError(
                EXIT_DATA,
                "error: to: restore writes a new SQLite registry; a PostgreSQL archive is "
                "restored with `pg_restore --no-owner --dbname URL FILE` into an empty database",
            )
        target = url.database
    print(backup.restore_registry(args.source, target).describe())
    return EXIT_OK
