"""`audit verify` and `backup --out FILE`: checking the trail's hash chain and copying the registry."""

from __future__ import annotations

import argparse

from ..services import audit, backup
from .common import EXIT_DATA, EXIT_OK, CommandError, add_force_option, signed_in


def register(commands: argparse._SubParsersAction) -> None:
    audit_parser = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_commands.add_parser("verify", help="check the audit trail's hash chain; exit 1 and name the "
                                       "first broken entry if it was tampered with")
    verify.set_defaults(handler=audit_verify)

    backup_parser = commands.add_parser("backup", help="a consistent online copy of the registry while it is in use")
    backup_parser.add_argument("--out", required=True, metavar="FILE", help="the backup file to write")
    add_force_option(backup_parser)
    backup_parser.set_defaults(handler=backup_command)


def audit_verify(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    # A registry without users yet has nobody to sign in; its (empty) trail is still checked.
    result = audit.verify_trail(ctx) if ctx.actor is not None else audit.verify(ctx.db)
    if not result.ok:
        raise CommandError(EXIT_DATA, f"error: {result.describe()}")
    print(result.describe())
    return EXIT_OK


def backup_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    result = backup.backup_registry(ctx, args.out, replace=args.force)
    print(result.describe())
    return EXIT_OK
