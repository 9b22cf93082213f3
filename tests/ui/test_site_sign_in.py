"""The desktop's sign-in at a site (issue 23): a user with no role at the registry's site is told so, and the
dialog stays open; the same user signs in at their own site."""

from __future__ import annotations

from registry_app.services import ServiceContext, auth, sites
from registry_app.ui.sign_in import SignInDialog


def test_a_user_with_no_role_at_the_site_is_told_so(qtbot, admin: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR")
    auth.create_user(admin, "kim", "pharmacist", "kim-password-long", site_code="BUSAN")
    at_main = ServiceContext(admin.db)
    dialog = SignInDialog(at_main)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.username, "kim")
    qtbot.keyClicks(dialog.password, "kim-password-long")
    dialog.attempt()
    assert "kim has no role at site main" in dialog.error.text()
    assert at_main.actor is None and dialog.result() == 0
    at_busan = ServiceContext(admin.db, site_code="BUSAN")
    dialog = SignInDialog(at_busan)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.username, "kim")
    qtbot.keyClicks(dialog.password, "kim-password-long")
    dialog.attempt()
    assert at_busan.actor is not None and at_busan.actor.role == "pharmacist"
    assert dialog.result() == dialog.DialogCode.Accepted
