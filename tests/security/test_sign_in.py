"""Issue 17: signing in gives a guesser nothing to go on, passwords follow the policy, hashes the OWASP cost.

Locked, disabled, unknown and wrong-password attempts answer alike and wait alike (a delay growing with each
failure, recorded by tests/conftest.py's `sign_in_delays` instead of slept); passwords are 12+ characters and
not common; new hashes use scrypt N=2**17, r=8, p=1 and older ones are replaced at the next sign-in."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import select, update

from registry_app.db import Database, open_database
from registry_app.db.engine import sqlite_url_for
from registry_app.domain import AuditEntry, User
from registry_app.services import ConflictError, ServiceContext, SignInFailed, ValidationError
from registry_app.services.auth import (
    MAX_FAILED_ATTEMPTS,
    WRONG_CREDENTIALS,
    FailureDelay,
    create_first_user,
    create_user,
    disable_user,
    reset_password,
    set_role,
    sign_in,
)
from registry_app.services.passwords import (
    OWASP_COST,
    ScryptCost,
    common_passwords,
    current_cost,
    hash_password,
    verify_password,
)

from ..conftest import PASSWORDS

REPO = Path(__file__).resolve().parents[2]


def _refusal(registry: ServiceContext, name: str, password: str) -> str:
    with pytest.raises(SignInFailed) as failure:
        sign_in(registry, name, password)
    assert registry.actor is None
    return str(failure.value)


def _lock(registry: ServiceContext, name: str) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS):
        _refusal(registry, name, "not-the-password")


def test_locked_disabled_unknown_and_wrong_password_answer_alike(
    registry: ServiceContext, admin: ServiceContext, db: Database
) -> None:
    _lock(registry, "pharmacist")
    disable_user(admin, "inspector", reason="left")
    answers = {
        "wrong password": _refusal(registry, "director", "not-the-password"),
        "unknown user": _refusal(registry, "nobody-here", PASSWORDS["director"]),
        "locked, right password": _refusal(registry, "pharmacist", PASSWORDS["pharmacist"]),
        "disabled, right password": _refusal(registry, "inspector", PASSWORDS["inspector"]),
    }
    assert set(answers.values()) == {WRONG_CREDENTIALS}, answers
    # The admin still learns the real reason from the audit trail.
    with db.read() as session:
        reasons = session.execute(
            select(AuditEntry.username, AuditEntry.reason).where(AuditEntry.action == "sign-in refused")
        ).all()
    assert set(reasons) == {("pharmacist", "locked"), ("inspector", "inactive")}


def test_the_delay_grows_alike_for_every_kind_of_failure(
    registry: ServiceContext, admin: ServiceContext, sign_in_delays: list[float]
) -> None:
    expected = [FailureDelay().seconds(n) for n in range(1, 8)]
    assert expected[:4] == [0.5, 1.0, 2.0, 4.0] and expected[-1] == FailureDelay().cap
    kinds = {}
    for name, password in (("director", "not-the-password"), ("nobody-here", "not-the-password")):
        sign_in_delays.clear()
        for _ in range(7):
            _refusal(registry, name, password)
        kinds[name] = list(sign_in_delays)
    # A locked account with its right password: the delay goes on growing as if the password were wrong.
    disable_user(admin, "inspector")
    sign_in_delays.clear()
    for _ in range(7):
        _refusal(registry, "inspector", PASSWORDS["inspector"])
    kinds["inspector (disabled)"] = list(sign_in_delays)
    assert all(delays == expected for delays in kinds.values()), kinds
    sign_in_delays.clear()
    sign_in(registry, "pharmacist", PASSWORDS["pharmacist"])
    assert sign_in_delays == [], "a success waits for nothing"


def test_the_delay_is_injected_and_can_be_turned_off() -> None:
    slept: list[float] = []
    delay = FailureDelay(base=0.25, cap=1.0, sleep=slept.append)
    for failures in range(5):
        delay(failures)
    assert slept == [0.25, 0.5, 1.0, 1.0]
    off = FailureDelay(base=0.0, sleep=slept.append)
    off(3)
    assert slept == [0.25, 0.5, 1.0, 1.0]


@pytest.mark.parametrize("password", ["short-pw", "elevenchars", "Password1234", "QWERTYUIOP123", "123456789012"])
def test_weak_passwords_are_refused_everywhere(admin: ServiceContext, tmp_path: Path, password: str) -> None:
    with pytest.raises(ValidationError) as new_user:
        create_user(admin, "newcomer", "pharmacist", password)
    assert new_user.value.for_field("password")
    with pytest.raises(ValidationError) as reset:
        reset_password(admin, "pharmacist", password)
    assert reset.value.for_field("password")
    database = open_database(sqlite_url_for(tmp_path / "new.sqlite3"))
    try:
        with pytest.raises(ValidationError) as first:
            create_first_user(ServiceContext(database), "root", "admin", password)
        assert first.value.for_field("password")
    finally:
        database.dispose()
    create_user(admin, "newcomer", "pharmacist", "twelve-chars")  # exactly 12, not common: accepted


def test_common_passwords_ship_as_package_data() -> None:
    shipped = resources.files("registry_app.services").joinpath("common_passwords.txt")
    assert shipped.is_file()
    assert len(common_passwords()) >= 100 and "password1234" in common_passwords()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "common_passwords.txt" in pyproject["tool"]["setuptools"]["package-data"]["registry_app.services"]


@pytest.mark.parametrize("name", ["line\nbreak", "nul\x00byte", "escape\x1b[31m", "tab\tname", "bell\x07"])
def test_user_names_are_printable(admin: ServiceContext, name: str) -> None:
    with pytest.raises(ValidationError) as bad:
        create_user(admin, name, "pharmacist", "long-enough-password")
    assert bad.value.for_field("username")


def test_new_hashes_use_owasp_scrypt_cost_by_default() -> None:
    """In a fresh process (tests/conftest.py lowers the cost for this one): N=2**17, r=8, p=1."""
    assert ScryptCost(n=2**17, r=8, p=1) == OWASP_COST
    code = (
        "from registry_app.services.passwords import hash_password, verify_password as v\n"
        "h = hash_password('correct horse battery')\n"
        "print(h.rsplit('$', 2)[0], v('correct horse battery', h))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert result.stdout.split() == ["scrypt$131072$8$1", "True"]


def test_an_older_hash_is_replaced_at_sign_in(registry: ServiceContext, db: Database) -> None:
    cost = current_cost()
    old = hash_password(PASSWORDS["director"], ScryptCost(cost.n // 2, cost.r, cost.p))
    with db.write() as session:
        session.execute(update(User).where(User.username == "director").values(password_hash=old))
    sign_in(registry, "director", PASSWORDS["director"])
    with db.read() as session:
        stored = session.execute(select(User.password_hash).where(User.username == "director")).scalar_one()
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
    assert stored != old and stored.startswith(f"scrypt${cost.n}${cost.r}${cost.p}$")
    assert verify_password(PASSWORDS["director"], stored)
    assert entry.action == "sign-in" and json.loads(entry.after or "{}").get("password") == "(rehashed)"
    assert PASSWORDS["director"] not in (entry.after or "") + (entry.before or "")


def test_set_role_changes_the_role_and_is_audited(
    admin: ServiceContext, registry: ServiceContext, db: Database
) -> None:
    set_role(admin, "pharmacist", "medical_director", reason="promoted")
    assert sign_in(registry, "pharmacist", PASSWORDS["pharmacist"]).role == "medical_director"
    with db.read() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "set role")).scalar_one()
    assert json.loads(entry.before or "{}") == {"role": "pharmacist"}
    # The role changed at every place the user had one: here their group role (the template's users have one).
    assert json.loads(entry.after or "{}") == {"role": "medical_director", "sites": ["all"]}
    assert entry.reason == "promoted"
    with pytest.raises(ConflictError):
        set_role(admin, "admin", "pharmacist")  # the registry could be left without an admin
    with pytest.raises(ValidationError):
        set_role(admin, "pharmacist", "surgeon")


def test_a_password_reset_while_it_was_checked_wins(
    registry: ServiceContext, admin: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scrypt runs before the write transaction (so a sign-in does not hold the write lock for half a second);
    a reset in between must not let the old password in."""
    from registry_app.services import auth

    check = auth._verify

    def reset_meanwhile(*args: object) -> object:
        verified = check(*args)  # type: ignore[arg-type]
        reset_password(admin, "pharmacist", "reset-in-between", reason="race")
        return verified

    monkeypatch.setattr(auth, "_verify", reset_meanwhile)
    assert _refusal(registry, "pharmacist", PASSWORDS["pharmacist"]) == WRONG_CREDENTIALS


