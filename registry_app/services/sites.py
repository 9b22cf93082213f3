"""The site (clinic): its name, its jurisdiction, which decides the regulatory status the flag rules read, and
its time zone (an IANA name), in which clinic-local times are shown and entered."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_app.domain import Setting, Site
from registry_app.importers import cells
from registry_app.services import site_scope
from registry_app.services.audit import AuditRecord, snapshot
from registry_app.services.context import ADMIN, CURRENT_SITE_KEY, READERS, ServiceContext, changing, current_site
from registry_app.services.errors import ConflictError, FieldError, PermissionDenied, ValidationError
from registry_app.services.privacy import patient_ref_pattern as ref_pattern
from registry_app.services.privacy import store_patient_ref_pattern, validate_patient_ref_pattern

# The site table has no time-zone column; the key/value settings table has room for one per site, so no
# migration is needed for it (issue 19 item 7).
TIME_ZONE_KEY = "site_time_zone:{code}"


def validate_jurisdiction(code: str) -> str:
    try:
        return cells.parse_jurisdiction(code.strip())
    except cells.CellError as error:
        raise ValidationError(str(error), field="jurisdiction") from None


def validate_time_zone(name: str) -> str:
    """An IANA time-zone name as zoneinfo knows it (Asia/Seoul, Europe/Paris, UTC)."""
    text = name.strip()
    problem = f"{text!r} is not an IANA time zone: use a name such as Asia/Seoul, America/New_York or UTC"
    # ZoneInfo also accepts file paths under the tz database ("posixrules", "right/UTC"); only names are valid.
    if not text or "\\" in text or ".." in text or (text not in available_timezones() and text != "UTC"):
        raise ValidationError([FieldError("time_zone", problem)])
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError([FieldError("time_zone", problem)]) from None
    return text


def _site_fields(
    errors: list[FieldError], jurisdiction: str, name: str | None, time_zone: str | None, *, name_required: bool
) -> tuple[str, str | None]:
    """The checked jurisdiction code and time zone; every problem (name included) is added to `errors`, so
    that one refusal names them all."""
    if (name_required or name is not None) and not (name or "").strip():
        errors.append(FieldError("name", "give the site a name"))
    code, zone = "", None
    try:
        code = validate_jurisdiction(jurisdiction)
    except ValidationError as error:
        errors += error.errors
    if time_zone is not None:
        try:
            zone = validate_time_zone(time_zone)
        except ValidationError as error:
            errors += error.errors
    return code, zone


@changing("change the site's settings", ADMIN)
def set_site(
    ctx: ServiceContext,
    jurisdiction: str,
    name: str | None = None,
    time_zone: str | None = None,
    patient_ref_pattern: str | None = None,
) -> dict[str, str]:
    """Set the site's jurisdiction, and its name and time zone when given. Every field is checked first.
    `patient_ref_pattern` (registry-wide, services/privacy.py), when given, is set in the same transaction;
    "" restores the default."""
    errors: list[FieldError] = []
    code, zone = _site_fields(errors, jurisdiction, name, time_zone, name_required=False)
    if patient_ref_pattern and patient_ref_pattern.strip():
        try:
            validate_patient_ref_pattern(patient_ref_pattern)
        except ValidationError as error:
            errors += error.errors
    if errors:
        raise ValidationError(errors)
    if patient_ref_pattern is not None:
        site_scope.require_group(ctx, "the patient-reference pattern")
    with ctx.db.write() as session:
        site = current_site(session, ctx.site_code)
        if site_scope.scope_of(ctx) not in (None, site.id):
            raise PermissionDenied(f"{ctx.actor.username if ctx.actor else 'nobody'} is an admin of another site")
        before = {**snapshot(site), "time_zone": _time_zone(session, site)}
        site.jurisdiction = code
        if name is not None:
            site.name = name.strip()
        if zone is not None:
            _set_setting(session, TIME_ZONE_KEY.format(code=site.code), zone)
        if site_scope.scope_of(ctx) is None:  # the registry's default site is the group's to choose
            _remember_current(session, site)
        after = {**snapshot(site), "time_zone": _time_zone(session, site)}
        if patient_ref_pattern is not None:
            before["patient_ref_pattern"], after["patient_ref_pattern"] = store_patient_ref_pattern(
                session, patient_ref_pattern
            )
        ctx.audit(session, AuditRecord("set site", "site", site.id, before=before, after=after))
        return _info(session, site)


def _set_setting(session: Session, key: str, value: str) -> None:
    setting = session.get(Setting, key)
    if setting is None:
        session.add(Setting(key=key, value=value))
        session.flush()
    else:
        setting.value = value


def _remember_current(session: Session, site: Site) -> None:
    _set_setting(session, CURRENT_SITE_KEY, site.code)


def _time_zone(session: Session, site: Site) -> str | None:
    setting = session.get(Setting, TIME_ZONE_KEY.format(code=site.code))
    return setting.value if setting is not None else None


def _info(session: Session, site: Site) -> dict[str, str]:
    info = {"code": site.code, "name": site.name, "jurisdiction": site.jurisdiction}
    zone = _time_zone(session, site)
    if zone:
        info["time_zone"] = zone
    return info


def site_info(ctx: ServiceContext) -> dict[str, str]:
    """code, name, jurisdiction, time_zone once one was set, and the registry's patient_ref_pattern."""
    with ctx.db.read() as session:
        return {**_info(session, current_site(session, ctx.site_code)), "patient_ref_pattern": ref_pattern(session)}


# A site code is typed on command lines (`--site CODE`) and stored in settings keys: letters, digits, - and _.
_SITE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
RESERVED_SITE_CODES = frozenset({"all"})  # `--site all` names a group-wide role (shared/cli.md)


@changing("add sites", ADMIN)
def add_site(
    ctx: ServiceContext, code: str, name: str, jurisdiction: str, time_zone: str | None = None
) -> dict[str, str]:
    """Add a site (clinic) to a multi-site registry: its code, name, jurisdiction and optional time zone."""
    site_scope.require_group(ctx, "adding a site")
    errors: list[FieldError] = []
    code = (code or "").strip()
    if not _SITE_CODE.fullmatch(code):
        errors.append(FieldError("code", f"{code!r} is not a site code: 1 to 40 letters, digits, - or _"))
    elif code.casefold() in RESERVED_SITE_CODES:
        errors.append(FieldError("code", f"{code!r} is reserved (it means every site)"))
    parsed, zone = _site_fields(errors, jurisdiction or "", name, time_zone, name_required=True)
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        clash = session.execute(select(Site.code).where(Site.code == code)).scalar_one_or_none()
        if clash is not None:
            raise ConflictError(f"site {code} exists already")
        site = Site(code=code, name=name.strip()[:200], jurisdiction=parsed)
        session.add(site)
        session.flush()
        if zone is not None:
            _set_setting(session, TIME_ZONE_KEY.format(code=site.code), zone)
        info = _info(session, site)
        ctx.audit(session, AuditRecord("add site", "site", site.id, before={}, after={**snapshot(site), **info}))
        return info


def list_sites(ctx: ServiceContext) -> list[dict[str, str | bool]]:
    """Every site by code, each with `current` (the one the registry works for unless --site names another)."""
    ctx.require(READERS, "see the sites")
    with ctx.db.read() as session:
        current = current_site(session).code
        return [
            {**_info(session, site), "current": site.code == current}
            for site in session.execute(select(Site).order_by(Site.code)).scalars()
        ]
