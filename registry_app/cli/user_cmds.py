"""`user list`, `user set-role`, `user grant`, `user revoke`, `user disable`, `user unlock`,
`user reset-password`: user administration.

Admin only (the services check the role and write the audit entry); `user add` lives with the set-up commands.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from ..domain.vocab import Role
from ..services import auth, memberships
from .common import EXIT_OK, add_command, read_new_password, signed_in

USER_FIELDS = (
    "username",
    "full_name",
    "role",
    "active",
    "locked",
    "failed_attempts",
    "is_demo",
    "created_at",
    "sites",  # the roles by site: [{"site": CODE or "all", "role": ROLE}]
)


def register_user_admin(user_commands: argparse._SubParsersAction) -> None:
    listing = add_command(user_commands, "list", "the registry's users (admin)", "registry-app user list --format json")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=user_list)

    set_role = add_command(
        user_commands,
        "set-role",
        "change a user's role (admin)",
        "registry-app user set-role lee medical_director --reason 'new position'",
    )
    set_role.add_argument("name")
    set_role.add_argument("role", choices=[r.value for r in Role])
    set_role.add_argument("--reason")
    set_role.set_defaults(handler=user_set_role)

    grant = add_command(
        user_commands,
        "grant",
        "give a user a role at a site, or at every site with --site all (admin)",
        "registry-app user grant lee --site BUSAN --role pharmacist",
    )
    grant.add_argument("name")
    grant.add_argument("--site", dest="grant_site", metavar="CODE", required=True, help="a site code, or all")
    grant.add_argument("--role", required=True, choices=[r.value for r in Role])
    grant.add_argument("--reason")
    grant.set_defaults(handler=user_grant)

    revoke = add_command(
        user_commands,
        "revoke",
        "end a user's role at a site (the record is kept) (admin)",
        "registry-app user revoke lee --site BUSAN --reason 'moved to Seoul'",
    )
    revoke.add_argument("name")
    revoke.add_argument("--site", dest="grant_site", metavar="CODE", required=True, help="a site code, or all")
    revoke.add_argument("--reason")
    revoke.set_defaults(handler=user_revoke)

    disable = add_command(
        user_commands,
        "disable",
        "stop a user signing in; the account is kept (admin)",
        "registry-app user disable lee --reason 'left the clinic'",
    )
    disable.add_argument("name")
    disable.add_argument("--reason")
    disable.set_defaults(handler=user_disable)

    unlock = add_command(
        user_commands, "unlock", "unlock an account locked by failed sign-ins (admin)", "registry-app user unlock lee"
    )
    unlock.add_argument("name")
    unlock.add_argument("--reason")
    unlock.set_defaults(handler=user_unlock)

    reset = add_command(
        user_commands,
        "reset-password",
        "give a user a new password, and unlock (admin)",
        'echo "$NEW_PASSWORD" | registry-app user reset-password lee --password-stdin',
    )
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")
    reset.add_argument("--reason")
    reset.set_defaults(handler=user_reset_password)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def user_list(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    users = [{name: _json_value(user.get(name)) for name in USER_FIELDS} for user in auth.list_users(ctx)]
    if args.format == "json":
        print(json.dumps(users, ensure_ascii=False))
        return EXIT_OK
    for user in users:
        state = "disabled" if not user["active"] else "locked" if user["locked"] else "active"
        places = ", ".join(f"{p['role']}@{p['site']}" for p in user["sites"]) or "no role"
        print(f"{user['username']:<20} {user['role']:<17} {state:<9} {user['full_name'] or ''}  [{places}]")
    return EXIT_OK


def user_set_role(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    auth.set_role(ctx, args.name, args.role, args.reason)
    print(f"{args.name} is now {args.role}")
    return EXIT_OK


def user_grant(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    memberships.grant_role(ctx, args.name, args.grant_site, args.role, args.reason)
    print(f"{args.name} is now {args.role} at {_place(args.grant_site)}")
    return EXIT_OK


def user_revoke(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    memberships.revoke_role(ctx, args.name, args.grant_site, args.reason)
    print(f"{args.name} no longer has a role at {_place(args.grant_site)} (the record is kept)")
    return EXIT_OK


def _place(site_code: str) -> str:
    return "every site" if site_code == memberships.GROUP else f"site {site_code}"


def user_disable(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    auth.disable_user(ctx, args.name, args.reason)
    print(f"disabled {args.name}: the account is kept, and can no longer sign in")
    return EXIT_OK


def user_unlock(args: argparse.Namespace) -> int:
    ctx = signed_in(args)
    auth.unlock_user(ctx, args.name, args.reason)
    print(f"unlocked {args.name}")
    return EXIT_OK


def user_reset_password(args: argparse.Namespace) -> int:
    # The admin signs in first (REGISTRY_PASSWORD or a prompt), then the new password is read: a refused
    # sign-in never consumes the new password from stdin.
    ctx = signed_in(args)
    auth.reset_password(ctx, args.name, read_new_password(args), args.reason)
    print(f"new password set for {args.name}; the account is unlocked")
    return EXIT_OK
