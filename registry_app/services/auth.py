"""Signing in, re-authenticating to sign, electronic signatures, and user administration.

A wrong name, a wrong password, a locked and a disabled account all get the same answer, at the same cost,
after the same growing delay: a guesser learns nothing about which accounts exist or are locked (the audit
trail keeps the real reason for the admin). Five failed attempts in a row lock the account until an admin
unlocks it. Users are disabled, never deleted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.domain import AuditEntry, Signature, User, utcnow
from registry_app.domain.vocab import Role, SignatureMeaning
from registry_app.services import memberships
from registry_app.services.audit import AuditRecord, append, snapshot
from registry_app.services.context import ADMIN, Actor, ServiceContext, changing, current_site, retry_transient
from registry_app.services.errors import (
    ConflictError,
    FieldError,
    NotFound,
    PermissionDenied,
    SignInFailed,
    ValidationError,
)
from registry_app.services.passwords import dummy_hash, hash_password, needs_rehash, password_problem, verify_password

MAX_FAILED_ATTEMPTS = 5
WRONG_CREDENTIALS = "the user name or password is wrong"


@dataclass
class FailureDelay:
    """How long a failed sign-in waits before it answers: `base * 2**(failures - 1)` seconds, at most `cap`.

    It slows an online guesser down on top of the lock, and also for names that do not exist (which have no
    lock). `sleep` is what waits: tests/conftest.py swaps in a recorder, so no test sleeps for real."""

    base: float = 0.5
    cap: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def seconds(self, failures: int) -> float:
        return 0.0 if failures <= 0 else min(self.cap, self.base * 2 ** (failures - 1))

    def __call__(self, failures: int) -> None:
        seconds = self.seconds(failures)
        if seconds > 0:
            self.sleep(seconds)


FAILURE_DELAY = FailureDelay()


class _Refused(Exception):
    """A failed attempt, recorded in the transaction; `failures` in a row so far for the name (for the delay)."""

    def __init__(self, failures: int) -> None:
        super().__init__(failures)
        self.failures = failures


def _actor(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.full_name)


def _user_by_name(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()


def has_users(ctx_or_db: Any) -> bool:
    db: Database = getattr(ctx_or_db, "db", ctx_or_db)
    with db.read() as session:
        return session.execute(select(func.count(User.id))).scalar_one() > 0


def _unknown_name_failures(session: Session, name: str) -> int:
    """Failed attempts recorded for a name no user has: it has no counter of its own, and its delay must grow
    like a real user's, or the delay would tell which names exist."""
    return session.execute(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.entity_type == "user",
            AuditEntry.entity_id.is_(None),
            AuditEntry.username == name,
            AuditEntry.action.in_(("sign-in failed", "signature failed")),
        )
    ).scalar_one()


@dataclass(frozen=True)
class _Verified:
    """The outcome of scrypt, worked out before the write transaction (see `_authenticate`)."""

    stored: str | None  # the hash it was checked against; None: no such user (checked against a dummy)
    correct: bool
    new_hash: str | None  # the password at the current cost, when `stored` was made at an older one


def _verify(ctx_db: Any, username: str, password: str, purpose: str) -> _Verified:
    with ctx_db.read() as session:
        stored = session.execute(
            select(User.password_hash).where(User.username == username.strip())
        ).scalar_one_or_none()
    # Every outcome costs one scrypt (a dummy hash for a name nobody has), so the time tells nothing.
    correct = verify_password(password, stored if stored is not None else dummy_hash())
    rehash = correct and stored is not None and purpose == "sign-in" and needs_rehash(stored)
    return _Verified(stored, correct and stored is not None, hash_password(password) if rehash else None)