def test_two_sign_ins_racing_over_a_rehash_both_succeed(
    registry: ServiceContext, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two windows signing in at once with an old hash: the second finds the first's new hash, and is let in."""
    from registry_app.services import auth

    cost = current_cost()
    with db.write() as session:
        session.execute(
            update(User)
            .where(User.username == "director")
            .values(password_hash=hash_password(PASSWORDS["director"], ScryptCost(cost.n // 2, cost.r, cost.p)))
        )
    check = auth._verify

    def other_window_first(*args: object) -> object:
        verified = check(*args)  # type: ignore[arg-type]
        monkeypatch.setattr(auth, "_verify", check)
        sign_in(ServiceContext(db), "director", PASSWORDS["director"])  # rehashes meanwhile
        return verified

    monkeypatch.setattr(auth, "_verify", other_window_first)
    assert sign_in(registry, "director", PASSWORDS["director"]).username == "director"


def test_reactivation_starts_the_failure_count_afresh(
    registry: ServiceContext, admin: ServiceContext, db: Database
) -> None:
    from registry_app.services.auth import reactivate_user

    disable_user(admin, "inspector")
    for _ in range(MAX_FAILED_ATTEMPTS + 1):
        _refusal(registry, "inspector", PASSWORDS["inspector"])
    reactivate_user(admin, "inspector")
    _refusal(registry, "inspector", "a-typo-in-it")
    with db.read() as session:
        user = session.execute(select(User).where(User.username == "inspector")).scalar_one()
    assert (user.failed_attempts, user.locked) == (1, False)
