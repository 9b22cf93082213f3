"""Users (issue 19 item 6, admin): who may sign in and with which role. The list shows each account's name,
full name, role, whether it is active, whether it is locked and its roles at sites (issue 23); an admin adds
users (at a site, or at every site), changes a role, disables or re-enables an account, unlocks it, resets its
password, or grants and revokes a role at one site or at every site of the group.

Each change is electronically signed: the admin types their own password again (as the release dialog asks),
and the service (services/auth.py `signed_*`) records the signature in the change's transaction and audit
entry. Who may sign in decides who may release lots and sign for patients, so a change of accounts is signed
like those. An admin cannot change their own role or disable themself (another admin does it): the service
refuses, and the dialog says so beside the field before anyone tries.

A role at a site is granted and revoked (services/memberships.py) with the same signature; the command line's
`user grant` and `user revoke`, like its other account changes, are audited under the admin's name unsigned.

Opener: `open_users(parent, ctx)`; File > Users… (ui/editors/menu.py) for admins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ...domain.vocab import Role, label
from ...services import PermissionDenied, RegistryError, ServiceContext, SignInFailed
from ...services.auth import (
    list_users,
    signed_create_user,
    signed_disable_user,
    signed_reactivate_user,
    signed_reset_password,
    signed_set_role,
    signed_unlock_user,
)
from ...services.context import ADMIN
from ...services.memberships import grant_role, revoke_role
from ...services.passwords import MIN_PASSWORD_LENGTH, password_problem
from ...services.sites import list_sites
from ..dialogs.forms import attempt_op, set_combo_value, show_registry_error, vocab_combo
from ..dialogs.signature import SignaturePanel
from ..dialogs.undo import FormUndo
from ..ops import report_unexpected, runner_for
from ..style import mark_invalid, set_role
from .common import EditorDialog, deny, refusal
from .user_sites import OWN_PLACES, fill_places, place_combo, place_name, place_state, places_text, role_at

WHAT = "add users or change their accounts"
MEANING = "I approve this change to who may sign in and what they may do."
POLICY = f"At least {MIN_PASSWORD_LENGTH} characters, and not one of the common passwords attackers try first."
# The services' own words (auth._not_yourself), shown before anyone tries.
OWN_ROLE = "you cannot change your own role: another admin can"
OWN_ACCOUNT = "you cannot disable your own account: another admin can"
COLUMNS = ("User name", "Full name", "Role", "Account", "Lock", "Roles at sites")


class PasswordPolicyHint(QLabel):
    """The password policy beside a new password, saying as the admin types what the service will refuse
    (services/passwords.py `password_problem`: the same rule, so the hint and the refusal agree)."""

    def __init__(self, edit: QLineEdit, field: str) -> None:
        super().__init__(objectName=f"policy:{field}")
        self.setWordWrap(True)
        edit.textChanged.connect(self.follow)
        self.follow("")

    def follow(self, text: str) -> None:
        problem = password_problem(text) if text else None
        self.setText(
            f"Not accepted by the policy: {problem}." if problem else "Meets the password policy." if text else POLICY
        )
        set_role(self, "error" if problem else "hint")


class _SignedForm(EditorDialog):
    """An editor whose every save is signed by the admin: the signature panel under the form, its password
    field's refusal shown under it, and the password cleared after a wrong one (never kept around)."""

    def add_signature(self) -> SignaturePanel:
        self.signature = SignaturePanel(self.ctx, "approved", reason_label="Reason for the change")
        self.signature.meaning_label.setText(MEANING)
        self.outer.addWidget(self.signature)
        message = QLabel(objectName="error:signer_password")
        message.setWordWrap(True)
        set_role(message, "error")
        message.hide()
        self.outer.addWidget(message)
        self.fields["signer_password"] = self.signature.password_edit
        self.field_errors["signer_password"] = message
        return self.signature

    def note(self, field: str, text: str) -> None:
        """Write `text` under the field and outline it."""
        self.field_errors[field].setText(text)
        self.field_errors[field].show()
        mark_invalid(self.fields[field], True)

    def signature_ready(self) -> bool:
        """Whether the password was typed; if not, say so beside it (nothing is sent to the registry)."""
        if self.signature.password():
            return True
        self.clear_errors()
        self.banner.show_error("password: type your own password again to sign this change")
        self.note("signer_password", "type your own password again to sign this change")
        self.signature.password_edit.setFocus()
        return False

    def _refused(self, error: RegistryError) -> None:
        self.show_error(error)
        if isinstance(error, SignInFailed):
            # The change was not made; the failed attempt counts towards the admin's own lock, as at release.
            self.signature.clear_password()
            self.note("signer_password", f"{error.message}: nothing was changed")


