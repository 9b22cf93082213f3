"""The site (clinic) and its jurisdiction, which decides the regulatory status the flag rules read."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..domain import Setting, Site
from ..importers import cells
from .audit import AuditRecord, snapshot
from .context import ADMIN, CURRENT_SITE_KEY, ServiceContext, changing, current_site
from .errors import ValidationError


def validate_jurisdiction(code: str) -> str:
    try:
        return cells.parse_jurisdiction(code.strip())
    except cells.CellError as error:
        raise ValidationError(str(error), field="jurisdiction") from None


@changing("change the site's settings", ADMIN)
def set_site(ctx: ServiceContext, jurisdiction: str, name: str | None = None) -> dict[str, str]:
    code = validate_jurisdiction(jurisdiction)
    if name is not None and not name.strip():
        raise ValidationError("give the site a name", field="name")
    with ctx.db.write() as session:
        site = current_site(session, ctx.site_code)
        before = snapshot(site)
        site.jurisdiction = code
        if name is not None:
            site.name = name.strip()
        _remember_current(session, site)
        ctx.audit(session, AuditRecord("set site", "site", site.id, before=before, after=snapshot(site)))
        return {"code": site.code, "name": site.name, "jurisdiction": site.jurisdiction}


def _remember_current(session: Session, site: Site) -> None:
    setting = session.get(Setting, CURRENT_SITE_KEY)
    if setting is None:
        session.add(Setting(key=CURRENT_SITE_KEY, value=site.code))
    else:
        setting.value = site.code


def site_info(ctx: ServiceContext) -> dict[str, str]:
    with ctx.db.read() as session:
        site = current_site(session, ctx.site_code)
        return {"code": site.code, "name": site.name, "jurisdiction": site.jurisdiction}
