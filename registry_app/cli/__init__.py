"""The command line of shared/cli.md. The desktop application is
`launcher.main` with no command.

Each area's commands live in their own module with a `register(subparsers)` function; handlers call
services only and report through `common.run_guarded`, so every failure is a message and an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="registry-app", description="Registry of exosome and polynucleotide product lots.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL (default: REGISTRY_DATABASE_URL, else an SQLite file in your data directory)",
    )
    parser.add_argument("--site", metavar="CODE", help="the site to work for (default: the current site)")
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="sign in as NAME (default: REGISTRY_USER); the password comes from REGISTRY_PASSWORD or a prompt",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # Each area registers its own commands; imported here, when the parser is built, not at `import cli`.
    from . import (
        demo_cmd,
        flags_cmd,
        import_cmds,
        lot_cmds,
        record_cmds,
        report_cmds,
        setup_cmds,
        trust_cmds,
        use_cmds,
    )

    for module in (
        setup_cmds,
        demo_cmd,
        import_cmds,
        flags_cmd,
        use_cmds,
        report_cmds,
        trust_cmds,
        lot_cmds,
        record_cmds,
    ):
        module.register(commands)
    _add_completion(parser)
    return parser


def _add_completion(parser: argparse.ArgumentParser) -> None:
    """`--print-completion bash|zsh` when shtab (the optional extra `completion`) is installed: it writes the
    completion script from this very parser, so it never falls behind the commands. Without shtab the option
    is simply absent."""
    try:
        import shtab
    except ImportError:
        return
    shtab.add_argument_to(
        parser,
        ["--print-completion"],
        help="print a bash or zsh completion script, e.g. "
        "registry-app --print-completion bash > ~/.local/share/bash-completion/completions/"
        "registry-app",
    )


def run_command(args: argparse.Namespace) -> int:
    from .common import run_guarded

    return run_guarded(args.handler, args)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line alone (no desktop): `registry-app COMMAND ...`."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return run_command(args)
