"""Patients' privacy: the pattern a patient reference must follow, the pseudonyms inspectors see instead of
references, and the free text (notes, reasons, narratives) left out of inspectors' outputs.

Pseudonyms are "P-" + the first 10 hex digits of HMAC-SHA256 over the reference with a random key kept per
registry (setting `pseudonym_key`): one patient keeps one pseudonym across outputs, the trace and time, and
nobody without the database can turn a pseudonym back into a reference.

The patient-reference pattern is registry-wide (setting `patient_ref_pattern`), set by an admin. It applies
to what is recorded from then on; references recorded earlier are never rewritten.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry_app.domain import Setting
from registry_app.domain.vocab import Role
from registry_app.reports.data import FREE_TEXT_KEYS, Pseudonym
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord
from registry_app.services.context import ADMIN, ServiceContext, changing
from registry_app.services.errors import PermissionDenied, ValidationError

PSEUDONYM_KEY = "pseudonym_key"
PSEUDONYM_PATTERN = re.compile(r"P-[0-9a-fA-F]{10}")
PATIENT_REF_PATTERN_KEY = "patient_ref_pattern"

# The administration.patient_ref column holds 80 characters; checked apart from the pattern, so that no
# custom pattern lets a longer text through (and no pattern is run over a pasted page of text).
PATIENT_REF_MAX = 80
PATTERN_MAX = 300

_DATE_YMD = r"(?:19|20)\d\d[-/.]?(?:0[1-9]|1[0-2])[-/.]?(?:0[1-9]|[12]\d|3[01])"
_DATE_DMY = r"(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)?\d\d"
# A pseudonymous code such as PT-00412: no spaces (so no "first last"), at least one digit, and nothing that
# reads as a date (a birth date next to initials identifies a patient as well as a name does).
DEFAULT_PATIENT_REF_PATTERN = rf"(?!.*{_DATE_YMD})(?!.*{_DATE_DMY})(?=.*\d)[A-Za-z0-9][A-Za-z0-9._/#-]{{0,79}}"

# A pattern that accepts any of these would let names or birth dates in: refused when an admin sets one.
IDENTIFYING_SAMPLES = ("Jane Doe 1980-04-01", "Jane Doe", "1980-04-01", "Doe 01/04/1980")

# ---- the patient-reference pattern -------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def validate_patient_ref_pattern(pattern: str) -> str:
    """The pattern as given, when it compiles and refuses names and dates; ValidationError otherwise."""
    text = (pattern or "").strip()
    field = "patient_ref_pattern"
    if not text:
        raise ValidationError("give a regular expression (or leave the default)", field=field)
    if len(text) > PATTERN_MAX:
        raise ValidationError(f"the pattern is longer than {PATTERN_MAX} characters", field=field)
    try:
        compiled = re.compile(text)
    except re.error as error:
        raise ValidationError(f"not a valid regular expression: {error}", field=field) from None
    accepted = [sample for sample in IDENTIFYING_SAMPLES if compiled.fullmatch(sample)]
    if accepted:
        raise ValidationError(
            f"the pattern accepts {accepted[0]!r}, a name or a date of birth: "
            "allow only pseudonymous codes (no spaces, no dates)",
            field=field,
        )
    return text


def patient_ref_pattern(session: Session) -> str:
    """The registry's pattern (the default until an admin sets one)."""
    setting = session.get(Setting, PATIENT_REF_PATTERN_KEY)
    return setting.value if setting is not None else DEFAULT_PATIENT_REF_PATTERN


def patient_ref_problem(ref: str, pattern: str) -> str | None:
    """Why `ref` cannot be recorded under `pattern`, or None when it can."""
    if len(ref) > PATIENT_REF_MAX or not _compiled(pattern).fullmatch(ref):
        custom = "" if pattern == DEFAULT_PATIENT_REF_PATTERN else f" (the registry's pattern is {pattern})"
        return (
            "give the clinic's pseudonymous patient reference (such as PT-00412), never a name or a date: "
            f"letters, digits and - . / _ # without spaces, with at least one digit, at most {PATIENT_REF_MAX}"
            f" characters{custom}"
        )
    return None


def store_patient_ref_pattern(session: Session, pattern: str | None) -> tuple[str, str]:
    """Set the pattern inside the caller's transaction (None or "" means the default): (before, after)."""
    before = patient_ref_pattern(session)
    after = validate_patient_ref_pattern(pattern) if pattern and pattern.strip() else DEFAULT_PATIENT_REF_PATTERN
    setting = session.get(Setting, PATIENT_REF_PATTERN_KEY)
    if setting is None:
        session.add(Setting(key=PATIENT_REF_PATTERN_KEY, value=after))
        session.flush()
    else:
        setting.value = after
    return before, after


