"""Entry point: with no command the desktop application, otherwise the command line.

Kept apart from `cli` so that the command line never imports Qt (an import-linter contract).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from . import __version__


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import build_parser, run_command

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from .diagnostics import configure_logging

    configure_logging()
    logging.getLogger("registry_app").info("registry-app %s: %s", __version__, args.command or "desktop")
    if args.command is None:
        from .ui.app import run_desktop

        return run_desktop(args)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
