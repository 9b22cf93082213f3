"""The first-run screen, shown when there is no registry yet (or the one opened has no users): create a new
registry with its first admin, open an existing file, connect to a server URL, or create a demo registry."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..services import RegistryError, ServiceContext
from ..services.auth import create_first_user, has_users
from ..services.passwords import MIN_PASSWORD_LENGTH
from ..services.registry import DatabaseTooNew, open_database, sqlite_url_for
from .ops import runner_for
from .style import set_role


class FirstRunDialog(QDialog):
    """On accept, `ctx` is an open registry; `ctx.actor` is set when a user was created (signed in)."""

    def __init__(self, default_path: Path, site: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome — Exosome & PN lot registry")
        self.site = site
        self.ctx: ServiceContext | None = None
        self.signed_in = False  # True when the dialog created the first user (no sign-in needed)
        self.path = QLineEdit(str(default_path), objectName="newPath")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._choose_new)
        self.admin_name = QLineEdit("admin", objectName="adminName")
        self.admin_full = QLineEdit(objectName="adminFullName")
        self.admin_password = QLineEdit(objectName="adminPassword")
        self.admin_password.setEchoMode(QLineEdit.EchoMode.Password)
        create = QPushButton("&Create registry", objectName="createRegistry")
        create.clicked.connect(self.create_new)
        new_box = QGroupBox("Create a new registry")
        new_form = QFormLayout(new_box)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        new_form.addRow("File", row)
        new_form.addRow("Administrator user name", self.admin_name)
        new_form.addRow("Full name", self.admin_full)
        new_form.addRow(f"Password ({MIN_PASSWORD_LENGTH}+ characters)", self.admin_password)
        new_form.addRow(create)

        open_button = QPushButton("&Open an existing registry file…", objectName="openRegistry")
        open_button.clicked.connect(self._choose_existing)
        self.server_url = QLineEdit(objectName="serverUrl", placeholderText="postgresql://user@host/registry")
        connect = QPushButton("Co&nnect", objectName="connectServer")
        connect.clicked.connect(lambda: self.open_url(self.server_url.text().strip()))
        server = QHBoxLayout()
        server.addWidget(self.server_url, 1)
        server.addWidget(connect)
        server_dialog = QPushButton("Open a registry on a &server…", objectName="openServer")
        server_dialog.clicked.connect(self.open_server)
        server.addWidget(server_dialog)
        self.demo_lots = QSpinBox(objectName="demoLots", minimum=50, maximum=100_000, value=200)
        demo = QPushButton("Create a &demo registry", objectName="createDemo")
        demo.clicked.connect(self.create_demo)
        demo_row = QHBoxLayout()
        demo_row.addWidget(QLabel("Lots"))
        demo_row.addWidget(self.demo_lots)
        demo_row.addWidget(demo, 1)

        self.error = QLabel(objectName="firstRunError")
        set_role(self.error, "error")
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>No registry yet</h2>Choose how to start."))
        layout.addWidget(new_box)
        layout.addWidget(open_button)
        layout.addWidget(QLabel("Or connect to a shared registry on a PostgreSQL server:"))
        layout.addLayout(server)
        layout.addWidget(QLabel("Or try the application on realistic demo records (documented demo passwords):"))
        layout.addLayout(demo_row)
        layout.addWidget(self.error)

    def _open(self, url: str) -> ServiceContext | None:
        try:
            return ServiceContext(open_database(url), site_code=self.site)
        except DatabaseTooNew as error:
            self.error.setText(str(error))
        except Exception as error:  # a bad URL or unreachable server: say so, stay on this screen
            self.error.setText(f"Could not open {url}: {str(error).splitlines()[0]}")
        return None

    def _choose_new(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New registry file", self.path.text(), "Registry (*.sqlite3)")
        if path:
            self.path.setText(path)

    def _choose_existing(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a registry file", "", "Registry (*.sqlite3 *.db);;All (*)")
        if path:
            self.open_url(sqlite_url_for(path))

    def create_new(self) -> bool:
        ctx = self._open(sqlite_url_for(self.path.text().strip()))
        if ctx is None:
            return False
        try:
            ctx.actor = create_first_user(
                ctx, self.admin_name.text(), "admin", self.admin_password.text(), self.admin_full.text().strip() or None
            )
        except RegistryError as error:
            self.error.setText(str(error))
            ctx.db.dispose()
            return False
        self.ctx = ctx
        self.signed_in = True
        self.accept()
        return True

    def open_url(self, url: str) -> bool:
        if not url:
            self.error.setText("Give the server URL.")
            return False
        ctx = self._open(url)
        if ctx is None:
            return False
        self.ctx = ctx
        self.accept()
        return True

    def open_server(self) -> bool:
        from .app import desktop_settings
        from .server_dialog import ServerDialog

        dialog = ServerDialog(desktop_settings(), self.site, self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.ctx is None:
            return False
        self.ctx = dialog.ctx
        self.accept()
        return True

    def create_demo(self) -> None:
        ctx = self._open(sqlite_url_for(self.path.text().strip()))
        if ctx is None:
            return
        if has_users(ctx):
            self.error.setText("That file is a registry with users already: open it instead, or choose a new file.")
            return
        lots = self.demo_lots.value()

        def work(_progress: object) -> object:
            from ..services.demo.generate import create_demo_users, generate_demo

            create_demo_users(ctx)
            return generate_demo(ctx, lots=lots)

        def done(_summary: object) -> None:
            ctx.actor = None  # the demo users sign in with their documented passwords
            self.ctx = ctx
            self.accept()

        # Demo generation writes in one transaction that cannot stop half-way: progress, but no Cancel.
        runner_for(self).run(
            self,
            work,
            done,
            lambda error: self.error.setText(str(error)),
            title="Creating the demo registry",
            progress=True,
            cancellable=False,
        )