def _record_attempt(session: Session, username: str, password: str, verified: _Verified, purpose: str) -> User:
    """Record the attempt in the caller's transaction: a failure (locking at the fifth) is raised as _Refused."""
    user = _user_by_name(session, username)
    if user is None:
        name = username[:80]
        append(session, None, name, AuditRecord(f"{purpose} failed", "user", None, reason=WRONG_CREDENTIALS))
        raise _Refused(_unknown_name_failures(session, name))
    correct = verified.correct
    if user.password_hash != verified.stored:
        # Changed since it was checked (an admin's reset, or another window's rehash at sign-in): check again
        # against what is stored now. Rare, so the cost inside the transaction does not matter.
        correct = verify_password(password, user.password_hash)
    if correct and user.active and not user.locked:
        return user
    # Every attempt on a locked or disabled account counts as a failure too: its delay then grows exactly as
    # for a wrong password, so neither the answer nor the time tells the guesser that the password was right.
    user.failed_attempts += 1
    if user.active and not user.locked and user.failed_attempts >= MAX_FAILED_ATTEMPTS:
        user.locked = True
    after = {"failed_attempts": user.failed_attempts, "locked": user.locked}
    if correct:
        reason = "inactive" if not user.active else "locked"
        append(
            session,
            user.id,
            user.username,
            AuditRecord(f"{purpose} refused", "user", user.id, after=after, reason=reason),
        )
    else:
        append(session, user.id, user.username, AuditRecord(f"{purpose} failed", "user", user.id, after=after))
    raise _Refused(user.failed_attempts)


def _placed(session: Session, user: User, site_code: str | None) -> Actor | None:
    """The user as they act at the site: their role there (services/memberships.py), or None without one."""
    site = current_site(session, site_code)
    placement = memberships.role_at(session, user.id, site)
    if placement is None:
        return None
    return Actor(user.id, user.username, placement.role, user.full_name, placement.site_id)


def _authenticate(ctx_db: Any, username: str, password: str, purpose: str, site_code: str | None = None) -> Actor:
    # scrypt at the OWASP cost takes about half a second (a second with a rehash): done before the write
    # transaction, so that signing in does not hold the registry's write lock (BEGIN IMMEDIATE) that long.
    verified = _verify(ctx_db, username, password, purpose)
    failures = 0
    unplaced = ""  # the site the user has no role at (the right password: refused, but not a failed attempt)

    def attempt() -> Actor:
        nonlocal failures, unplaced
        failures, unplaced = 0, ""  # a retried transaction starts afresh
        with ctx_db.write() as session:
            try:
                user = _record_attempt(session, username, password, verified, purpose)
            except _Refused as refused:
                failures = refused.failures  # the failed attempt commits with this transaction; raised after it
                return Actor(None, username, "")
            cleared = user.failed_attempts
            if cleared:
                user.failed_attempts = 0
            placed = _placed(session, user, site_code)
            if placed is None:
                unplaced = current_site(session, site_code).code
                record = AuditRecord(f"{purpose} refused", "user", user.id, reason=f"no role at site {unplaced}")
                append(session, user.id, user.username, record)
                return Actor(None, username, "")
            if purpose == "sign-in":
                before: dict[str, Any] = {"failed_attempts": cleared} if cleared else {}
                after: dict[str, Any] = {"failed_attempts": 0} if cleared else {}
                if verified.new_hash is not None and user.password_hash == verified.stored:
                    # A hash from before the current scrypt cost: the password is in hand only now, at sign-in.
                    user.password_hash = verified.new_hash
                    before["password"], after["password"] = "(older scrypt cost)", "(rehashed)"
                append(
                    session,
                    user.id,
                    user.username,
                    AuditRecord("sign-in", "user", user.id, before or None, after or None),
                )
            return placed

    actor = retry_transient(attempt)
    if failures:
        FAILURE_DELAY(failures)
        raise SignInFailed(WRONG_CREDENTIALS)
    if unplaced:
        raise PermissionDenied(
            f"{username.strip()} has no role at site {unplaced}: an admin can grant one "
            f"(registry-app user grant {username.strip()} --site {unplaced} --role ROLE), or sign in at another site"
        )
    return actor


def sign_in(ctx: ServiceContext, username: str, password: str) -> Actor:
    """Check the credentials; on success the context acts as that user from now on."""
    ctx.actor = _authenticate(ctx.db, username, password, "sign-in", ctx.site_code)
    return ctx.actor


