"""Who may act where (issue 23): a user's role at one site, or at every site of the group (a group medical
director, a group inspector). Signing in at a site takes the user's role there: the site's own membership
first, else the group one; a user with neither cannot sign in there. Memberships are revoked, never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry_app.domain import Site, SiteRole, User, utcnow
from registry_app.domain.vocab import Role
from registry_app.services.audit import AuditRecord
from registry_app.services.context import ADMIN, Actor, ServiceContext, changing, current_site
from registry_app.services.errors import ConflictError, NotFound, PermissionDenied, ValidationError

GROUP = "all"  # `--site all`: a role at every site (shared/cli.md)


@dataclass(frozen=True)
class Placement:
    """A user's role at a site, and the site it is limited to (None: a group role, every site)."""

    role: str
    site_id: int | None


def role_at(session: Session, user_id: int, site: Site) -> Placement | None:
    """The user's role at `site`: the site's own membership wins over a group one."""
    rows = session.execute(
        select(SiteRole.site_id, SiteRole.role).where(
            SiteRole.user_id == user_id,
            SiteRole.revoked_at.is_(None),
            or_(SiteRole.site_id == site.id, SiteRole.site_id.is_(None)),
        )
    ).all()
    own = next((row for row in rows if row.site_id is not None), None)
    if own is not None:
        return Placement(own.role, site.id)
    group = next(iter(rows), None)
    return Placement(group.role, None) if group is not None else None


def _active(session: Session, user_id: int, site_id: int | None) -> SiteRole | None:
    place = SiteRole.site_id.is_(None) if site_id is None else SiteRole.site_id == site_id
    return session.execute(
        select(SiteRole).where(SiteRole.user_id == user_id, SiteRole.revoked_at.is_(None), place)
    ).scalar_one_or_none()


def add_membership(session: Session, user_id: int, site_id: int | None, role: str, by_id: int | None) -> SiteRole:
    """Grant in the caller's transaction (a new user's first role, a grant, a role changed everywhere)."""
    membership = SiteRole(user_id=user_id, site_id=site_id, role=role, granted_by_id=by_id, granted_at=utcnow())
    session.add(membership)
    session.flush()
    return membership


def _end(membership: SiteRole, by_id: int | None) -> None:
    membership.revoked_at = utcnow()
    membership.revoked_by_id = by_id


def set_every_role(session: Session, user: User, role: str, by_id: int | None) -> list[str]:
    """`user set-role`: the user's role becomes `role` at every place they have one (each membership ended and
    granted again, so the history stays); the places changed, by site code or `all`."""
    changed = []
    memberships = session.execute(
        select(SiteRole).where(SiteRole.user_id == user.id, SiteRole.revoked_at.is_(None)).order_by(SiteRole.id)
    ).scalars()
    for membership in list(memberships):
        if membership.role != role:
            _end(membership, by_id)
            add_membership(session, user.id, membership.site_id, role, by_id)
            changed.append(_place_name(session, membership.site_id))
    return changed


def _place_name(session: Session, site_id: int | None) -> str:
    if site_id is None:
        return GROUP
    site = session.get(Site, site_id)
    return site.code if site is not None else str(site_id)


def _place(session: Session, site_code: str) -> Site | None:
    code = (site_code or "").strip()
    if code.casefold() == GROUP:
        return None
    site = session.execute(select(Site).where(Site.code == code)).scalar_one_or_none()
    if site is None:
        raise NotFound(f"no site with code {code!r}")
    return site


def check_manages(session: Session, ctx: ServiceContext, user: User) -> None:
    """An admin of one site changes the accounts of that site's people only: a user with a role anywhere else (or
    a group role) is the group's to change."""
    actor = ctx.actor
    if actor is None or actor.site_id is None:
        return
    places = session.execute(
        select(SiteRole.site_id).where(SiteRole.user_id == user.id, SiteRole.revoked_at.is_(None))
    ).scalars()
    if any(place != actor.site_id for place in places):
        raise PermissionDenied(
            f"{actor.username} is an admin of one site; {user.username} also works elsewhere in the group, "
            "so a group admin changes their account"
        )


def _user(session: Session, ctx: ServiceContext, username: str, site: Site | None) -> User:
    actor = ctx.actor
    assert actor is not None  # `changing` checked the role
    if actor.site_id is not None and (site is None or site.id != actor.site_id):
        # An admin of one clinic manages that clinic's people only; roles elsewhere are the group's.
        raise PermissionDenied(f"{actor.username} is an admin of one site and may only change roles there")
    user = session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    if user.id == actor.user_id:
        # The same reason as for set-role: an admin demoting themself could leave a site with no admin.
        raise ConflictError("you cannot change your own roles: another admin can", field="role")
    return user