class AddUserDialog(_SignedForm):
    """A new user: name, full name, role and initial password (the policy beside it), signed by the admin.
    `saved(username)` once added; the dialog then closes. A refusal keeps everything typed."""

    saved = Signal(str)

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Add a user", parent)
        form = QFormLayout()
        self.outer.addLayout(form)
        self.username = QLineEdit(objectName="username")
        self.username.setPlaceholderText("What they type to sign in, e.g. kim.nurse (no spaces)")
        self.add_row(form, "&User name", self.username, "username")
        self.full_name = QLineEdit(objectName="fullName")
        self.full_name.setPlaceholderText("As printed beside their signatures")
        self.add_row(form, "&Full name", self.full_name, "full_name")
        self.role = vocab_combo(Role, empty=None)
        self.role.setObjectName("role")
        set_combo_value(self.role, Role.PHARMACIST.value)
        self.add_row(form, "&Role", self.role, "role")
        self.site = place_combo("site")
        self.site.setToolTip("Where the role holds: one site, or every site of the group (as `user add --site`)")
        self.add_row(form, "Si&te", self.site, "site")
        self.password = QLineEdit(objectName="password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Initial password")
        self.add_row(form, "Initial &password", self.password, "password")
        self.policy = PasswordPolicyHint(self.password, "password")
        form.addRow("", self.policy)
        self.outer.addStretch(1)  # the signature stays together at the bottom, over the buttons
        self.add_signature()
        self.save_button.setText("&Sign and add user")
        self.finish_layout()
        why = refusal(ctx, ADMIN, WHAT)
        if why:
            deny(self.save_button, why)
            self.banner.show_warning(why)
        # Undo walks back the names and the role; passwords are never kept in an undo history.
        self.undo = FormUndo(self)
        for name, widget in (
            ("user name", self.username),
            ("full name", self.full_name),
            ("role", self.role),
            ("site", self.site),
        ):
            self.undo.watch(widget, name)
        self.resize(620, 560)
        self.username.setFocus()
        runner_for(self).run(self, lambda _p: list_sites(ctx), self._sites_loaded, self._load_failed, title="Sites")

    def _sites_loaded(self, sites: list[dict[str, Any]]) -> None:
        # An admin of one site adds users there only (the service refuses every other place): their site first.
        actor = self.ctx.actor
        acting = self.ctx.site_code or next((s["code"] for s in sites if s["current"]), None)
        fill_places(self.site, sites, acting if actor is not None and actor.site_id is not None else None)

    def submit(self) -> None:
        if not self.save_button.isEnabled() or not self.signature_ready():
            return
        ctx, name, role, site = self.ctx, self.username.text(), self.role.currentData(), self.site.currentData()
        full_name = self.full_name.text().strip()
        password, signer, reason = self.password.text(), self.signature.password(), self.signature.reason() or None
        self.save_op(
            lambda: signed_create_user(
                ctx, name, role, password, full_name or None, signer_password=signer, reason=reason, site_code=site
            ),
            self._saved,
        )

    def _saved(self, _user_id: int) -> None:
        self.saved_cleanly()
        self.saved.emit(self.username.text().strip())
        self.accept()


