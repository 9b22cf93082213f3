"""The site (clinic): its name, its jurisdiction, which decides the regulatory status the flag rules read, and
its time zone (an IANA name), in which clinic-local times are shown and entered."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.orm import Session

from ..domain import Setting, Site
from ..importers import cells
from .audit import AuditRecord, snapshot
from .context import ADMIN, CURRENT_SITE_KEY, ServiceContext, changing, current_site
from .errors import FieldError, ValidationError

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


@changing("change the site's settings", ADMIN)
def set_site(ctx: ServiceContext, jurisdiction: str, name: str | None = None,
             time_zone: str | None = None) -> dict[str, str]:
    """Set the site's jurisdiction, and its name and time zone when given. Every field is checked first."""
    errors: list[FieldError] = []
    code = ""
    try:
        code = validate_jurisdiction(jurisdiction)
    except ValidationError as error:
        errors += error.errors
    if name is not None and not name.strip():
        errors.append(FieldError("name", "give the site a name"))
    zone = None
    if time_zone is not None:
        try:
            zone = validate_time_zone(time_zone)
        except ValidationError as error:
            errors += error.errors
    if errors:
        raise ValidationError(errors)
    with ctx.db.write() as session:
        site = current_site(session, ctx.site_code)
        before = {**snapshot(site), "time_zone": _time_zone(session, site)}
        site.jurisdiction = code
        if name is not None:
            site.name = name.strip()
        if zone is not None:
            _set_setting(session, TIME_ZONE_KEY.format(code=site.code), zone)
        _remember_current(session, site)
        after = {**snapshot(site), "time_zone": _time_zone(session, site)}
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
    """code, name, jurisdiction, and time_zone once one was set."""
    with ctx.db.read() as session:
        return _info(session, current_site(session, ctx.site_code))
