"""Signing in, re-authenticating to sign, electronic signatures, and user administration.

A wrong name and a wrong password give the same answer and take the same time. Five failed attempts in a
row lock the account until an admin unlocks it. Users are deactivated, never deleted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain import Signature, User, utcnow
from ..domain.vocab import Role, SignatureMeaning
from .audit import AuditRecord, append, snapshot
from .context import ADMIN, Actor, ServiceContext, changing, retry_transient
from .errors import ConflictError, FieldError, NotFound, PermissionDenied, SignInFailed, ValidationError
from .passwords import DUMMY_HASH, hash_password, verify_password

MAX_FAILED_ATTEMPTS = 5
MIN_PASSWORD_LENGTH = 8
WRONG_CREDENTIALS = "the user name or password is wrong"


def _actor(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.full_name)


def _user_by_name(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()


def has_users(ctx_or_db: Any) -> bool:
    db = getattr(ctx_or_db, "db", ctx_or_db)
    with db.read() as session:
        return session.execute(select(func.count(User.id))).scalar_one() > 0


def _check_password(session: Session, username: str, password: str, purpose: str) -> User:
    """Verify in the caller's transaction, recording a failure (and locking at the fifth) in it."""
    user = _user_by_name(session, username)
    if user is None:
        verify_password(password, DUMMY_HASH)
        append(session, None, username[:80], AuditRecord(f"{purpose} failed", "user", None, reason=WRONG_CREDENTIALS))
        raise SignInFailed(WRONG_CREDENTIALS)
    if not verify_password(password, user.password_hash):
        if user.active and not user.locked:
            user.failed_attempts += 1
            if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
                user.locked = True
        after = {"failed_attempts": user.failed_attempts, "locked": user.locked}
        append(session, user.id, user.username, AuditRecord(f"{purpose} failed", "user", user.id, after=after))
        raise SignInFailed(WRONG_CREDENTIALS)
    if user.locked:
        append(session, user.id, user.username, AuditRecord(f"{purpose} refused", "user", user.id, reason="locked"))
        raise SignInFailed("this account is locked after too many failed attempts; ask an administrator to unlock it")
    if not user.active:
        append(session, user.id, user.username, AuditRecord(f"{purpose} refused", "user", user.id, reason="inactive"))
        raise SignInFailed("this account is deactivated; ask an administrator")
    return user


def _authenticate(ctx_db: Any, username: str, password: str, purpose: str) -> Actor:
    failure: SignInFailed | None = None

    def attempt() -> Actor:
        nonlocal failure
        failure = None  # a retried transaction starts afresh
        with ctx_db.write() as session:
            try:
                user = _check_password(session, username, password, purpose)
            except SignInFailed as error:
                failure = error  # the failed attempt commits with this transaction; raised after it
                return Actor(None, username, "")
            cleared = user.failed_attempts
            if cleared:
                user.failed_attempts = 0
            if purpose == "sign-in":
                after = {"failed_attempts": 0} if cleared else None
                before = {"failed_attempts": cleared} if cleared else None
                append(session, user.id, user.username, AuditRecord("sign-in", "user", user.id, before, after))
            return _actor(user)

    actor = retry_transient(attempt)
    if failure is not None:
        raise failure
    return actor


def sign_in(ctx: ServiceContext, username: str, password: str) -> Actor:
    """Check the credentials; on success the context acts as that user from now on."""
    ctx.actor = _authenticate(ctx.db, username, password, "sign-in")
    return ctx.actor


def reauthenticate(ctx: ServiceContext, password: str) -> Actor:
    """21 CFR 11.200: the signer enters the password again at each signing. A wrong password is recorded
    (and counts towards the lock) in its own transaction; nothing else is written."""
    if ctx.actor is None or ctx.actor.user_id is None:
        raise PermissionDenied("sign in before signing")
    return _authenticate(ctx.db, ctx.actor.username, password, "signature")


