"""Matrix calls for user administration, site settings and report sign-off."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from registry_app.services import auth, backup, memberships, privacy, signoff, sites

from . import MatrixSetup, Prepare


def _create_user(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.create_user(ctx, "newcomer", "pharmacist", "newcomer-password")


def _disable(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.disable_user(ctx, "pharmacist", reason="left the clinic")


def _reactivate(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    auth.disable_user(setup.admin, "pharmacist")
    return lambda ctx: auth.reactivate_user(ctx, "pharmacist", reason="came back")


def _unlock(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.unlock_user(ctx, "pharmacist", reason="called the help desk")


def _reset(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.reset_password(ctx, "pharmacist", "a-new-password-for-lee", reason="forgotten")


def _set_role(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.set_role(ctx, "pharmacist", "medical_director", reason="new job")


# The same changes, signed by the acting admin (the desktop's Users editor).
def _signed_create(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.signed_create_user(
        ctx,
        "newcomer",
        "pharmacist",
        "newcomer-password",
        "New Comer",
        signer_password=setup.password_for(ctx),
        reason="hired",
    )


def _signed_disable(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.signed_disable_user(ctx, "pharmacist", signer_password=setup.password_for(ctx))


def _signed_reactivate(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    auth.disable_user(setup.admin, "pharmacist")
    return lambda ctx: auth.signed_reactivate_user(ctx, "pharmacist", signer_password=setup.password_for(ctx))


def _signed_unlock(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.signed_unlock_user(ctx, "pharmacist", signer_password=setup.password_for(ctx))


def _signed_reset(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.signed_reset_password(
        ctx, "pharmacist", "a-new-password-for-lee", signer_password=setup.password_for(ctx), reason="forgotten"
    )


def _signed_set_role(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: auth.signed_set_role(
        ctx, "pharmacist", "medical_director", signer_password=setup.password_for(ctx)
    )


def _set_site(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: sites.set_site(ctx, "KR", "Seoul clinic")


def _set_patient_ref_pattern(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: privacy.set_patient_ref_pattern(ctx, r"PT-\d{5}")


def _add_site(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: sites.add_site(ctx, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")


def _grant_role(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: memberships.grant_role(ctx, "pharmacist", "main", "inspector")


def _revoke_role(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: memberships.revoke_role(ctx, "pharmacist", "all")


def _sign_off(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    return lambda ctx: signoff.sign_off_report(
        ctx, setup.password_for(ctx), "ab" * 32, date(2026, 1, 1), date(2026, 3, 31)
    )


def _backup(setup: MatrixSetup):  # type: ignore[no-untyped-def]
    out = Path(tempfile.mkdtemp(prefix="matrix-backup-")) / "registry.backup"
    return lambda ctx: backup.backup_registry(ctx, out)


CALLS: dict[str, Prepare] = {
    "auth.create_user": _create_user,
    "auth.disable_user": _disable,
    "auth.set_role": _set_role,
    "auth.reactivate_user": _reactivate,
    "auth.unlock_user": _unlock,
    "auth.reset_password": _reset,
    "auth.signed_create_user": _signed_create,
    "auth.signed_disable_user": _signed_disable,
    "auth.signed_set_role": _signed_set_role,
    "auth.signed_reactivate_user": _signed_reactivate,
    "auth.signed_unlock_user": _signed_unlock,
    "auth.signed_reset_password": _signed_reset,
    "sites.set_site": _set_site,
    "sites.add_site": _add_site,
    "memberships.grant_role": _grant_role,
    "memberships.revoke_role": _revoke_role,
    "privacy.set_patient_ref_pattern": _set_patient_ref_pattern,
    "signoff.sign_off_report": _sign_off,
    "backup.backup_registry": _backup,
}
