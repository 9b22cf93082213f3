"""The Users editor (issue 19 item 6) on real widgets over a real registry: each change is signed with the
admin's own password and visible through the services; a refused change shows its message beside the field,
saves nothing and keeps what was typed; a wrong admin password changes nothing; an admin cannot demote or
disable themself; other roles cannot open it from the menu, and find its actions disabled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from registry_app.domain import AuditEntry, Signature, Site, SiteRole, User
from registry_app.services import PermissionDenied, ServiceContext, SignInFailed, sites
from registry_app.services.auth import MAX_FAILED_ATTEMPTS, create_user, list_users, reauthenticate, sign_in
from registry_app.ui.dialogs.forms import set_combo_value
from registry_app.ui.editors import open_users
from registry_app.ui.editors.user_sites import OWN_PLACES
from registry_app.ui.editors.users import COLUMNS, OWN_ACCOUNT, OWN_ROLE, AddUserDialog, UsersDialog
from registry_app.ui.main_window import MainWindow

from ..conftest import PASSWORDS
from ..helpers import row_counts


def _users(qtbot: QtBot, ctx: ServiceContext) -> UsersDialog:
    dialog = open_users(None, ctx)
    qtbot.addWidget(dialog)
    return dialog


def _by_name(ctx: ServiceContext) -> dict[str, dict]:  # type: ignore[type-arg]
    return {u["username"]: u for u in list_users(ctx)}


def _signatures(ctx: ServiceContext) -> int:
    with ctx.db.read() as session:
        return session.execute(select(func.count(Signature.id))).scalar_one()


def _last_entry(ctx: ServiceContext) -> AuditEntry:
    with ctx.db.read() as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
        session.expunge(entry)
        return entry


def _shown(dialog: UsersDialog | AddUserDialog, field: str) -> str:
    """The message under the field, if the field is outlined and the message shown."""
    message = dialog.field_errors[field]
    outlined = dialog.fields[field].property("invalid") is True
    return message.text() if outlined and not message.isHidden() else ""


def _sign(
    qtbot: QtBot, dialog: UsersDialog | AddUserDialog, password: str = PASSWORDS["admin"], reason: str = ""
) -> None:
    dialog.signature.password_edit.clear()
    qtbot.keyClicks(dialog.signature.password_edit, password)
    if reason:
        dialog.signature.reason_edit.setPlainText(reason)


def _add(qtbot: QtBot, users: UsersDialog, name: str, full_name: str, role: str, password: str) -> AddUserDialog:
    users.add_button.click()
    adder = users.adder
    assert adder is not None and adder.isVisible()
    qtbot.keyClicks(adder.username, name)
    qtbot.keyClicks(adder.full_name, full_name)
    set_combo_value(adder.role, role)
    qtbot.keyClicks(adder.password, password)
    return adder


# --- happy paths --------------------------------------------------------------------------------------------


def test_the_list_shows_each_account(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    rows = {
        dialog.table.item(r, 0).text(): [dialog.table.item(r, c).text() for c in range(5)]
        for r in range(dialog.table.rowCount())
    }
    assert rows["director"] == ["director", "Dana Director", "Medical director", "Active", "—"]
    assert set(rows) == {"admin", "director", "inspector", "pharmacist"}
    assert not dialog.role_button.isEnabled() and not dialog.active_button.isEnabled(), "nobody is selected"


def test_add_a_user_signed_with_the_admins_password(
    qtbot: QtBot, admin: ServiceContext, registry: ServiceContext
) -> None:
    dialog = _users(qtbot, admin)
    adder = _add(qtbot, dialog, "kim.nurse", "Kim Nurse", "medical_director", "kim-first-password-9")
    assert adder.policy.text() == "Meets the password policy."
    _sign(qtbot, adder, reason="new director from March")
    with qtbot.waitSignal(adder.saved):
        adder.save_button.click()
    assert adder.result() == adder.DialogCode.Accepted
    kim = _by_name(admin)["kim.nurse"]
    assert (kim["full_name"], kim["role"], kim["active"]) == ("Kim Nurse", "medical_director", True)
    entry = _last_entry(admin)
    after = json.loads(entry.after or "{}")
    assert entry.action == "create user" and entry.reason == "new director from March"
    assert after["signature_meaning"] == "approved" and after["signed_by"] == "Ada Admin"
    assert sign_in(registry, "kim.nurse", "kim-first-password-9").role == "medical_director"
    assert dialog.selected is not None and dialog.selected["username"] == "kim.nurse", "the new user is selected"


def test_change_role_disable_reenable_unlock_and_reset(
    qtbot: QtBot, admin: ServiceContext, registry: ServiceContext
) -> None:
    for _ in range(MAX_FAILED_ATTEMPTS):  # the pharmacist forgot their password and is locked out
        with pytest.raises(SignInFailed):
            sign_in(registry, "pharmacist", "not-the-password")
    dialog = _users(qtbot, admin)
    dialog.select_user("pharmacist")
    assert dialog.lock_label.text().startswith("Locked") and dialog.unlock_button.isEnabled()
    signatures = _signatures(admin)

    set_combo_value(dialog.role, "inspector")
    _sign(qtbot, dialog, reason="moved to quality assurance")
    dialog.role_button.click()
    assert _by_name(admin)["pharmacist"]["role"] == "inspector"
    assert "pharmacist is now inspector" in dialog.done_label.text()
    assert dialog.signature.password() == "" and dialog.signature.reason() == "", "each change is signed anew"

    _sign(qtbot, dialog)
    dialog.unlock_button.click()
    assert not _by_name(admin)["pharmacist"]["locked"] and not dialog.unlock_button.isEnabled()

    _sign(qtbot, dialog)
    assert dialog.active_button.text() == "&Disable"
    dialog.active_button.click()
    assert _by_name(admin)["pharmacist"]["active"] is False
    assert dialog.active_button.text() == "Re-&enable" and dialog.table.item(3, 3).text() == "Disabled"

    _sign(qtbot, dialog)
    dialog.active_button.click()
    assert _by_name(admin)["pharmacist"]["active"] is True

    qtbot.keyClicks(dialog.new_password, "lee-brand-new-password")
    _sign(qtbot, dialog)
    dialog.reset_button.click()
    assert dialog.new_password.text() == ""
    assert sign_in(registry, "pharmacist", "lee-brand-new-password").role == "inspector"
    assert _signatures(admin) == signatures + 5, "five changes, five signatures"


def test_the_menu_opens_it_for_an_admin_only(
    qtbot: QtBot, admin: ServiceContext, pharmacist: ServiceContext, director: ServiceContext, tmp_path: Path
) -> None:
    def users_action(ctx: ServiceContext, name: str) -> tuple[MainWindow, QAction]:
        window = MainWindow(ctx, QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        window.install_workflows()
        action = next(a for a in window.findChildren(QAction) if a.objectName() == "catalogue:Users")
        assert action in window.menus["File"].actions() and action.text() == "&Users…"
        return window, action

    window, action = users_action(admin, "admin")
    assert action.isEnabled()
    action.trigger()
    assert isinstance(window.catalogue_dialog, UsersDialog)
    window.catalogue_dialog.reject()
    file_actions = window.menus["File"].actions()
    assert file_actions.index(action) < file_actions.index(window.sign_out_action), "Sign out and Quit stay last"
    for ctx, name in ((pharmacist, "pharmacist"), (director, "director")):
        _window, refused = users_action(ctx, name)
        assert not refused.isEnabled()
        assert "Only an admin may add users or change their accounts" in refused.toolTip()


# --- validation: beside the field, nothing saved, typing kept -------------------------------------------------


def test_a_short_or_common_password_is_refused_beside_the_field(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    adder = _add(qtbot, dialog, "kim.nurse", "Kim Nurse", "pharmacist", "short")
    assert adder.policy.text().startswith("Not accepted by the policy: use at least 12 characters")
    _sign(qtbot, adder)
    before = row_counts(admin.db)
    adder.save_button.click()
    assert "at least 12 characters" in _shown(adder, "password")
    assert row_counts(admin.db) == before and adder.isVisible()
    assert (adder.username.text(), adder.full_name.text(), adder.password.text()) == ("kim.nurse", "Kim Nurse", "short")
    adder.password.setText("password1234")
    assert "common passwords" in adder.policy.text()
    adder.save_button.click()
    assert "common passwords" in _shown(adder, "password") and row_counts(admin.db) == before
    # The same rule when a password is reset.
    dialog.select_user("inspector")
    qtbot.keyClicks(dialog.new_password, "password1234")
    _sign(qtbot, dialog)
    dialog.reset_button.click()
    assert "common passwords" in _shown(dialog, "password") and row_counts(admin.db) == before
    assert dialog.new_password.text() == "password1234"


def test_a_duplicate_name_is_refused_beside_the_field(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    adder = _add(qtbot, dialog, "director", "Another Director", "medical_director", "another-long-password")
    _sign(qtbot, adder)
    before = row_counts(admin.db)
    adder.save_button.click()
    assert "exists already" in _shown(adder, "username") and "exists already" in adder.banner.text()
    assert row_counts(admin.db) == before
    assert (adder.username.text(), adder.full_name.text()) == ("director", "Another Director")
    assert adder.signature.password() == PASSWORDS["admin"], "a refused form is not a failed signature"


def test_control_characters_in_the_name_are_refused(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    adder = _add(qtbot, dialog, "kim", "Kim Nurse", "pharmacist", "kim-first-password-9")
    adder.username.setText("kim\x1b[2Jadmin")  # an escape sequence would forge lines in exports and logs
    _sign(qtbot, adder)
    before = row_counts(admin.db)
    adder.save_button.click()
    assert "printable" in _shown(adder, "username")
    assert row_counts(admin.db) == before and adder.username.text() == "kim\x1b[2Jadmin"


def test_a_missing_signature_is_asked_for_before_anything_is_sent(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    dialog.select_user("inspector")
    set_combo_value(dialog.role, "pharmacist")
    before = row_counts(admin.db)
    dialog.role_button.click()
    assert "type your own password again" in _shown(dialog, "signer_password")
    assert row_counts(admin.db) == before and dialog.role.currentData() == "pharmacist"


# --- signatures and one's own account ---------------------------------------------------------------------


def test_a_wrong_admin_password_saves_nothing(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    dialog.select_user("director")
    set_combo_value(dialog.role, "inspector")
    _sign(qtbot, dialog, "not-my-password", reason="reorganisation")
    signatures = _signatures(admin)
    dialog.role_button.click()
    assert _by_name(admin)["director"]["role"] == "medical_director"
    assert _signatures(admin) == signatures
    assert "wrong" in _shown(dialog, "signer_password") and "nothing was changed" in _shown(dialog, "signer_password")
    assert dialog.signature.password() == "", "a wrong password is never kept around"
    assert dialog.role.currentData() == "inspector" and dialog.signature.reason() == "reorganisation"
    assert _last_entry(admin).action == "signature failed", "only the failed attempt is recorded"

    adder = _add(qtbot, dialog, "kim.nurse", "Kim Nurse", "pharmacist", "kim-first-password-9")
    _sign(qtbot, adder, "not-my-password")
    adder.save_button.click()
    assert "kim.nurse" not in _by_name(admin) and adder.isVisible()
    assert "nothing was changed" in _shown(adder, "signer_password") and adder.username.text() == "kim.nurse"
    reauthenticate(admin, PASSWORDS["admin"])  # two failures: not locked


def test_an_admin_cannot_change_their_own_role_or_disable_themself(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    dialog.select_user("admin")
    assert not dialog.role_button.isEnabled() and not dialog.active_button.isEnabled()
    assert _shown(dialog, "role") == OWN_ROLE and _shown(dialog, "active") == OWN_ACCOUNT
    assert dialog.active_button.toolTip() == OWN_ACCOUNT
    assert dialog.reset_button.isEnabled() is False and dialog.new_password.isEnabled(), "their own password: yes"
    # Were the buttons reached anyway (a stale list), the service refuses and the dialog says why beside them.
    set_combo_value(dialog.role, "pharmacist")
    _sign(qtbot, dialog)
    before = row_counts(admin.db)
    dialog.change_role()
    assert OWN_ROLE in _shown(dialog, "role") and OWN_ROLE in dialog.banner.text()
    dialog.toggle_active()
    assert OWN_ACCOUNT in _shown(dialog, "active")
    assert row_counts(admin.db) == before and _by_name(admin)["admin"]["role"] == "admin"


# --- other roles ----------------------------------------------------------------------------------------------


def test_a_pharmacist_cannot_list_or_change_users(qtbot: QtBot, pharmacist: ServiceContext) -> None:
    dialog = _users(qtbot, pharmacist)
    assert dialog.table.rowCount() == 0 and "may not list users" in dialog.banner.text()
    for widget in (
        dialog.add_button,
        dialog.role_button,
        dialog.active_button,
        dialog.unlock_button,
        dialog.reset_button,
        dialog.signature,
    ):
        assert not widget.isEnabled()
    assert "Only an admin may add users" in dialog.add_button.toolTip()


def test_a_director_sees_the_list_read_only(qtbot: QtBot, director: ServiceContext) -> None:
    dialog = _users(qtbot, director)
    assert dialog.table.rowCount() == 4
    dialog.select_user("pharmacist")
    for widget in (dialog.add_button, dialog.role_button, dialog.active_button, dialog.reset_button):
        assert not widget.isEnabled() and "Only an admin" in widget.toolTip()
    before = row_counts(director.db)
    dialog.change_role()  # not even a keyboard shortcut gets through
    assert row_counts(director.db) == before
    adder = AddUserDialog(director)
    qtbot.addWidget(adder)
    assert not adder.save_button.isEnabled() and "Only an admin" in adder.banner.text()


# --- roles at sites (issue 23) ----------------------------------------------------------------------------------


@pytest.fixture
def busan(admin: ServiceContext) -> ServiceContext:
    sites.add_site(admin, "BUSAN", "Busan clinic", "KR", "Asia/Seoul")
    return admin


def _places(dialog: UsersDialog) -> dict[str, str]:
    column = COLUMNS.index("Roles at sites")
    return {dialog.table.item(r, 0).text(): dialog.table.item(r, column).text() for r in range(dialog.table.rowCount())}


def _memberships(ctx: ServiceContext, name: str) -> list[tuple[str, str, bool]]:
    """Every membership of the user, ended ones too: (site or "all", role, ended)."""
    with ctx.db.read() as session:
        rows = session.execute(
            select(Site.code, SiteRole.role, SiteRole.revoked_at)
            .join(User, User.id == SiteRole.user_id)
            .outerjoin(Site, Site.id == SiteRole.site_id)
            .where(User.username == name)
            .order_by(SiteRole.id)
        ).all()
    return [(code or "all", role, revoked is not None) for code, role, revoked in rows]


def test_grant_and_revoke_a_role_at_a_site(qtbot: QtBot, busan: ServiceContext, registry: ServiceContext) -> None:
    dialog = _users(qtbot, busan)
    assert [dialog.place.itemData(i) for i in range(dialog.place.count())] == ["all", "BUSAN", "main"]
    assert dialog.place.itemText(0) == "Every site (group)"
    assert _places(dialog)["pharmacist"] == "pharmacist at every site"
    dialog.select_user("pharmacist")
    set_combo_value(dialog.place, "BUSAN")
    assert "group role (pharmacist) holds there" in dialog.place_state.text()
    assert not dialog.revoke_button.isEnabled(), "no role of their own at BUSAN to revoke"
    set_combo_value(dialog.place_role, "medical_director")
    _sign(qtbot, dialog, reason="acting director in Busan")
    dialog.grant_button.click()

    assert _places(dialog)["pharmacist"] == "pharmacist at every site; medical director at BUSAN"
    assert {"site": "BUSAN", "role": "medical_director"} in _by_name(busan)["pharmacist"]["sites"]
    entry = _last_entry(busan)
    assert (entry.action, entry.reason) == ("grant role", "acting director in Busan")
    assert json.loads(entry.after)["signature_meaning"] == "approved", "signed like every account change"
    at_busan = ServiceContext(busan.db, site_code="BUSAN")
    assert sign_in(at_busan, "pharmacist", PASSWORDS["pharmacist"]).role == "medical_director"
    assert "pharmacist is now medical director at BUSAN (signed by Ada Admin)" in dialog.done_label.text()
    assert dialog.signature.reason() == "", "the reason belongs to the change made"
    assert dialog.place_state.text() == "Now medical director at BUSAN." and dialog.revoke_button.isEnabled()
    assert not dialog.grant_button.isEnabled(), "the role they have there already"

    _sign(qtbot, dialog, reason="the director is back")
    dialog.revoke_button.click()
    entry = _last_entry(busan)
    assert (entry.action, entry.reason) == ("revoke role", "the director is back")
    assert _places(dialog)["pharmacist"] == "pharmacist at every site"
    assert _memberships(busan, "pharmacist") == [("all", "pharmacist", False), ("BUSAN", "medical_director", True)]
    assert sign_in(at_busan, "pharmacist", PASSWORDS["pharmacist"]).role == "pharmacist", "the group role again"
    assert not dialog.revoke_button.isEnabled()


def test_a_user_without_any_role_is_shown_so(qtbot: QtBot, admin: ServiceContext) -> None:
    dialog = _users(qtbot, admin)
    dialog.select_user("inspector")
    assert dialog.place.currentData() == "all" and dialog.place_state.text() == "Now inspector at every site."
    _sign(qtbot, dialog)  # no reason: optional, as for the other account changes
    dialog.revoke_button.click()
    assert _places(dialog)["inspector"] == "no role at any site (may not sign in)"
    assert dialog.place_state.text() == "No role at every site."
    assert _memberships(admin, "inspector") == [("all", "inspector", True)]


def test_a_site_admin_is_refused_at_another_site_in_the_dialog(
    qtbot: QtBot, busan: ServiceContext, registry: ServiceContext
) -> None:
    create_user(busan, "park", "admin", "park-password-long", "Park Admin", site_code="BUSAN")
    park = ServiceContext(busan.db, site_code="BUSAN")
    sign_in(park, "park", "park-password-long")
    dialog = _users(qtbot, park)
    dialog.select_user("pharmacist")
    set_combo_value(dialog.place, "main")
    set_combo_value(dialog.place_role, "inspector")
    before = row_counts(busan.db)
    _sign(qtbot, dialog, "park-password-long")
    dialog.grant_button.click()
    refused = "park is an admin of one site and may only change roles there"
    assert refused in dialog.banner.text() and refused in _shown(dialog, "place")
    assert row_counts(busan.db) == before and dialog.done_label.text() == ""
    assert dialog.place.currentData() == "main" and dialog.place_role.currentData() == "inspector", "choice kept"
    # At their own site the same grant goes through.
    set_combo_value(dialog.place, "BUSAN")
    _sign(qtbot, dialog, "park-password-long")
    dialog.grant_button.click()
    assert _shown(dialog, "place") == "" and "inspector at BUSAN" in _places(dialog)["pharmacist"]


def test_an_admin_cannot_change_their_own_roles_at_sites(qtbot: QtBot, busan: ServiceContext) -> None:
    dialog = _users(qtbot, busan)
    dialog.select_user("admin")
    set_combo_value(dialog.place, "BUSAN")
    set_combo_value(dialog.place_role, "pharmacist")
    assert not dialog.grant_button.isEnabled() and not dialog.revoke_button.isEnabled()
    assert _shown(dialog, "place_role") == OWN_PLACES and dialog.grant_button.toolTip() == OWN_PLACES
    before = row_counts(busan.db)
    _sign(qtbot, dialog)
    dialog.grant_place()  # a stale list: the service refuses, and the dialog says why beside the role there
    assert OWN_PLACES in _shown(dialog, "place_role") and OWN_PLACES in dialog.banner.text()
    assert row_counts(busan.db) == before


def test_add_a_user_at_a_site(qtbot: QtBot, busan: ServiceContext, registry: ServiceContext) -> None:
    dialog = _users(qtbot, busan)
    adder = _add(qtbot, dialog, "kim.nurse", "Kim Nurse", "pharmacist", "kim-first-password-9")
    assert adder.site.currentData() == "all" and adder.site.currentText() == "Every site (group)"
    assert set_combo_value(adder.site, "BUSAN")
    _sign(qtbot, adder)
    with qtbot.waitSignal(adder.saved):
        adder.save_button.click()
    assert _by_name(busan)["kim.nurse"]["sites"] == [{"site": "BUSAN", "role": "pharmacist"}]
    assert _places(dialog)["kim.nurse"] == "pharmacist at BUSAN"
    assert sign_in(ServiceContext(busan.db, site_code="BUSAN"), "kim.nurse", "kim-first-password-9")
    with pytest.raises(PermissionDenied, match="no role at site main"):
        sign_in(ServiceContext(busan.db, site_code="main"), "kim.nurse", "kim-first-password-9")


def test_a_site_admin_adds_users_at_their_site(qtbot: QtBot, busan: ServiceContext) -> None:
    create_user(busan, "park", "admin", "park-password-long", "Park Admin", site_code="BUSAN")
    park = ServiceContext(busan.db, site_code="BUSAN")
    sign_in(park, "park", "park-password-long")
    adder = AddUserDialog(park)
    qtbot.addWidget(adder)
    assert adder.site.currentData() == "BUSAN", "the only place the service accepts from them"
    set_combo_value(adder.site, "all")
    qtbot.keyClicks(adder.username, "kim.nurse")
    qtbot.keyClicks(adder.password, "kim-first-password-9")
    _sign(qtbot, adder, "park-password-long")
    before = row_counts(busan.db)
    adder.save_button.click()
    assert "adds users at that site only" in adder.banner.text() and row_counts(busan.db) == before
    set_combo_value(adder.site, "BUSAN")
    _sign(qtbot, adder, "park-password-long")
    with qtbot.waitSignal(adder.saved):
        adder.save_button.click()
    assert _by_name(busan)["kim.nurse"]["sites"] == [{"site": "BUSAN", "role": "pharmacist"}]
