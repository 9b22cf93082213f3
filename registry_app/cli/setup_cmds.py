"""`db upgrade`, `site set`, `user add`: setting a registry up."""

from __future__ import annotations

import argparse
import json
import os

from ..domain.vocab import Role
from ..services import auth, privacy, sites
from ..services.registry import current_revision
from .common import (
    ENV_USER,
    EXIT_DENIED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_command,
    open_context,
    read_new_password,
    signed_in,
)
from .user_cmds import register_user_admin


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = add_command(
        db_commands,
        "upgrade",
        "migrate the database to the current schema (a new one is created)",
        "registry-app --database sqlite:///clinic.sqlite3 db upgrade",
    )
    upgrade.set_defaults(handler=db_upgrade)

    site = commands.add_parser("site", help="the site's name and jurisdiction")
    site_commands = site.add_subparsers(dest="site_command", required=True, metavar="COMMAND")
    site_set = add_command(
        site_commands,
        "set",
        "set the site's name and jurisdiction, or the registry's patient reference pattern (admin)",
        "registry-app site set --name 'Gangnam clinic' --jurisdiction KR",
        "registry-app site set --patient-ref-pattern 'PT-[0-9]{5}'",
    )
    site_set.add_argument("--name")
    site_set.add_argument("--jurisdiction", help="ISO 3166 alpha-2 code, or EU (unless only the pattern is set)")
    site_set.add_argument(
        "--patient-ref-pattern",
        metavar="REGEX",
        help="the regular expression every new patient reference must match in full ('' restores the default: "
        "no spaces, no dates, at least one digit); one that accepts a name or a date of birth is refused",
    )
    site_set.set_defaults(handler=site_set_command)
    site_add = add_command(
        site_commands,
        "add",
        "add a site to a multi-site registry (admin)",
        "registry-app site add BUSAN --name 'Busan clinic' --jurisdiction KR --time-zone Asia/Seoul",
    )
    site_add.add_argument("code", metavar="CODE")
    site_add.add_argument("--name", required=True)
    site_add.add_argument("--jurisdiction", required=True, metavar="J", help="ISO 3166 alpha-2 code, or EU")
    site_add.add_argument("--time-zone", metavar="TZ", help="an IANA time zone, e.g. Asia/Seoul")
    site_add.set_defaults(handler=site_add_command)
    site_list = add_command(
        site_commands, "list", "the registry's sites (`--site CODE` picks one)", "registry-app site list --format json"
    )
    site_list.add_argument("--format", choices=("table", "json"), default="table")
    site_list.set_defaults(handler=site_list_command)

    user = commands.add_parser("user", help="users and roles")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = add_command(
        user_commands,
        "add",
        "add a user (the first one, an admin, without signing in)",
        'echo "$NEW_PASSWORD" | registry-app user add lee --role pharmacist --password-stdin',
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--full-name")
    add.add_argument(
        "--site",
        dest="grant_site",
        metavar="CODE",
        help="the role is at this site only (default, or `all`: at every site of the registry)",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the new user's password from stdin")
    add.set_defaults(handler=user_add)
    register_user_admin(user_commands)


def db_upgrade(args: argparse.Namespace) -> int:
    ctx = open_context(args, create=True)
    revision = current_revision(ctx.db.engine)
    print(f"{ctx.db.display_name}: schema at revision {revision} (current)")
    return EXIT_OK


def site_set_command(args: argparse.Namespace) -> int:
    if args.jurisdiction is None:
        if args.patient_ref_pattern is None or args.name is not None:
            raise CommandError(EXIT_USAGE, "site set: give --jurisdiction (or only --patient-ref-pattern)")
        ctx = signed_in(args)
        pattern = privacy.set_patient_ref_pattern(ctx, args.patient_ref_pattern)
        print(f"patient references must match: {pattern}")
        return EXIT_OK
    ctx = signed_in(args)
    site = sites.set_site(ctx, args.jurisdiction, args.name, patient_ref_pattern=args.patient_ref_pattern)
    print(f"site {site['code']}: {site['name']}, jurisdiction {site['jurisdiction']}")
    if args.patient_ref_pattern is not None:
        print(f"patient references must match: {sites.site_info(ctx)['patient_ref_pattern']}")
    return EXIT_OK


def site_add_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    site = sites.add_site(ctx, args.code, args.name, args.jurisdiction, args.time_zone)
    print(
        f"site {site['code']} added: {site['name']}, jurisdiction {site['jurisdiction']}"
        + (f", time zone {site['time_zone']}" if "time_zone" in site else "")
    )
    return EXIT_OK


def site_list_command(args: argparse.Namespace) -> int:
    ctx = signed_in(args, required=False)
    found = sites.list_sites(ctx)
    if args.format == "json":
        print(json.dumps(found, ensure_ascii=False))
        return EXIT_OK
    for site in found:
        mark = "*" if site["current"] else " "
        print(f"{mark} {site['code']:<12} {site['jurisdiction']:<3} {site.get('time_zone', '-'):<20} {site['name']}")
    return EXIT_OK


def user_add(args: argparse.Namespace) -> int:
    ctx = open_context(args, create=True)
    if not auth.has_users(ctx):
        password = read_new_password(args)
        actor = auth.create_first_user(ctx, args.name, args.role, password, args.full_name)
        print(f"created {actor.username} ({actor.role}), the registry's first user")
        return EXIT_OK
    if not (args.user or os.environ.get(ENV_USER)):
        raise CommandError(EXIT_DENIED, f"error: sign in as an admin to add a user: give --user NAME or set {ENV_USER}")
    password = read_new_password(args)
    ctx = signed_in(args)
    auth.create_user(ctx, args.name, args.role, password, args.full_name, site_code=args.grant_site)
    where = f" at site {args.grant_site}" if args.grant_site and args.grant_site != "all" else ""
    print(f"created {args.name} ({args.role}{where})")
    return EXIT_OK