def reauthenticate(ctx: ServiceContext, password: str) -> Actor:
    """21 CFR 11.200: the signer enters the password again at each signing. A wrong password is recorded
    (and counts towards the lock) in its own transaction; nothing else is written."""
    if ctx.actor is None or ctx.actor.user_id is None:
        raise PermissionDenied("sign in before signing")
    return _authenticate(ctx.db, ctx.actor.username, password, "signature", ctx.site_code)


def content_hash(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def add_signature(
    session: Session,
    signer: Actor,
    meaning: SignatureMeaning | str,
    subject_type: str,
    subject_id: Any,
    content: Any,
) -> Signature:
    """Record a signature (name, time, meaning, hash of what was signed) in the caller's transaction.

    Call `reauthenticate` first. The calling service's own audit entry names the signature (its id and
    meaning in `after`), so one signed action is one audit entry."""
    if signer.user_id is None:
        raise PermissionDenied("only a signed-in user can sign")
    signature = Signature(
        user_id=signer.user_id,
        signer_name=signer.display_name,
        meaning=str(meaning),
        subject_type=subject_type,
        subject_id=str(subject_id),
        content_hash=content_hash(content),
        signed_at=utcnow(),
    )
    session.add(signature)
    session.flush()
    return signature


def username_problem(username: str) -> str | None:
    name = username.strip()
    # Printable only: a control character (newline, escape, NUL) in a name would forge lines in the audit
    # trail's exports and logs, or hide the name on screen.
    if not name or len(name) > 80 or not name.isprintable() or any(c.isspace() for c in name):
        return "give a user name of 1 to 80 printable characters without spaces"
    return None


def _validate_new_user(username: str, role: str, password: str) -> list[FieldError]:
    problems = []
    if (problem := username_problem(username)) is not None:
        problems.append(FieldError("username", problem))
    if role not in tuple(Role):
        problems.append(FieldError("role", f"{role!r} is not a role; use one of {', '.join(Role)}"))
    if (problem := password_problem(password)) is not None:
        problems.append(FieldError("password", problem))
    return problems


def _insert_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    full_name: str | None,
    is_demo: bool,
    site_id: int | None = None,
    by_id: int | None = None,
) -> User:
    """A new user with their role at the site `site_id`, or (None) at every site of the group."""
    if _user_by_name(session, username) is not None:
        raise ConflictError(f"a user named {username.strip()!r} exists already", field="username")
    user = User(
        username=username.strip(),
        role=role,
        password_hash=hash_password(password),
        full_name=full_name,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    memberships.add_membership(session, user.id, site_id, role, by_id)
    return user


def create_first_user(
    ctx: ServiceContext, username: str, role: str, password: str, full_name: str | None = None
) -> Actor:
    """On a registry with no users the first user is created without signing in, and must be an admin."""
    problems = _validate_new_user(username, role, password)
    if role != Role.ADMIN:
        problems.append(FieldError("role", "the first user of a registry must be an admin"))
    if problems:
        raise ValidationError(problems)
    with ctx.db.write() as session:
        if session.execute(select(func.count(User.id))).scalar_one():
            raise PermissionDenied("the registry has users already: sign in as an admin to add one")
        user = _insert_user(session, username, role, password, full_name, False)
        append(
            session,
            user.id,
            user.username,
            AuditRecord(
                "create user",
                "user",
                user.id,
                before={},
                after=snapshot(user, exclude=("password_hash",)),
                reason="first user of the registry",
            ),
        )
        return _actor(user)


def sign_user_change(
    session: Session, signer: Actor, user: User, action: str, after: dict[str, Any], reason: str | None
) -> None:
    """Sign an account change in the caller's transaction (meaning "approved": the admin approves this change
    to the account) and name the signature in the change's own audit entry (`after`), as release does."""
    signature = add_signature(
        session,
        signer,
        SignatureMeaning.APPROVED,
        "user",
        user.id,
        {"action": action, "username": user.username, "after": after, "reason": reason},
    )
    after.update(signature_id=signature.id, signature_meaning=signature.meaning, signed_by=signature.signer_name)


def admin_signer(ctx: ServiceContext, password: str) -> Actor:
    """The admin's password typed again (21 CFR 11.200). The role is checked again as it is now: an account
    demoted since it signed in may not sign for account changes any more."""
    signer = reauthenticate(ctx, password)
    if signer.role != Role.ADMIN:
        raise PermissionDenied(f"{signer.username} is no longer an admin and may not sign changes to accounts")
    return signer


def _create_user(
    ctx: ServiceContext,
    username: str,
    role: str,
    password: str,
    full_name: str | None,
    is_demo: bool,
    signer_password: str | None = None,
    reason: str | None = None,
    site_code: str | None = None,
) -> int:
    problems = _validate_new_user(username, role, password)
    if problems:
        raise ValidationError(problems)
    signer = admin_signer(ctx, signer_password) if signer_password is not None else None
    with ctx.db.write() as session:
        site = current_site(session, site_code) if site_code and site_code != memberships.GROUP else None
        actor_site = ctx.actor.site_id if ctx.actor else None
        if actor_site is not None and (site is None or site.id != actor_site):
            raise PermissionDenied("an admin of one site adds users at that site only: give --site with its code")
        by_id = ctx.actor.user_id if ctx.actor else None
        user = _insert_user(session, username, role, password, full_name, is_demo, site.id if site else None, by_id)
        after = {**snapshot(user, exclude=("password_hash",)), "site": site.code if site else memberships.GROUP}
        if signer is not None:
            sign_user_change(session, signer, user, "create user", after, reason)
        ctx.audit(session, AuditRecord("create user", "user", user.id, before={}, after=after, reason=reason))
        return user.id


@changing("add users", ADMIN)
def create_user(
    ctx: ServiceContext,
    username: str,
    role: str,
    password: str,
    full_name: str | None = None,
    is_demo: bool = False,
    site_code: str | None = None,
) -> int:
    """A new user with `role` at the site `site_code`, or at every site (None or "all", as before sites)."""
    return _create_user(ctx, username, role, password, full_name, is_demo, site_code=site_code)


def _change_user(
    ctx: ServiceContext,
    username: str,
    action: str,
    reason: str | None,
    signer_password: str | None = None,
    **values: Any,
) -> None:
    """Change one account; with `signer_password` the change is signed by the admin (typed again first, so a
    wrong password writes nothing but its own failed attempt)."""
    signer = admin_signer(ctx, signer_password) if signer_password is not None else None
    with ctx.db.write() as session:
        user = _user_by_name(session, username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        memberships.check_manages(session, ctx, user)
        before = {k: getattr(user, k) for k in values if k != "password_hash"}
        for key, value in values.items():
            setattr(user, key, value)
        after = {k: getattr(user, k) for k in values if k != "password_hash"}
        if "role" in values:
            by_id = ctx.actor.user_id if ctx.actor else None
            after["sites"] = memberships.set_every_role(session, user, values["role"], by_id)
        if "password_hash" in values:
            before["password"], after["password"] = "(previous)", "(reset)"
        if signer is not None:
            sign_user_change(session, signer, user, action, after, reason)
        ctx.audit(session, AuditRecord(action, "user", user.id, before=before, after=after, reason=reason))


def _not_yourself(ctx: ServiceContext, username: str, what: str, field: str) -> None:
    # An admin demoting or disabling themself could leave the registry with no admin at all; another admin
    # does it. The refusal names its field ("role", "active") so the desktop shows it beside that control.
    if ctx.actor is not None and username.strip() == ctx.actor.username:
        raise ConflictError(f"you cannot {what}: another admin can", field=field)


def _checked_role(role: str) -> str:
    if role not in tuple(Role):
        raise ValidationError(f"{role!r} is not a role; use one of {', '.join(Role)}", field="role")
    return str(role)


def _checked_password(new_password: str) -> str:
    if (problem := password_problem(new_password)) is not None:
        raise ValidationError(problem, field="password")
    return hash_password(new_password)


@changing("disable users", ADMIN)
def disable_user(ctx: ServiceContext, username: str, reason: str | None = None) -> None:
    """The user can no longer sign in; the account and everything it did stay (users are never deleted)."""
    _not_yourself(ctx, username, "disable your own account", "active")
    _change_user(ctx, username, "disable user", reason, active=False)


# Attempts on a disabled account count as failures (see _record_attempt): reactivating starts them afresh, or
# the first wrong password after reactivation would lock the account.
_REACTIVATED: dict[str, Any] = {"active": True, "failed_attempts": 0}
_UNLOCKED: dict[str, Any] = {"locked": False, "failed_attempts": 0}


@changing("reactivate users", ADMIN)
def reactivate_user(ctx: ServiceContext, username: str, reason: str | None = None) -> None:
    _change_user(ctx, username, "reactivate user", reason, **_REACTIVATED)


@changing("unlock users", ADMIN)
def unlock_user(ctx: ServiceContext, username: str, reason: str | None = None) -> None:
    _change_user(ctx, username, "unlock user", reason, **_UNLOCKED)


@changing("reset passwords", ADMIN)
def reset_password(ctx: ServiceContext, username: str, new_password: str, reason: str | None = None) -> None:
    # A demo user given a password of its own no longer has the documented one (the sign-in hint drops it).
    _change_user(
        ctx,
        username,
        "reset password",
        reason,
        password_hash=_checked_password(new_password),
        **_UNLOCKED,
        is_demo=False,
    )


@changing("change roles", ADMIN)
def set_role(ctx: ServiceContext, username: str, role: str, reason: str | None = None) -> None:
    role = _checked_role(role)
    _not_yourself(ctx, username, "change your own role", "role")
    _change_user(ctx, username, "set role", reason, role=role)


# --- the same, electronically signed: the desktop's Users editor ----------------------------------------------
# Who may sign in, and with which powers, decides who may release lots and sign for patients: each change made
# from the desktop is signed by the admin (the password typed again, as at release), in the change's own
# transaction and audit entry. Inputs are checked first, so a mistyped form costs no password attempt.


@changing("add users", ADMIN)
def signed_create_user(
    ctx: ServiceContext,
    username: str,
    role: str,
    password: str,
    full_name: str | None = None,
    *,
    signer_password: str,
    reason: str | None = None,
    site_code: str | None = None,
) -> int:
    """Add a user (`password` is the new user's initial one) with `role` at the site `site_code`, or at every
    site (None or "all"); signed with the admin's `signer_password`."""
    return _create_user(ctx, username, role, password, full_name, False, signer_password, reason, site_code)


@changing("change roles", ADMIN)
def signed_set_role(
    ctx: ServiceContext, username: str, role: str, *, signer_password: str, reason: str | None = None
) -> None:
    role = _checked_role(role)
    _not_yourself(ctx, username, "change your own role", "role")
    _change_user(ctx, username, "set role", reason, signer_password, role=role)


@changing("disable users", ADMIN)
def signed_disable_user(ctx: ServiceContext, username: str, *, signer_password: str, reason: str | None = None) -> None:
    _not_yourself(ctx, username, "disable your own account", "active")
    _change_user(ctx, username, "disable user", reason, signer_password, active=False)


@changing("reactivate users", ADMIN)
def signed_reactivate_user(
    ctx: ServiceContext, username: str, *, signer_password: str, reason: str | None = None
) -> None:
    _change_user(ctx, username, "reactivate user", reason, signer_password, **_REACTIVATED)


@changing("unlock users", ADMIN)
def signed_unlock_user(ctx: ServiceContext, username: str, *, signer_password: str, reason: str | None = None) -> None:
    _change_user(ctx, username, "unlock user", reason, signer_password, **_UNLOCKED)


@changing("reset passwords", ADMIN)
def signed_reset_password(
    ctx: ServiceContext, username: str, new_password: str, *, signer_password: str, reason: str | None = None
) -> None:
    password_hash = _checked_password(new_password)
    _change_user(
        ctx,
        username,
        "reset password",
        reason,
        signer_password,
        password_hash=password_hash,
        **_UNLOCKED,
        is_demo=False,
    )


def list_users(ctx: ServiceContext) -> list[dict[str, Any]]:
    ctx.require((Role.ADMIN, Role.MEDICAL_DIRECTOR, Role.INSPECTOR), "list users")
    with ctx.db.read() as session:
        users = session.execute(select(User).order_by(User.username)).scalars().all()
        roles = memberships.roles_of(session)
        return [{**snapshot(u, exclude=("password_hash",)), "sites": roles.get(u.id, [])} for u in users]
