"""Issue 17: `user list / set-role / disable / unlock / reset-password` (shared/cli.md): admin only (exit 3
otherwise, nothing changed), each audited, a missing user or a weak password exit 1 with a one-line message."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from registry_app.cli import main
from registry_app.db import Database
from registry_app.domain import User
from registry_app.services import ServiceContext, SignInFailed
from registry_app.services.auth import MAX_FAILED_ATTEMPTS, sign_in

from ..conftest import PASSWORDS
from ..helpers import audit_count, row_counts


def run(url: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, user: str = "admin", stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("REGISTRY_USER", user)
    monkeypatch.setenv("REGISTRY_PASSWORD", PASSWORDS[user])
    return main(["--database", url, *argv])


def _user(db: Database, name: str) -> User:
    with db.read() as session:
        return session.execute(select(User).where(User.username == name)).scalar_one()


def test_admin_commands_work_and_are_audited(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(SignInFailed):
            sign_in(ServiceContext(db), "pharmacist", "not-the-password")
    assert _user(db, "pharmacist").locked
    entries = audit_count(db)
    assert run(database_url, ["user", "unlock", "pharmacist", "--reason", "phoned"], monkeypatch) == 0
    assert not _user(db, "pharmacist").locked
    assert run(database_url, ["user", "set-role", "pharmacist", "medical_director"], monkeypatch) == 0
    assert _user(db, "pharmacist").role == "medical_director"
    assert (
        run(
            database_url,
            ["user", "reset-password", "pharmacist", "--password-stdin"],
            monkeypatch,
            stdin="a-fresh-password-for-lee\n",
        )
        == 0
    )
    assert sign_in(ServiceContext(db), "pharmacist", "a-fresh-password-for-lee").username == "pharmacist"
    assert run(database_url, ["user", "disable", "inspector"], monkeypatch) == 0
    assert not _user(db, "inspector").active
    # Each command: the admin's sign-in and the change, one audit entry each (plus the sign-in above).
    assert audit_count(db) == entries + 2 * 4 + 1
    capsys.readouterr()
    assert run(database_url, ["user", "list", "--format", "json"], monkeypatch) == 0
    users = {u["username"]: u for u in json.loads(capsys.readouterr().out)}
    assert users["inspector"]["active"] is False and users["pharmacist"]["role"] == "medical_director"
    assert all("password_hash" not in u for u in users.values())


@pytest.mark.parametrize(
    "argv",
    [
        ["user", "unlock", "director"],
        ["user", "disable", "director"],
        ["user", "set-role", "director", "admin"],
        ["user", "reset-password", "director", "--password-stdin"],
    ],
)
def test_only_an_admin_may(
    database_url: str,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    before = row_counts(db)
    code = run(database_url, argv, monkeypatch, user="pharmacist", stdin="a-fresh-password-for-dana\n")
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("error:") and "admin" in err and len(err.strip().splitlines()) == 1
    after = row_counts(db)
    # Only the pharmacist's own sign-in entry was written.
    assert {k: v for k, v in after.items() if k != "audit_entry"} == {
        k: v for k, v in before.items() if k != "audit_entry"
    }
    assert _user(db, "director").role == "medical_director" and _user(db, "director").active


def test_unknown_user_and_weak_password_exit_1(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database_url, ["user", "unlock", "nobody-here"], monkeypatch) == 1
    assert "nobody-here" in capsys.readouterr().err
    assert (
        run(
            database_url,
            ["user", "reset-password", "director", "--password-stdin"],
            monkeypatch,
            stdin="password1234\n",
        )
        == 1
    )
    assert "common" in capsys.readouterr().err
    assert run(database_url, ["user", "set-role", "director", "surgeon"], monkeypatch) == 2