def content_hash(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def add_signature(
    session: Session, signer: Actor, meaning: SignatureMeaning | str, subject_type: str, subject_id: Any,
    content: Any,
) -> Signature:
    """Record a signature (name, time, meaning, hash of what was signed) in the caller's transaction.

    Call `reauthenticate` first. The calling service's own audit entry names the signature (its id and
    meaning in `after`), so one signed action is one audit entry."""
    if signer.user_id is None:
        raise PermissionDenied("only a signed-in user can sign")
    signature = Signature(
        user_id=signer.user_id, signer_name=signer.display_name, meaning=str(meaning), subject_type=subject_type,
        subject_id=str(subject_id), content_hash=content_hash(content), signed_at=utcnow(),
    )
    session.add(signature)
    session.flush()
    return signature


def _validate_new_user(username: str, role: str, password: str) -> list[FieldError]:
    problems = []
    if not username.strip() or len(username.strip()) > 80 or any(c.isspace() for c in username.strip()):
        problems.append(FieldError("username", "give a user name of 1 to 80 characters without spaces"))
    if role not in tuple(Role):
        problems.append(FieldError("role", f"{role!r} is not a role; use one of {', '.join(Role)}"))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(FieldError("password", f"use at least {MIN_PASSWORD_LENGTH} characters"))
    return problems


def _insert_user(session: Session, username: str, role: str, password: str, full_name: str | None,
                 is_demo: bool) -> User:
    if _user_by_name(session, username) is not None:
        raise ConflictError(f"a user named {username.strip()!r} exists already")
    user = User(username=username.strip(), role=role, password_hash=hash_password(password), full_name=full_name,
                is_demo=is_demo)
    session.add(user)
    session.flush()
    return user


def create_first_user(ctx: ServiceContext, username: str, role: str, password: str,
                      full_name: str | None = None) -> Actor:
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
        append(session, user.id, user.username, AuditRecord(
            "create user", "user", user.id, before={}, after=snapshot(user, exclude=("password_hash",)),
            reason="first user of the registry"))
        return _actor(user)


@changing("add users", ADMIN)
def create_user(ctx: ServiceContext, username: str, role: str, password: str, full_name: str | None = None,
                is_demo: bool = False) -> int:
    problems = _validate_new_user(username, role, password)
    if problems:
        raise ValidationError(problems)
    with ctx.db.write() as session:
        user = _insert_user(session, username, role, password, full_name, is_demo)
        ctx.audit(session, AuditRecord("create user", "user", user.id, before={},
                                       after=snapshot(user, exclude=("password_hash",))))
        return user.id


def _change_user(ctx: ServiceContext, username: str, action: str, reason: str | None, **values: Any) -> None:
    with ctx.db.write() as session:
        user = _user_by_name(session, username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        before = {k: getattr(user, k) for k in values if k != "password_hash"}
        for key, value in values.items():
            setattr(user, key, value)
        after = {k: getattr(user, k) for k in values if k != "password_hash"}
        if "password_hash" in values:
            before["password"], after["password"] = "(previous)", "(reset)"
        ctx.audit(session, AuditRecord(action, "user", user.id, before=before, after=after, reason=reason))


@changing("deactivate users", ADMIN)
def deactivate_user(ctx: ServiceContext, username: str, reason: str | None = None) -> None:
    if ctx.actor is not None and username == ctx.actor.username:
        raise ConflictError("you cannot deactivate your own account")
    _change_user(ctx, username, "deactivate user", reason, active=False)


@changing("reactivate users", ADMIN)
def reactivate_user(ctx: ServiceContext, username: str, reason: str | None = None) -> None:
    _change_user(ctx, username, "reactivate user", reason, active=True)


@changing("unlock users", ADMIN)
def unlock_user(ctx: ServiceContext, username: str, reason: str | None = None) -> None:
    _change_user(ctx, username, "unlock user", reason, locked=False, failed_attempts=0)


@changing("reset passwords", ADMIN)
def reset_password(ctx: ServiceContext, username: str, new_password: str, reason: str | None = None) -> None:
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"use at least {MIN_PASSWORD_LENGTH} characters", field="password")
    # A demo user given a password of its own no longer has the documented one (the sign-in hint drops it).
    _change_user(ctx, username, "reset password", reason, password_hash=hash_password(new_password),
                 locked=False, failed_attempts=0, is_demo=False)


def list_users(ctx: ServiceContext) -> list[dict[str, Any]]:
    ctx.require((Role.ADMIN, Role.MEDICAL_DIRECTOR, Role.INSPECTOR), "list users")
    with ctx.db.read() as session:
        users = session.execute(select(User).order_by(User.username)).scalars().all()
        return [snapshot(u, exclude=("password_hash",)) for u in users]
