"""`registry-app flags`: placeholder until the flag listing lands (replaced below)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    return None
