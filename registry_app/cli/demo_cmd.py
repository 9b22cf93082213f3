"""`registry-app demo [--lots N] [--seed S]`: fill the registry with realistic demo records."""

from __future__ import annotations

import argparse
import time

from ..services import ValidationError
from ..services.auth import has_users
from ..services.demo import generate as demo
from .common import EXIT_OK, add_command, open_context, signed_in


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "demo",
        "fill the registry with realistic demo records",
        "registry-app --database sqlite:///demo.sqlite3 demo --lots 500 --seed 7",
    )
    parser.add_argument(
        "--lots",
        type=_lot_count,
        default=200,
        metavar="N",
        help=f"how many lots, {demo.MIN_LOTS} to {demo.MAX_LOTS} (default 200)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, metavar="S", help="random seed: the same seed gives the same records (default 1)"
    )
    parser.set_defaults(handler=demo_command)


def _lot_count(text: str) -> int:
    """Checked while the options are read, before the demo accounts are created."""
    try:
        lots = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    try:
        demo.check_lot_count(lots)
    except ValidationError as error:
        raise argparse.ArgumentTypeError("; ".join(error.for_field("lots"))) from None
    return lots


def demo_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    ctx = open_context(args, create=True)
    created: list[tuple[str, str, str]] = []
    if not has_users(ctx):
        created = demo.create_demo_users(ctx)
    else:
        ctx = signed_in(args)
    summary = demo.generate_demo(ctx, lots=args.lots, seed=args.seed)
    counts = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in summary.counts.items())
    print(
        f"demo records added to {ctx.db.display_name} (seed {summary.seed}) in "
        f"{time.perf_counter() - started:.1f} s: {counts}"
    )
    if created:
        print("DEMO ACCOUNTS (for trying the application only; change or deactivate them before real use):")
        for username, role, password in created:
            print(f"  user {username:<11} password {password:<16} role {role}")
    return EXIT_OK
