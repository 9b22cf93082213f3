"""The desktop application's entry point: `run_desktop(args)` (launcher.main with no command).

Order of events: first-run screen when there is no registry (or it has no users), else the sign-in dialog;
then the main window. Only Qt and the window's own modules are imported before the window shows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from ..services import ServiceContext
from ..services.auth import has_users
from ..services.registry import (
    BUSY_TIMEOUT_MS,
    ENV_DATABASE_URL,
    DatabaseTooNew,
    default_database_path,
    is_sqlite,
    open_database,
    resolve_database_url,
)
from .crash import install_crash_handler
from .recent import RecentRegistries
from .single_instance import InstanceGuard, instance_key
from .style import apply_application_style

# How long quitting waits for work still running: a little more than SQLite's busy timeout, so a save that
# waited for another writer's lock still commits.
QUIT_WAIT_MS = BUSY_TIMEOUT_MS + 5_000


def _application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setOrganizationName("registry-app")
    app.setApplicationName("registry-app")
    app.setApplicationDisplayName("Exosome & PN lot registry")
    app.setDesktopFileName("registry-app")  # matches resources/linux/registry-app.desktop: the dock's icon
    apply_application_style(app)
    return app


def _registry_exists(url: str) -> bool:
    if not is_sqlite(url):
        return True
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return bool(database) and Path(database).exists()


def desktop_settings() -> QSettings:
    return QSettings("registry-app", "desktop")


def chosen_registry_url(args: argparse.Namespace, recent: RecentRegistries) -> tuple[str, bool]:
    """(the registry to open, whether the user named it): --database, REGISTRY_DATABASE_URL, the registry
    opened last time if it is still there, else the default file in the user data folder."""
    explicit = args.database or os.environ.get(ENV_DATABASE_URL)
    if explicit:
        return resolve_database_url(args.database), True
    last = recent.last()
    if last and _registry_exists(last):
        return last, True
    return resolve_database_url(None), False


def open_registry(args: argparse.Namespace, recent: RecentRegistries | None = None) -> ServiceContext | None:
    """The signed-in registry to show, or None if the user gave up (closed the first-run or sign-in)."""
    from .first_run import FirstRunDialog

    recent = recent or RecentRegistries(desktop_settings())
    url, explicit = chosen_registry_url(args, recent)
    ctx: ServiceContext | None = None
    if explicit or _registry_exists(url):
        try:
            ctx = ServiceContext(open_database(_with_server_password(url)), site_code=args.site)
        except DatabaseTooNew as error:
            QMessageBox.critical(None, "Registry", str(error))
            return None
        except Exception as error:  # unreachable server, unreadable file: offer the first-run choices instead
            QMessageBox.warning(None, "Registry", f"Could not open {url}: {str(error).splitlines()[0]}")
    if ctx is None or not has_users(ctx):
        default = Path(ctx.db.engine.url.database) if ctx and ctx.db.is_sqlite else default_database_path()
        if ctx is not None:
            ctx.db.dispose()
        first = FirstRunDialog(default, args.site)
        if first.exec() != QDialog.DialogCode.Accepted or first.ctx is None:
            return None
        ctx = first.ctx
        if first.signed_in:
            recent.remember(str(ctx.db.url))
            return ctx  # the new registry's administrator, signed in as they created it
    if not sign_in_again(ctx, args.user or os.environ.get("REGISTRY_USER", "")):
        return None
    recent.remember(str(ctx.db.url))
    return ctx


def _with_server_password(url: str) -> str:
    """A server URL kept without its password (recent registries, File > Open a registry on a server) gets it
    from the OS keyring when it was kept there, else from the user; libpq's PGPASSWORD and .pgpass still
    apply when neither gives one."""
    from ..services.credentials import account_for, has_password, is_authentication_failure, stored_password
    from ..services.credentials import with_password as add_password

    if is_sqlite(url) or has_password(url):
        return url
    stored = stored_password(account_for(url))
    if stored:
        return add_password(url, stored)
    try:
        open_database(url, migrate=False).dispose()
        return url  # trust, PGPASSWORD or .pgpass: no password needed here
    except Exception as error:
        if not is_authentication_failure(error):
            return url  # the caller reports it
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    password, ok = QInputDialog.getText(
        None, "Registry", f"Password for {account_for(url)}:", QLineEdit.EchoMode.Password
    )
    return add_password(url, password) if ok and password else url


def sign_in_again(ctx: ServiceContext, username: str = "") -> bool:
    from .sign_in import SignInDialog

    ctx.actor = None
    return SignInDialog(ctx, username).exec() == QDialog.DialogCode.Accepted


def _bring_to_front(window: QWidget | None) -> None:
    """A second launch on this registry: show whichever of our windows the user is at (sign-in, main)."""
    target = QApplication.activeModalWidget() or window
    if target is None:
        return
    if target.isMinimized():
        target.showNormal()
    target.raise_()
    target.activateWindow()


def run_desktop(args: argparse.Namespace) -> int:
    app = _application()
    install_crash_handler()
    recent = RecentRegistries(desktop_settings())
    guard = InstanceGuard(instance_key(chosen_registry_url(args, recent)[0]), app)
    if not guard.claim():
        print("registry-app: this registry is already open; its window was brought to the front", file=sys.stderr)
        return 0
    guard.activated.connect(lambda: _bring_to_front(None))
    ctx = open_registry(args, recent)
    if ctx is None:
        return 0
    from .main_window import MainWindow
    from .op_thread import wait_for_running
    from .ops import application_runner

    try:
        while True:
            window = MainWindow(ctx, ops=application_runner())  # the application's runner, for every widget
            guard.activated.connect(lambda w=window: _bring_to_front(w))
            window.show()
            code = int(app.exec())
            # The window may close while a save waits for the database (up to its busy timeout): let it finish.
            wait_for_running(QUIT_WAIT_MS)
            if not window.signed_out or not sign_in_again(ctx):
                return code
    finally:
        guard.release()
