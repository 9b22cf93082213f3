"""Every command's --help ends with an example (shared/cli.md); every command of cli.md's table is there."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from registry_app.cli import build_parser, main


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
        return
    for name, child in subparsers[0].choices.items():
        yield from _leaves(child, (*path, name))


def test_every_command_has_an_example() -> None:
    missing = [
        " ".join(path)
        for path, parser in _leaves(build_parser())
        if "registry-app" not in (parser.epilog or "") or "example" not in (parser.epilog or "")
    ]
    assert not missing, f"no example in --help of: {missing}"


CLI_MD_COMMANDS = [
    "db upgrade",
    "demo",
    "site set",
    "site add",
    "site list",
    "user add",
    "user list",
    "user set-role",
    "user disable",
    "user unlock",
    "user reset-password",
    "user grant",
    "user revoke",
    "import lots",
    "import administrations",
    "flags",
    "trace",
    "recall",
    "export",
    "report compliance",
    "bundle",
    "backup",
    "restore",
    "audit verify",
    "audit head",
    "release",
    "reject",
    "destroy",
    "waive",
    "unwaive",
    "notify",
    "result add",
    "result void",
    "product set-status",
    "document attach",
    "document list",
    "ae add",
    "ae report",
    "excursion add",
    "excursion resolve",
]


def test_every_command_of_cli_md_is_there() -> None:
    present = {" ".join(path) for path, _ in _leaves(build_parser())}
    assert sorted(set(CLI_MD_COMMANDS) - present) == []


def test_help_exits_0_with_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["waive", "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:\n  registry-app waive UNDOC-SUPPLIER" in out
