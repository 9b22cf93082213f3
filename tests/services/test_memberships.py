"""Roles per site (issue 23): a user's role at a site or at every site, granted and revoked, and signing in at a
site with the role there."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from registry_app.domain import SiteRole
from registry_app.services import ConflictError, NotFound, PermissionDenied, ServiceContext, audit, auth, sites
from registry_app.services.memberships import grant_role, my_sites, revoke_role

from ..conftest import PASSWORDS


@pytest.fixture
def busan(admin: ServiceContext) -> ServiceContext:
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")
    return admin


def _at(ctx: ServiceContext, site: str | None) -> ServiceContext:
    return ServiceContext(ctx.db, site_code=site)


def test_a_user_added_at_one_site_signs_in_there_only(busan: ServiceContext) -> None:
    auth.create_user(busan, "kim", "pharmacist", "kim-password-long", site_code="BUSAN")
    signed = auth.sign_in(_at(busan, "BUSAN"), "kim", "kim-password-long")
    with busan.db.read() as session:
        busan_id = sites.current_site(session, "BUSAN").id
    assert (signed.role, signed.site_id) == ("pharmacist", busan_id)
    at_busan = _at(busan, "BUSAN")
    at_busan.actor = signed
    assert [(p["code"], p["role"], p["current"]) for p in my_sites(at_busan)] == [("BUSAN", "pharmacist", True)]
    with pytest.raises(PermissionDenied, match="kim has no role at site main: an admin can grant one"):
        auth.sign_in(_at(busan, "main"), "kim", "kim-password-long")
    with busan.db.read() as session:
        # Refused at main with the right password: recorded, but not a failed attempt towards the lock.
        assert auth._user_by_name(session, "kim").failed_attempts == 0  # type: ignore[union-attr]


def test_a_group_role_holds_at_every_site_and_a_site_role_wins_there(busan: ServiceContext) -> None:
    # The template's users were added before sites had roles of their own: group roles.
    assert auth.sign_in(_at(busan, "BUSAN"), "pharmacist", PASSWORDS["pharmacist"]).site_id is None
    grant_role(busan, "pharmacist", "BUSAN", "medical_director", "acting director in Busan")
    at_busan = auth.sign_in(_at(busan, "BUSAN"), "pharmacist", PASSWORDS["pharmacist"])
    at_main = auth.sign_in(_at(busan, "main"), "pharmacist", PASSWORDS["pharmacist"])
    assert (at_busan.role, at_busan.site_id is not None) == ("medical_director", True)
    assert (at_main.role, at_main.site_id) == ("pharmacist", None)
    with pytest.raises(ConflictError, match="already"):
        grant_role(busan, "pharmacist", "BUSAN", "medical_director")


def test_revoking_keeps_the_membership_and_ends_the_role(busan: ServiceContext) -> None:
    auth.create_user(busan, "kim", "pharmacist", "kim-password-long", site_code="BUSAN")
    grant_role(busan, "kim", "BUSAN", "inspector")  # replaces the pharmacist role there, which is kept as ended
    revoke_role(busan, "kim", "BUSAN", "left")
    with pytest.raises(PermissionDenied, match="no role at site BUSAN"):
        auth.sign_in(_at(busan, "BUSAN"), "kim", "kim-password-long")
    with pytest.raises(NotFound, match="kim has no role at site BUSAN"):
        revoke_role(busan, "kim", "BUSAN")
    with busan.db.read() as session:
        kim = auth._user_by_name(session, "kim")
        assert kim is not None
        rows = session.execute(select(SiteRole).where(SiteRole.user_id == kim.id).order_by(SiteRole.id)).scalars()
        assert [(r.role, r.revoked_at is not None, r.revoked_by_id) for r in rows] == [
            ("pharmacist", True, busan.actor.user_id),  # type: ignore[union-attr]
            ("inspector", True, busan.actor.user_id),  # type: ignore[union-attr]
        ]
    assert audit.verify(busan.db).ok, "every membership row is under the audit trail"


def test_grants_are_audited_and_checked(busan: ServiceContext) -> None:
    grant_role(busan, "inspector", "all", "medical_director", "group director")
    with busan.db.read() as session:
        entry = session.execute(select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc()).limit(1)).scalar_one()
        assert (entry.action, entry.reason) == ("grant role", "group director")
        assert json.loads(entry.after) == {"site": "all", "role": "medical_director"}
        assert json.loads(entry.before) == {"site": "all", "role": "inspector"}
    with pytest.raises(NotFound, match="no site with code 'NOWHERE'"):
        grant_role(busan, "inspector", "NOWHERE", "pharmacist")
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        grant_role(busan, "nobody", "BUSAN", "pharmacist")
    with pytest.raises(ConflictError, match="your own roles"):
        revoke_role(busan, "admin", "all")


def test_an_admin_of_one_site_manages_that_site_only(busan: ServiceContext) -> None:
    auth.create_user(busan, "park", "admin", "park-password-long", site_code="BUSAN")
    park = _at(busan, "BUSAN")
    auth.sign_in(park, "park", "park-password-long")
    grant_role(park, "pharmacist", "BUSAN", "inspector")
    for place in ("main", "all"):
        with pytest.raises(PermissionDenied, match="admin of one site"):
            grant_role(park, "pharmacist", place, "inspector")
    with pytest.raises(PermissionDenied, match="adds users at that site only"):
        auth.create_user(park, "lee2", "pharmacist", "lee2-password-long")
    auth.create_user(park, "lee2", "pharmacist", "lee2-password-long", site_code="BUSAN")


def test_set_role_changes_the_role_at_every_place(busan: ServiceContext) -> None:
    grant_role(busan, "pharmacist", "BUSAN", "inspector")
    auth.set_role(busan, "pharmacist", "medical_director", "promoted")
    for site in ("main", "BUSAN"):
        assert auth.sign_in(_at(busan, site), "pharmacist", PASSWORDS["pharmacist"]).role == "medical_director"
    listed = {u["username"]: u["sites"] for u in auth.list_users(busan)}
    assert listed["pharmacist"] == [
        {"site": "all", "role": "medical_director"},
        {"site": "BUSAN", "role": "medical_director"},
    ]


def test_a_signed_grant_is_signed_and_a_wrong_password_grants_nothing(busan: ServiceContext) -> None:
    from registry_app.domain import Signature

    with pytest.raises(auth.SignInFailed):
        grant_role(busan, "pharmacist", "BUSAN", "inspector", "audit week", signer_password="not-the-password")
    with busan.db.read() as session:
        granted = select(SiteRole).where(SiteRole.role == "inspector", SiteRole.site_id.is_not(None))
        assert session.execute(granted).first() is None, "a wrong password grants nothing"
    grant_role(busan, "pharmacist", "BUSAN", "inspector", "audit week", signer_password=PASSWORDS["admin"])
    revoke_role(busan, "pharmacist", "BUSAN", "audit over", signer_password=PASSWORDS["admin"])
    with busan.db.read() as session:
        entries = (
            session.execute(select(audit.AuditEntry).where(audit.AuditEntry.action.in_(["grant role", "revoke role"])))
            .scalars()
            .all()
        )
        signatures = session.execute(select(Signature).where(Signature.subject_type == "user")).scalars().all()
    assert [json.loads(e.after)["signature_meaning"] for e in entries] == ["approved", "approved"]
    assert {json.loads(e.after)["signature_id"] for e in entries} == {s.id for s in signatures[-2:]}
