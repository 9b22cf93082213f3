"""What every command shares: opening the registry, signing in, and turning errors into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.engine import make_url

from ..domain.vocab import Role
from ..services import ServiceContext
from ..services.auth import has_users, sign_in
from ..services.context import Actor
from ..services.errors import NotFound, PermissionDenied, RegistryError, SignInFailed
from ..services.recalls import AmbiguousLot, LotRef, find_lot
from ..services.registry import DatabaseTooNew, is_sqlite, open_database, resolve_database_url

EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3

ENV_USER = "REGISTRY_USER"
ENV_PASSWORD = "REGISTRY_PASSWORD"
NO_USERS_YET = Actor(user_id=None, username="(no users yet)", role=Role.INSPECTOR.value)


class CommandError(Exception):
    """A failure with its exit code and the lines to print on stderr."""

    def __init__(self, code: int, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


def add_force_option(parser: argparse.ArgumentParser) -> None:
    """--force for every command with --out (shared/cli.md): an existing file is replaced only when asked."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the output file if it exists (never a special file such as a FIFO or device)",
    )


def add_command(
    commands: argparse._SubParsersAction, name: str, help: str, *examples: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """A (sub)command whose --help ends with examples (shared/cli.md asks for one per command); the examples
    keep their line breaks."""
    epilog = "example" + ("s" if len(examples) > 1 else "") + ":\n" + "\n".join(f"  {e}" for e in examples)
    return commands.add_parser(
        name,
        help=help,
        description=kwargs.pop("description", help),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )


def positive_id(text: str) -> int:
    """A record id (an option's value): a malformed one is a usage error, exit 2."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a whole number)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a whole number above 0)")
    return value


def iso_datetime(text: str) -> datetime:
    """An option's date and time (clinic-local, YYYY-MM-DDTHH:MM or 'YYYY-MM-DD HH:MM'); malformed: exit 2."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date and time: use YYYY-MM-DDTHH:MM") from None
    return value.replace(tzinfo=None) if value.tzinfo is None else value


def iso_date(text: str) -> date:
    """An option's date, checked while the options are read (a malformed one is a usage error, exit 2)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def iso_date_or_datetime(text: str) -> date | datetime:
    """A date (YYYY-MM-DD) or a local date-time (YYYY-MM-DDTHH:MM or with a space), checked as the options are
    read. An offset, if given, is dropped: times are the clinic's wall clock, as administrations are."""
    value = text.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        if len(value) >= 16:
            return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date or date-time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM")


def open_context(args: argparse.Namespace, create: bool = False) -> ServiceContext:
    """Open (and migrate) the registry. Only the commands that start one (`create`: db upgrade, user add,
    demo) make a new SQLite file: for the others, a missing file is a mistyped path, not an empty registry."""
    url = resolve_database_url(args.database)
    if not create and is_sqlite(url):
        path = make_url(url).database
        if path and path.startswith("file:"):  # a SQLite URI filename (e.g. a read-only ?mode=ro registry)
            path = urlparse(path).path
        if path and path != ":memory:" and not Path(path).exists():
            raise CommandError(
                EXIT_DATA,
                f"error: no registry at {path}: check --database (or "
                "REGISTRY_DATABASE_URL), or create one with `registry-app db upgrade`",
            )
    try:
        database = open_database(url)
    except DatabaseTooNew as error:
        raise CommandError(EXIT_DATA, f"error: {error}") from error
    return ServiceContext(database, site_code=args.site)


def read_password(prompt: str = "Password: ") -> str:
    if os.environ.get(ENV_PASSWORD) is not None:
        return os.environ[ENV_PASSWORD]
    if not sys.stdin or not sys.stdin.isatty():
        raise CommandError(EXIT_DENIED, f"error: no password: set {ENV_PASSWORD} or run from a terminal")
    try:
        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        raise CommandError(EXIT_DENIED, "error: sign in: no password given") from None


def read_new_password(args: argparse.Namespace) -> str:
    """A new password (`user add`, `user reset-password`): one line of stdin with --password-stdin, else asked
    twice at the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError(EXIT_DATA, "error: password: nothing was read from standard input")
        return password
    if not sys.stdin or not sys.stdin.isatty():
        raise CommandError(EXIT_DATA, "error: password: use --password-stdin or run from a terminal")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CommandError(EXIT_DATA, "error: password: the two passwords differ")
    return first


def signed_in(args: argparse.Namespace, required: bool = True, ctx: ServiceContext | None = None) -> ServiceContext:
    """Open the registry (unless `ctx` is the registry, opened already) and sign in as --user / REGISTRY_USER.

    On a registry with no users yet, read-only commands run without signing in; changing ones are refused
    with the command that creates the first user (`required`).
    """
    ctx = ctx if ctx is not None else open_context(args)
    username = args.user or os.environ.get(ENV_USER)
    if not has_users(ctx):
        if required:
            raise CommandError(
                EXIT_DENIED,
                "error: the registry has no users yet: create the first one with "
                "`registry-app user add NAME --role admin`",
            )
        # Nobody to sign in as: the command reads with the inspector's rights, which change nothing.
        ctx.actor = NO_USERS_YET
        return ctx
    if not username:
        raise CommandError(EXIT_DENIED, f"error: sign in: give --user NAME or set {ENV_USER}")
    sign_in(ctx, username, read_password())
    return ctx


def signed_in_with_password(args: argparse.Namespace) -> tuple[ServiceContext, str]:
    """Sign in and keep the password, for a signed command: the signature re-enters it (21 CFR 11.200)
    without a second prompt, since the user typed it (or REGISTRY_PASSWORD gave it) for this very command."""
    ctx = open_context(args)
    if not has_users(ctx):
        raise CommandError(
            EXIT_DENIED,
            "error: the registry has no users yet: create the first one with `registry-app user add NAME --role admin`",
        )
    username = args.user or os.environ.get(ENV_USER)
    if not username:
        raise CommandError(EXIT_DENIED, f"error: sign in: give --user NAME or set {ENV_USER}")
    password = read_password()
    sign_in(ctx, username, password)
    return ctx, password


def lot_ref(ctx: ServiceContext, lot_number: str, product: str | None) -> LotRef:
    """The lot named on the command line; a lot number several products use lists them (exit 1)."""
    try:
        return find_lot(ctx, lot_number, product)
    except AmbiguousLot as error:
        raise CommandError(
            EXIT_DATA,
            f"error: lot {error.lot_number} exists for {len(error.product_names)} products; "
            "choose one with --product NAME:",
            *(f"  {name}" for name in error.product_names),
        ) from error


def run_guarded(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; every expected failure becomes one line per problem on stderr and an exit code."""
    try:
        return handler(args)
    except CommandError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return error.code
    except (PermissionDenied, SignInFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DENIED
    except NotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DATA
    except RegistryError as error:
        lines = [str(e) for e in getattr(error, "errors", [])] or [str(error)]
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:
        # The reader stopped early (`registry-app flags | head`): not an error of the data. Python would
        # otherwise report the pipe again when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):  # ValueError: stdout is no real file (tests)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted: nothing more was written", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"error: {error.strerror or error}: {getattr(error, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_DATA
    except Exception as error:
        from sqlalchemy.exc import SQLAlchemyError

        from ..diagnostics import log_path, log_unexpected

        kind = "database error" if isinstance(error, SQLAlchemyError) else "unexpected error"
        detail = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else type(error).__name__
        log_unexpected(error, f"command {getattr(args, 'command', None)}")
        print(f"error: {kind}: {detail}; nothing was changed (details in {log_path()})", file=sys.stderr)
        return EXIT_DATA