class UsersDialog(_SignedForm):
    """Every user, and the signed changes to the one selected. `saved(username)` after each change."""

    saved = Signal(str)

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Users", parent)
        self.users: list[dict[str, Any]] = []
        self.selected: dict[str, Any] | None = None
        self.sites: list[dict[str, Any]] = []
        self.adder: AddUserDialog | None = None
        self.may = refusal(ctx, ADMIN, WHAT) is None
        explanation = QLabel(
            "Users are disabled, never deleted: what they did stays under their name. Each change to an "
            "account is signed with your own password."
        )
        explanation.setWordWrap(True)
        self.outer.addWidget(explanation)
        self.table = QTableWidget(0, len(COLUMNS), objectName="usersTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.outer.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("&Add user…", objectName="addUser")
        self.add_button.clicked.connect(self.add_user)
        row.addWidget(self.add_button)
        row.addStretch(1)
        self.outer.addLayout(row)
        self._build_account_box()
        self._build_places_box()
        self.add_signature()
        self.done_label = QLabel(objectName="usersDone")
        self.done_label.setWordWrap(True)
        self.outer.addWidget(self.done_label)
        # Changes are signed one by one, each with its own button: the box only closes.
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        self.outer.addWidget(self.buttons)
        self.actions: list[QWidget] = [
            self.role,
            self.role_button,
            self.active_button,
            self.unlock_button,
            self.new_password,
            self.reset_button,
            self.place,
            self.place_role,
            self.grant_button,
            self.revoke_button,
        ]
        why = refusal(ctx, ADMIN, WHAT)
        if why:
            for widget in [self.add_button, *self.actions, self.signature]:
                deny(widget, why)
            self.banner.show_warning(why)
        self._update_actions()
        self.resize(820, 900)
        self.refresh()

    def _build_account_box(self) -> None:
        self.account_box = QGroupBox("Selected user", objectName="selectedUser")
        form = QFormLayout(self.account_box)
        self.role = vocab_combo(Role, empty=None)
        self.role.setObjectName("selectedRole")
        self.role.currentIndexChanged.connect(lambda _i: self._update_actions())
        self.role_button = QPushButton("Change &role", objectName="changeRole")
        self.role_button.clicked.connect(self.change_role)
        self.add_row(form, "&Role", self.role, "role", self.role_button)
        self.active_label = QLabel(objectName="accountState")
        self.active_button = QPushButton("&Disable", objectName="toggleActive")
        self.active_button.clicked.connect(self.toggle_active)
        self.add_row(form, "Account", self.active_label, "active", self.active_button)
        self.lock_label = QLabel(objectName="lockState")
        self.unlock_button = QPushButton("&Unlock", objectName="unlock")
        self.unlock_button.clicked.connect(self.unlock)
        self.add_row(form, "Lock", self.lock_label, "locked", self.unlock_button)
        self.new_password = QLineEdit(objectName="newPassword")
        self.new_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_password.setAccessibleName("New password")
        self.reset_button = QPushButton("Re&set password", objectName="resetPassword")
        self.reset_button.clicked.connect(self.reset_password)
        self.new_password.textChanged.connect(lambda _t: self._update_actions())
        self.add_row(form, "New &password", self.new_password, "password", self.reset_button)
        self.policy = PasswordPolicyHint(self.new_password, "password")
        form.addRow("", self.policy)
        self.outer.addWidget(self.account_box)

    def _build_places_box(self) -> None:
        self.places_box = QGroupBox("Roles at sites", objectName="siteRoles")
        form = QFormLayout(self.places_box)
        self.place = place_combo("place")
        self.place.currentIndexChanged.connect(lambda _i: self._place_changed())
        self.add_row(form, "S&ite", self.place, "place")
        self.place_state = QLabel(objectName="placeState")
        self.place_state.setWordWrap(True)
        form.addRow("", self.place_state)
        self.place_role = vocab_combo(Role, empty=None)
        self.place_role.setObjectName("placeRole")
        self.place_role.currentIndexChanged.connect(lambda _i: self._update_actions())
        buttons = QWidget()
        line = QHBoxLayout(buttons)
        line.setContentsMargins(0, 0, 0, 0)
        self.grant_button = QPushButton("&Grant", objectName="grantRole")
        self.grant_button.clicked.connect(self.grant_place)
        self.revoke_button = QPushButton("Re&voke", objectName="revokeRole")
        self.revoke_button.clicked.connect(self.revoke_place)
        line.addWidget(self.grant_button)
        line.addWidget(self.revoke_button)
        self.add_row(form, "Ro&le there", self.place_role, "place_role", buttons)
        hint = QLabel(
            "Granted or revoked with your signature below, as the other changes to an account. A revoked role is "
            "kept, with the time it ended."
        )
        hint.setWordWrap(True)
        set_role(hint, "hint")
        form.addRow("", hint)
        self.outer.addWidget(self.places_box)

    # --- the list -------------------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        ctx = self.ctx
        runner_for(self).run(
            self,
            lambda _p: (list_users(ctx), list_sites(ctx)),
            lambda found: self._show(*found, select),
            self._load_failed,
            title="Loading the users",
        )

    def _load_failed(self, error: BaseException) -> None:
        if not isinstance(error, RegistryError):
            report_unexpected(self, error)
            return
        self.banner.show_error(error.message)

    def _show(self, users: list[dict[str, Any]], sites: list[dict[str, Any]], select: str | None) -> None:
        keep = select or (self.selected or {}).get("username")
        self.users, self.sites = users, sites
        fill_places(self.place, sites)
        # Filled without selection signals, then the selection is read once: the selected user's values must
        # be the fresh ones even when the same row stays selected.
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(users))
        for row, user in enumerate(users):
            cells = (
                user["username"],
                user.get("full_name") or "",
                label(user["role"]),
                "Active" if user["active"] else "Disabled",
                "Locked" if user["locked"] else "—",
                places_text(user.get("sites", [])),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, user["username"])
                self.table.setItem(row, column, item)
        names = [u["username"] for u in users]
        if keep in names:
            self.table.selectRow(names.index(keep))
        self.table.blockSignals(False)
        self._selection_changed()

    def select_user(self, username: str) -> None:
        """Select `username` in the list (as a click on its row does)."""
        self.table.selectRow([u["username"] for u in self.users].index(username))

    def _selection_changed(self) -> None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        self.selected = self.users[min(rows)] if rows else None
        self.clear_errors()
        if self.selected is not None:
            user = self.selected
            self.account_box.setTitle(
                f"Selected user: {user['username']}" + (f" ({user['full_name']})" if user.get("full_name") else "")
            )
            set_combo_value(self.role, user["role"])
            self.active_label.setText("Active: may sign in" if user["active"] else "Disabled: may not sign in")
            self.active_button.setText("&Disable" if user["active"] else "Re-&enable")
            self.lock_label.setText(
                f"Locked after {user['failed_attempts']} failed attempts" if user["locked"] else "Not locked"
            )
        else:
            self.account_box.setTitle("Selected user: none (choose one in the list)")
        self._place_changed()

    def _place_changed(self) -> None:
        """The selected user's role at the chosen place: shown, and offered in the role combo to change."""
        code = self.place.currentData()
        self.place_state.setText(place_state(self.selected, code))
        own = role_at(self.selected, code)
        if own is not None:
            set_combo_value(self.place_role, own)
        self._update_actions()

    def _is_me(self) -> bool:
        return (
            self.selected is not None
            and self.ctx.actor is not None
            and self.selected["username"] == self.ctx.actor.username
        )

    def _update_actions(self) -> None:
        """What the admin may do to the selected user; why not, beside the field, for their own account."""
        if not self.may:
            return
        user, me = self.selected, self._is_me()
        chosen = user is not None
        self.role.setEnabled(chosen and not me)
        self.role_button.setEnabled(chosen and not me and self.role.currentData() != user["role"])  # type: ignore[index]
        self.active_button.setEnabled(chosen and not (me and user["active"]))  # type: ignore[index]
        self.unlock_button.setEnabled(chosen and bool(user and user["locked"]))
        self.new_password.setEnabled(chosen)
        self.reset_button.setEnabled(chosen and bool(self.new_password.text()))
        own = role_at(user, self.place.currentData())
        self.place_role.setEnabled(chosen and not me)
        self.grant_button.setEnabled(chosen and not me and self.place_role.currentData() != own)
        self.revoke_button.setEnabled(chosen and not me and own is not None)
        for widget, why in (
            (self.role, OWN_ROLE),
            (self.role_button, OWN_ROLE),
            (self.active_button, OWN_ACCOUNT),
            (self.grant_button, OWN_PLACES),
            (self.revoke_button, OWN_PLACES),
        ):
            widget.setToolTip(why if me else "")
        if me:
            self.note("role", OWN_ROLE)
            self.note("active", OWN_ACCOUNT)
            self.note("place_role", OWN_PLACES)

    # --- the signed changes ---------------------------------------------------------------------------------
    def _apply(self, call: Callable[[str, str, str | None], object], done: str) -> None:
        """Sign and make one change to the selected user: `call(username, admin_password, reason)`."""
        if self.selected is None or not self.may or not self.signature_ready():
            return
        self.clear_errors()
        ctx_name, password, reason = self.selected["username"], self.signature.password(), self.signature.reason()
        attempt_op(
            self,
            self.banner,
            lambda: call(ctx_name, password, reason or None),
            lambda _result: self._applied(ctx_name, done),
            busy=[self.add_button, *self.actions],
            on_refused=self._refused,
            title=self.windowTitle(),
        )

    def _applied(self, username: str, done: str) -> None:
        self.saved_cleanly()
        # A signature is typed again at each signing: nothing of this one is kept for the next change.
        self.signature.password_edit.clear()
        self.signature.reason_edit.clear()
        self.new_password.clear()
        signer = self.ctx.actor.display_name if self.ctx.actor else ""
        self.done_label.setText(f"{done} (signed by {signer}).")
        self.saved.emit(username)
        self.refresh(username)

    def _refused(self, error: RegistryError) -> None:
        super()._refused(error)
        if isinstance(error, PermissionDenied):
            self.done_label.clear()
        self._update_actions()

    def change_role(self) -> None:
        ctx, role = self.ctx, self.role.currentData()
        name = (self.selected or {}).get("username", "")
        self._apply(
            lambda user, pw, why: signed_set_role(ctx, user, role, signer_password=pw, reason=why),
            f"{name} is now {label(role).lower()}",
        )

    def toggle_active(self) -> None:
        if self.selected is None:
            return
        ctx, name = self.ctx, self.selected["username"]
        if self.selected["active"]:
            self._apply(
                lambda user, pw, why: signed_disable_user(ctx, user, signer_password=pw, reason=why),
                f"{name} is disabled and may no longer sign in",
            )
        else:
            self._apply(
                lambda user, pw, why: signed_reactivate_user(ctx, user, signer_password=pw, reason=why),
                f"{name} is active again",
            )

    def unlock(self) -> None:
        ctx, name = self.ctx, (self.selected or {}).get("username", "")
        self._apply(
            lambda user, pw, why: signed_unlock_user(ctx, user, signer_password=pw, reason=why), f"{name} is unlocked"
        )

    def reset_password(self) -> None:
        ctx, name, new = self.ctx, (self.selected or {}).get("username", ""), self.new_password.text()
        self._apply(
            lambda user, pw, why: signed_reset_password(ctx, user, new, signer_password=pw, reason=why),
            f"{name}'s password is reset (tell them in person; it is not shown again)",
        )

    # --- roles at sites, signed like the other account changes -------------------------------------------------
    def _apply_place(self, call: Callable[[str, str, str, str | None], object], done: str) -> None:
        """Sign and grant or revoke at the chosen place: `call(username, place_code, admin_password, reason)`."""
        if self.selected is None or not self.may or not self.signature_ready():
            return
        self.clear_errors()
        name, code = self.selected["username"], self.place.currentData()
        password, reason = self.signature.password(), self.signature.reason() or None
        attempt_op(
            self,
            self.banner,
            lambda: call(name, code, password, reason),
            lambda _result: self._applied(name, done),
            busy=[self.add_button, *self.actions],
            on_refused=self._place_refused,
            title=self.windowTitle(),
        )

    def _place_refused(self, error: RegistryError) -> None:
        """The banner says why (attempt_op); so does the line under the place or, for a role, the role there."""
        self.clear_errors()
        show_registry_error(self.banner, error)
        self.note("place_role" if getattr(error, "field", "") == "role" else "place", error.message)
        self.done_label.clear()
        self._update_actions()

    def grant_place(self) -> None:
        ctx, role, code = self.ctx, self.place_role.currentData(), self.place.currentData()
        name = (self.selected or {}).get("username", "")
        self._apply_place(
            lambda user, place, pw, why: grant_role(ctx, user, place, role, why, signer_password=pw),
            f"{name} is now {label(role).lower()} at {place_name(code)}",
        )

    def revoke_place(self) -> None:
        ctx, code = self.ctx, self.place.currentData()
        name = (self.selected or {}).get("username", "")
        self._apply_place(
            lambda user, place, pw, why: revoke_role(ctx, user, place, why, signer_password=pw),
            f"{name} no longer has a role at {place_name(code)} (the record is kept)",
        )

    def add_user(self) -> AddUserDialog:
        self.adder = AddUserDialog(self.ctx, self)
        self.adder.saved.connect(self._added)
        self.adder.open()
        return self.adder

    def _added(self, username: str) -> None:
        self.done_label.setText(f"{username} is added.")
        self.saved.emit(username)
        self.refresh(username)

    def submit(self) -> None:
        """Nothing to save as a whole: each change is signed on its own."""


def open_users(parent: QWidget | None, ctx: ServiceContext) -> UsersDialog:
    """Open the users (changes need the admin role; a medical director or inspector sees the list only)."""
    dialog = UsersDialog(ctx, parent)
    dialog.open()
    return dialog