def _signer(ctx: ServiceContext, password: str | None) -> Actor | None:
    """The admin's signature for the change (the password typed again), or None for an unsigned change."""
    if password is None:
        return None
    from registry_app.services.auth import admin_signer  # auth imports this module: imported when signing

    return admin_signer(ctx, password)


def _sign(session: Session, signer: Actor, user: User, action: str, after: dict[str, Any], reason: str | None) -> None:
    """Sign in the change's transaction and name the signature in its audit entry (`after`), as auth's do."""
    from registry_app.services.auth import sign_user_change

    sign_user_change(session, signer, user, action, after, reason)


def _checked_role(role: str) -> str:
    if role not in tuple(Role):
        raise ValidationError(f"{role!r} is not a role; use one of {', '.join(Role)}", field="role")
    return str(role)


@changing("grant roles", ADMIN)
def grant_role(
    ctx: ServiceContext,
    username: str,
    site_code: str,
    role: str,
    reason: str | None = None,
    *,
    signer_password: str | None = None,
) -> None:
    """Give the user `role` at the site (`all`: at every site); a role they had there is ended, not erased. With
    `signer_password` (the desktop) the admin signs the change, as every other account change there."""
    role = _checked_role(role)
    signer = _signer(ctx, signer_password)
    with ctx.db.write() as session:
        site = _place(session, site_code)
        user = _user(session, ctx, username, site)
        by_id = ctx.actor.user_id if ctx.actor else None
        previous = _active(session, user.id, site.id if site else None)
        if previous is not None and previous.role == role:
            raise ConflictError(f"{user.username} is {role} at {_place_name(session, previous.site_id)} already")
        if previous is not None:
            _end(previous, by_id)
        add_membership(session, user.id, site.id if site else None, role, by_id)
        where = site.code if site else GROUP
        before: dict[str, Any] = {"site": where, "role": previous.role} if previous else {}
        after: dict[str, Any] = {"site": where, "role": role}
        if signer is not None:
            _sign(session, signer, user, "grant role", after, reason)
        ctx.audit(session, AuditRecord("grant role", "user", user.id, before, after, reason))


@changing("revoke roles", ADMIN)
def revoke_role(
    ctx: ServiceContext, username: str, site_code: str, reason: str | None = None, *, signer_password: str | None = None
) -> None:
    """End the user's role at the site (`all`: their group role). The membership is kept, with revoked_at. With
    `signer_password` the admin signs the change."""
    signer = _signer(ctx, signer_password)
    with ctx.db.write() as session:
        site = _place(session, site_code)
        user = _user(session, ctx, username, site)
        membership = _active(session, user.id, site.id if site else None)
        where = site.code if site else GROUP
        if membership is None:
            raise NotFound(f"{user.username} has no role at {'every site' if site is None else 'site ' + where}")
        _end(membership, ctx.actor.user_id if ctx.actor else None)
        after: dict[str, Any] = {"site": where}
        if signer is not None:
            _sign(session, signer, user, "revoke role", after, reason)
        record = AuditRecord("revoke role", "user", user.id, {"site": where, "role": membership.role}, after, reason)
        ctx.audit(session, record)


def roles_of(session: Session, user_ids: list[int] | None = None) -> dict[int, list[dict[str, str]]]:
    """Each user's current roles: [{"site": CODE or "all", "role": ROLE}], group role first."""
    query = (
        select(SiteRole.user_id, Site.code, SiteRole.role)
        .outerjoin(Site, Site.id == SiteRole.site_id)
        .where(SiteRole.revoked_at.is_(None))
        .order_by(SiteRole.user_id, SiteRole.site_id.is_not(None), Site.code)
    )
    if user_ids is not None:
        query = query.where(SiteRole.user_id.in_(user_ids))
    found: dict[int, list[dict[str, str]]] = {}
    for user_id, code, role in session.execute(query):
        found.setdefault(user_id, []).append({"site": code or GROUP, "role": role})
    return found


def my_sites(ctx: ServiceContext) -> list[dict[str, str | bool]]:
    """The sites the signed-in user may work at, by code, each with the role there and whether it is the one
    the context acts at (a group role: every site). The desktop's File > Switch site… lists them."""
    actor = ctx.actor
    if actor is None or actor.user_id is None:
        return []
    with ctx.db.read() as session:
        acting = current_site(session, ctx.site_code).id
        found: list[dict[str, str | bool]] = []
        for site in session.execute(select(Site).order_by(Site.code)).scalars():
            placement = role_at(session, actor.user_id, site)
            if placement is not None:
                found.append(
                    {"code": site.code, "name": site.name, "role": placement.role, "current": site.id == acting}
                )
        return found
