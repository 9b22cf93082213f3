"""Evaluating the rules: each family runs one set-based query over all its subjects, then waivers apply."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import date
from operator import attrgetter

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..domain import User, Waiver
from ..domain.vocab import SEVERITY_RANK
from .catalogue import ALERT_CODES, COMPLIANCE_CODES, RULES, Flag
from .common import Request, frozen
from .lot_rules import adverse_event_flags, lot_flags, product_flags
from .use_rules import administration_flags

# Code -> its place in the order of evaluate_flags: highest severity first, then code (a code has one subject type).
_CODE_ORDER: dict[str, int] = {
    code: place for place, code in enumerate(sorted(RULES, key=lambda c: (-SEVERITY_RANK[RULES[c].severity], c)))
}

Family = Callable[[Request], list[Flag]]

# subject type -> the functions evaluating that subject's rules (each one query per family).
FAMILIES: dict[str, list[Family]] = {
    "product": [product_flags],
    "lot": [lot_flags],
    "administration": [administration_flags],
    "adverse_event": [adverse_event_flags],
}


def register_family(subject_type: str, family: Family) -> None:
    if family not in FAMILIES[subject_type]:
        FAMILIES[subject_type].append(family)


def evaluate_flags(
    session: Session,
    jurisdiction: str,
    today: date,
    *,
    subject_type: str | None = None,
    subject_ids: Collection[int] | None = None,
    codes: Collection[str] | None = None,
    id_range: tuple[int, int] | None = None,
) -> list[Flag]:
    """The flags of rules.md on the records as this session sees them (flushed, uncommitted rows included).

    `codes` defaults to the compliance codes; pass ALERT codes explicitly (or use `evaluate_alerts`).
    `subject_ids` and `id_range` (lowest, highest id: a range of any width, filtered in SQL) need
    `subject_type`. Each flag carries `waived` (and the waiver) when an active waiver
    matches its code, subject and message. Sorted by severity (highest first), code, subject.
    """
    if (subject_ids is not None or id_range is not None) and subject_type is None:
        raise ValueError("subject_ids and id_range need subject_type")
    if subject_type is not None and subject_type not in FAMILIES:
        raise ValueError(f"unknown subject type {subject_type!r}")
    wanted = frozenset(COMPLIANCE_CODES if codes is None else codes)
    unknown = wanted - set(RULES)
    if unknown:
        raise ValueError(f"unknown flag codes: {', '.join(sorted(unknown))}")
    request = Request(session, jurisdiction.upper(), today, wanted, frozen(subject_ids), id_range)
    flags: list[Flag] = []
    with _without_jit(session):
        for family_subject, families in FAMILIES.items():
            if subject_type is not None and family_subject != subject_type:
                continue
            if not any(RULES[code].subject_type == family_subject for code in wanted):
                continue
            for family in families:
                flags.extend(family(request))
    flags = apply_waivers(session, flags)
    # Two stable sorts with cheap keys instead of one on a built tuple per flag (~100k flags on a large
    # registry): by subject, then by the code's place in (severity, code) order, which fixes subject_type too.
    flags.sort(key=attrgetter("subject_id"))
    flags.sort(key=lambda f: _CODE_ORDER[f.code])
    return flags


@contextmanager
def _without_jit(session: Session) -> Iterator[None]:
    """On PostgreSQL, the family queries run with JIT compilation off (for this transaction, then restored).

    Their cost estimates (a subplan per lot) cross jit_above_cost, and compiling the lot query took 2.2 s of
    its 2.8 s over 100k lots, for a plan that runs once. Elsewhere (SQLite) nothing to do."""
    if session.connection().dialect.name != "postgresql":
        yield
        return
    previous = session.execute(text("SELECT current_setting('jit')")).scalar_one()
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    yield
    # Not reached when a query failed: the transaction is then aborted, and its local setting with it.
    session.execute(text("SELECT set_config('jit', :previous, true)"), {"previous": previous})


def evaluate_alerts(session: Session, today: date, *, subject_ids: Collection[int] | None = None) -> list[Flag]:
    """The dashboard alerts (ALERT-*): not compliance findings, never waived."""
    return evaluate_flags(session, "US", today, subject_type="lot", subject_ids=subject_ids, codes=ALERT_CODES)


def apply_waivers(session: Session, flags: list[Flag]) -> list[Flag]:
    """Mark flags waived where an unrevoked waiver has the same code and subject, and the same facts.

    A waiver covers the values the rule compared when it was given (Flag.facts): when one of them changes the
    waiver no longer matches and the flag is open again, and only then: a rewording keeps it (rules.md).
    Waivers given before facts were kept (flag_facts NULL) match as they always did, by the message."""
    if not flags:
        return flags
    rows = session.execute(
        select(Waiver, User.username, User.full_name)
        .join(User, User.id == Waiver.waived_by_id)
        .where(Waiver.revoked_at.is_(None))
    ).all()
    if not rows:
        return flags
    by_key: dict[tuple[str, str, int, str, bool], dict[str, object]] = {}
    for waiver, username, full_name in rows:
        by_facts = waiver.flag_facts is not None
        matched: str = waiver.flag_facts if waiver.flag_facts is not None else waiver.flag_message
        by_key[(waiver.code, waiver.subject_type, waiver.subject_id, matched, by_facts)] = {
            "id": waiver.id,
            "reason": waiver.reason,
            "waived_by": full_name or username,
            "waived_at": waiver.waived_at,
            "signature_id": waiver.signature_id,
        }
    result = []
    for item in flags:
        found = by_key.get((item.code, item.subject_type, item.subject_id, item.facts, True)) or by_key.get(
            (item.code, item.subject_type, item.subject_id, item.message, False)
        )
        if found is None:
            result.append(item)
        else:
            result.append(_waived(item, found))
    return result


def _waived(item: Flag, waiver: dict[str, object]) -> Flag:
    from dataclasses import replace

    return replace(item, waived=True, waiver=waiver)
