"""`db upgrade`, `site set`, `user add`: exit codes, messages on stderr, and what reaches the registry."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from registry_app.cli import main
from registry_app.cli.common import run_guarded
from registry_app.db import open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.domain import Site, User

from ..conftest import PASSWORDS
from ..helpers import sqlite_only


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "", env: dict[str, str] | None = None) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    for key in ("REGISTRY_USER", "REGISTRY_PASSWORD", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return main(argv)


def test_db_upgrade_creates_a_new_registry(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--database", empty_database_url, "db", "upgrade"], monkeypatch) == 0
    assert "schema at revision" in capsys.readouterr().out
    database = open_database(empty_database_url, migrate=False)
    with database.read() as session:
        assert session.execute(select(Site.jurisdiction)).scalar_one() == "US"
    database.dispose()


def test_first_user_must_be_admin_and_needs_no_sign_in(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = empty_database_url
    code = run(
        ["--database", url, "user", "add", "lee", "--role", "pharmacist", "--password-stdin"],
        monkeypatch,
        stdin="long-enough-password\n",
    )
    assert code == 1
    assert "first user of a registry must be an admin" in capsys.readouterr().err
    code = run(
        ["--database", url, "user", "add", "root", "--role", "admin", "--password-stdin"],
        monkeypatch,
        stdin="long-enough-password\n",
    )
    assert code == 0
    # A second user needs an admin's sign-in.
    code = run(
        ["--database", url, "user", "add", "lee", "--role", "pharmacist", "--password-stdin"],
        monkeypatch,
        stdin="another-password\n",
    )
    assert code == 3
    assert "sign in as an admin" in capsys.readouterr().err
    code = run(
        ["--database", url, "--user", "root", "user", "add", "lee", "--role", "pharmacist", "--password-stdin"],
        monkeypatch,
        stdin="another-password\n",
        env={"REGISTRY_PASSWORD": "long-enough-password"},
    )
    assert code == 0
    database = open_database(url, migrate=False)
    with database.read() as session:
        assert dict(session.execute(select(User.username, User.role)).all()) == {"root": "admin", "lee": "pharmacist"}
    database.dispose()


def test_site_set_as_admin_changes_the_jurisdiction(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        ["--database", database_url, "--user", "admin", "site", "set", "--name", "Seoul Skin", "--jurisdiction", "kr"],
        monkeypatch,
        env={"REGISTRY_PASSWORD": PASSWORDS["admin"]},
    )
    assert code == 0, capsys.readouterr().err
    assert "jurisdiction KR" in capsys.readouterr().out
    database = open_database(database_url, migrate=False)
    with database.read() as session:
        site = session.execute(select(Site)).scalar_one()
        assert (site.name, site.jurisdiction) == ("Seoul Skin", "KR")
    database.dispose()


@pytest.mark.parametrize(
    ("user", "password", "argv_tail", "expected_code", "message"),
    [
        ("pharmacist", PASSWORDS["pharmacist"], ["--jurisdiction", "KR"], 3, "may not change the site"),
        ("admin", "wrong-password", ["--jurisdiction", "KR"], 3, "user name or password is wrong"),
        ("nobody", "whatever-password", ["--jurisdiction", "KR"], 3, "user name or password is wrong"),
        ("admin", PASSWORDS["admin"], ["--jurisdiction", "USA"], 1, "not a jurisdiction"),
        ("admin", PASSWORDS["admin"], ["--jurisdiction", "QQ"], 1, "not an ISO 3166 country code"),
        ("admin", PASSWORDS["admin"], ["--jurisdiction", "UK"], 1, "did you mean GB?"),
    ],
)
def test_site_set_refusals(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    user: str,
    password: str,
    argv_tail: list[str],
    expected_code: int,
    message: str,
) -> None:
    code = run(
        ["--database", database_url, "--user", user, "site", "set", *argv_tail],
        monkeypatch,
        env={"REGISTRY_PASSWORD": password},
    )
    err = capsys.readouterr().err
    assert code == expected_code
    assert message in err
    assert "Traceback" not in err
    database = open_database(database_url, migrate=False)
    with database.read() as session:
        assert session.execute(select(Site.jurisdiction)).scalar_one() == "US"
    database.dispose()


def test_usage_errors_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["user", "add", "x", "--role", "emperor"], monkeypatch) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert run(["no-such-command"], monkeypatch) == 2


def test_changing_command_on_a_registry_without_users_says_how_to_start(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--database", empty_database_url, "db", "upgrade"], monkeypatch) == 0
    code = run(["--database", empty_database_url, "site", "set", "--jurisdiction", "KR"], monkeypatch)
    assert code == 3
    assert "registry-app user add NAME --role admin" in capsys.readouterr().err


@pytest.mark.qt  # writes a PDF
def test_read_only_commands_run_on_a_registry_without_users(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """cli.md: read-only commands need a user only on a database that has users."""
    base = ["--database", empty_database_url]
    assert run([*base, "db", "upgrade"], monkeypatch) == 0
    capsys.readouterr()
    assert run([*base, "flags", "--format", "json"], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run([*base, "export", "lots", "--format", "csv", "--out", str(tmp_path / "lots.csv")], monkeypatch) == 0
    assert (tmp_path / "lots.csv").read_text(encoding="utf-8-sig").startswith("lot_id,lot_number,")
    # The last day of the calendar ends an open period rather than overflowing.
    assert (
        run(
            [
                *base,
                "report",
                "compliance",
                "--from",
                "2026-01-01",
                "--to",
                "9999-12-31",
                "--out",
                str(tmp_path / "report.pdf"),
            ],
            monkeypatch,
        )
        == 0
    )
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    capsys.readouterr()
    assert (
        run(
            [
                *base,
                "export",
                "administrations",
                "--format",
                "csv",
                "--out",
                str(tmp_path / "a.csv"),
                "--include-patient-refs",
            ],
            monkeypatch,
        )
        == 3
    ), "reading is all such a command may do"
    assert "may not" in capsys.readouterr().err
    assert run([*base, "site", "set", "--jurisdiction", "KR"], monkeypatch) == 3


def test_end_of_input_at_the_password_prompt_is_a_refused_sign_in(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def end_of_input(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("getpass.getpass", end_of_input)
    for key in ("REGISTRY_PASSWORD", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("sys.stdin", Terminal())
    assert main(["--database", database_url, "--user", "admin", "flags"]) == 3
    assert capsys.readouterr().err.strip() == "error: sign in: no password given"


def test_a_reader_that_stops_early_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    def write_to_a_closed_pipe(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert run_guarded(write_to_a_closed_pipe, argparse.Namespace()) == 0
    assert capsys.readouterr().err == ""


@sqlite_only("a SQLite file path")
def test_a_mistyped_registry_path_is_not_taken_for_a_new_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "no-such-folder" / "regsitry.sqlite3"
    for command in (
        ["flags"],
        ["trace", "CX-1"],
        ["audit", "verify"],
        ["site", "set", "--jurisdiction", "KR"],
        ["export", "lots", "--format", "csv", "--out", str(tmp_path / "x.csv")],
    ):
        assert run(["--database", sqlite_url_for(typo), *command], monkeypatch) == 1, command
        assert f"no registry at {typo}" in capsys.readouterr().err
    assert not typo.parent.exists()
    assert run(["--database", sqlite_url_for(typo), "db", "upgrade"], monkeypatch) == 0
    assert typo.exists()


def test_site_add_and_list(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from registry_app.db import Database

    from .runner import last_audit
    from .runner import run as run_as

    add = ["site", "add", "BUSAN", "--name", "Busan clinic", "--jurisdiction", "kr", "--time-zone", "Asia/Seoul"]
    assert run_as(add, monkeypatch, database_url, user="director") == 3
    assert "may not add sites" in capsys.readouterr().err
    assert run_as([*add[:7], "--time-zone", "Mars/Olympus"], monkeypatch, database_url, user="admin") == 1
    assert "IANA" in capsys.readouterr().err
    assert (
        run_as(["site", "add", "all", "--name", "x", "--jurisdiction", "US"], monkeypatch, database_url, user="admin")
        == 1
    )
    assert run_as(["site", "add", "BUSAN"], monkeypatch, database_url, user="admin") == 2
    assert run_as(add, monkeypatch, database_url, user="admin") == 0
    assert capsys.readouterr().out.strip() == ("site BUSAN added: Busan clinic, jurisdiction KR, time zone Asia/Seoul")
    db = Database(database_url)
    audit = last_audit(db)
    db.dispose()
    assert (audit["action"], audit["after"]["code"], audit["username"]) == ("add site", "BUSAN", "admin")
    assert run_as(add, monkeypatch, database_url, user="admin") == 1
    assert "exists already" in capsys.readouterr().err
    assert run_as(["site", "list", "--format", "json"], monkeypatch, database_url, user="inspector") == 0
    listed = json.loads(capsys.readouterr().out)
    assert {s["code"]: (s["jurisdiction"], s["current"]) for s in listed} == {
        "main": ("US", True),
        "BUSAN": ("KR", False),
    }
    # `--site CODE` picks the new site: its jurisdiction is the one the flag rules read.
    assert (
        run_as(
            ["--site", "BUSAN", "flags", "--summary", "--format", "json"], monkeypatch, database_url, user="inspector"
        )
        == 0
    )
    assert run_as(["--site", "NOWHERE", "flags"], monkeypatch, database_url, user="inspector") == 1
    assert "no site with code 'NOWHERE'" in capsys.readouterr().err


def test_user_grant_revoke_and_add_at_a_site(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from .runner import last_audit
    from .runner import run as run_as

    add_site = ["site", "add", "BUSAN", "--name", "Busan clinic", "--jurisdiction", "KR"]
    assert run_as(add_site, monkeypatch, database_url, user="admin") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("kim-password-long\n"))
    monkeypatch.setenv("REGISTRY_USER", "admin")
    monkeypatch.setenv("REGISTRY_PASSWORD", "admin-password")
    argv = ["--database", database_url, "user", "add", "kim", "--role", "pharmacist", "--site", "BUSAN"]
    assert main([*argv, "--password-stdin"]) == 0
    assert "created kim (pharmacist at site BUSAN)" in capsys.readouterr().out
    # The global --site picks where kim signs in: not at main, where kim has no role.
    flags = ["flags", "--summary", "--format", "json"]
    assert run_as(flags, monkeypatch, database_url, user=None) == 3  # no user given
    monkeypatch.setenv("REGISTRY_USER", "kim")
    monkeypatch.setenv("REGISTRY_PASSWORD", "kim-password-long")
    assert main(["--database", database_url, *flags]) == 3
    assert "kim has no role at site main" in capsys.readouterr().err
    assert main(["--database", database_url, "--site", "BUSAN", *flags]) == 0
    capsys.readouterr()
    grant = ["user", "grant", "kim", "--site", "all", "--role", "inspector"]
    assert run_as(grant, monkeypatch, database_url, user="director") == 3
    assert run_as(grant, monkeypatch, database_url, user="admin") == 0
    assert capsys.readouterr().out.strip() == "kim is now inspector at every site"
    database = open_database(database_url)
    granted = last_audit(database)
    assert (granted["action"], granted["username"]) == ("grant role", "admin"), granted
    assert run_as(["user", "list", "--format", "json"], monkeypatch, database_url, user="admin") == 0
    kim = next(u for u in json.loads(capsys.readouterr().out) if u["username"] == "kim")
    assert kim["sites"] == [{"site": "all", "role": "inspector"}, {"site": "BUSAN", "role": "pharmacist"}]
    revoke = ["user", "revoke", "kim", "--site", "BUSAN", "--reason", "moved"]
    assert run_as(revoke, monkeypatch, database_url, user="admin") == 0
    revoked = last_audit(database)
    assert (revoked["action"], revoked["reason"]) == ("revoke role", "moved"), revoked
    database.dispose()
    assert run_as(revoke, monkeypatch, database_url, user="admin") == 1
    assert "kim has no role at site BUSAN" in capsys.readouterr().err
    assert run_as(["user", "grant", "kim", "--site", "BUSAN"], monkeypatch, database_url, user="admin") == 2
