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


def _window(qtbot, ctx: ServiceContext, tmp_path):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    from registry_app.ui.main_window import MainWindow

    window = MainWindow(ctx, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.install_workflows()
    return window


def test_switch_site_signs_in_again_at_the_chosen_site(  # type: ignore[no-untyped-def]
    qtbot, admin: ServiceContext, pharmacist: ServiceContext, tmp_path, monkeypatch
) -> None:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QInputDialog

    single = _window(qtbot, pharmacist, tmp_path)
    assert single.findChild(QAction, "file:Switch site") is None  # one site: nothing to switch to
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR")
    window = _window(qtbot, ServiceContext(pharmacist.db, pharmacist.actor), tmp_path)
    action = window.findChild(QAction, "file:Switch site")
    assert action is not None and action in window.menus["File"].actions()
    offered: list[list[str]] = []

    def choose_busan(parent, title, text, items, current, editable):  # type: ignore[no-untyped-def]
        offered.append(list(items))
        return next(item for item in items if item.startswith("BUSAN")), True

    monkeypatch.setattr(QInputDialog, "getItem", choose_busan)
    action.trigger()
    assert offered == [["BUSAN: Busan clinic (pharmacist)", "main: My clinic (pharmacist)"]]
    assert window.ctx.site_code == "BUSAN" and window.signed_out