@changing("change the patient reference pattern", ADMIN)
def set_patient_ref_pattern(ctx: ServiceContext, pattern: str | None) -> str:
    """Set the registry's patient-reference pattern (None or "" restores the default); the pattern in force."""
    site_scope.require_group(ctx, "the patient-reference pattern")
    if pattern and pattern.strip():
        validate_patient_ref_pattern(pattern)  # checked before the transaction opens
    with ctx.db.write() as session:
        before, after = store_patient_ref_pattern(session, pattern)
        ctx.audit(
            session,
            AuditRecord(
                "set patient reference pattern",
                "setting",
                PATIENT_REF_PATTERN_KEY,
                before={"patient_ref_pattern": before},
                after={"patient_ref_pattern": after},
            ),
        )
        return after


def get_patient_ref_pattern(ctx: ServiceContext) -> str:
    with ctx.db.read() as session:
        return patient_ref_pattern(session)


# ---- pseudonyms ---------------------------------------------------------------------------------------------


def pseudonym_for(key: bytes, patient_ref: str) -> str:
    return "P-" + hmac.new(key, patient_ref.strip().encode("utf-8"), hashlib.sha256).hexdigest()[:10]


def make_pseudonymizer(key: bytes | None) -> Pseudonym:
    """Pseudonyms with `key`; with None, the references as recorded (a medical director's explicit choice)."""
    if key is None:
        return lambda ref: ref
    cache: dict[str, str] = {}

    def pseudonym(ref: str | None) -> str | None:
        if ref is None or not ref.strip():
            return ref
        found = cache.get(ref)
        if found is None:
            found = cache[ref] = pseudonym_for(key, ref)
        return found

    return pseudonym


def registry_key(ctx: ServiceContext) -> bytes:
    """The registry's pseudonymization key, created on first use (a registry-wide setting, not audited: it is
    a secret, and creating it changes no record)."""
    with ctx.db.read() as session:
        setting = session.get(Setting, PSEUDONYM_KEY)
        if setting is not None:
            return bytes.fromhex(setting.value)
    try:
        with ctx.db.write() as session:
            setting = session.get(Setting, PSEUDONYM_KEY)
            if setting is None:
                setting = Setting(key=PSEUDONYM_KEY, value=secrets.token_hex(32))
                session.add(setting)
            return bytes.fromhex(setting.value)
    except IntegrityError:  # another process created it at the same moment: use theirs
        with ctx.db.read() as session:
            return bytes.fromhex(session.get(Setting, PSEUDONYM_KEY).value)  # type: ignore[union-attr]


def sees_pseudonyms(ctx: ServiceContext) -> bool:
    """Inspectors see pseudonyms and no free text wherever patients appear (trace, lookback, outputs)."""
    return ctx.actor is not None and ctx.actor.role == Role.INSPECTOR


def patient_view(ctx: ServiceContext) -> Pseudonym:
    """How `ctx`'s user may see a patient reference: as recorded, or for an inspector as the pseudonym. Called
    before the caller's read transaction opens (the key may be created on first use)."""
    return make_pseudonymizer(registry_key(ctx)) if sees_pseudonyms(ctx) else make_pseudonymizer(None)


# ---- free text ----------------------------------------------------------------------------------------------


def check_free_text(ctx: ServiceContext, include_free_text: bool) -> None:
    """Only a medical director may put free text (notes, reasons, narratives) into an inspector's output."""
    actor = ctx.actor
    if include_free_text and (actor is None or actor.role != Role.MEDICAL_DIRECTOR):
        who = f"{actor.username} ({actor.role.replace('_', ' ')})" if actor else "nobody signed in"
        raise PermissionDenied(
            f"{who} may not include free text (notes, reasons, narratives) in an inspector's output; "
            "this needs the role medical director (it is left out otherwise)"
        )


T = TypeVar("T")


def for_inspector(view: T, pseudonym: Pseudonym) -> T:
    """A record view (a dataclass with `patient_ref` and free-text fields) as an inspector may see it."""
    changes: dict[str, Any] = {"patient_ref": pseudonym(view.patient_ref)}  # type: ignore[attr-defined]
    changes.update({name: None for name in FREE_TEXT_KEYS if getattr(view, name, None) is not None})
    return replace(view, **changes)  # type: ignore[type-var]
