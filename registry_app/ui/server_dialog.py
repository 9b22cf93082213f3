"""File > Open a registry on a server… (and the first-run screen's button): host, port, database, user and TLS
mode, kept in the desktop's settings for next time; the password never is (services/credentials.py: the OS
keyring if the user asks and one is available, otherwise typed each time)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..services import ServiceContext
from ..services.credentials import (
    TLS_MODES,
    ServerConnection,
    is_authentication_failure,
    keyring_available,
    store_password,
    stored_password,
)
from ..services.registry import DatabaseTooNew, open_database
from .ops import runner_for
from .style import set_role

SETTINGS_KEY = "registry/server"


def saved_connection(settings: QSettings) -> ServerConnection | None:
    values = {name: settings.value(f"{SETTINGS_KEY}/{name}") for name in ServerConnection.FIELDS}
    return ServerConnection.from_settings(values) if values["host"] else None


def remember_connection(settings: QSettings, connection: ServerConnection) -> None:
    # One plain key per field (not a map, which QSettings writes as an opaque blob): readable, and checkable.
    for name, value in connection.settings().items():
        settings.setValue(f"{SETTINGS_KEY}/{name}", value)
    settings.sync()


class ServerDialog(QDialog):
    """On accept, `ctx` is the registry on the server, opened (and migrated if the user may)."""

    def __init__(self, settings: QSettings, site: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a registry on a server")
        self.settings = settings
        self.site = site
        self.ctx: ServiceContext | None = None
        last = saved_connection(settings) or ServerConnection(host="", database="registry", user="")
        self.host = QLineEdit(last.host, objectName="serverHost", placeholderText="db.clinic-group.example")
        self.port = QSpinBox(objectName="serverPort", minimum=1, maximum=65535, value=last.port)
        self.database = QLineEdit(last.database, objectName="serverDatabase")
        self.user = QLineEdit(last.user, objectName="serverUser")
        self.tls = QComboBox(objectName="serverTls")
        self.tls.addItems(TLS_MODES)
        self.tls.setCurrentText(last.tls_mode)
        self.tls.setToolTip("verify-full checks the server's certificate and name: use it across the internet")
        self.password = QLineEdit(objectName="serverPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("from the keyring, if kept there" if keyring_available() else "")
        self.remember = QCheckBox("Remember the password in this computer's keyring", objectName="rememberPassword")
        self.remember.setEnabled(keyring_available())
        if not keyring_available():
            self.remember.setToolTip("No keyring here (pip install 'registry-app[keyring]'): type it each time")
        self.error = QLabel(objectName="serverError", wordWrap=True)
        set_role(self.error, "error")
        form = QFormLayout()
        form.addRow("&Host", self.host)
        form.addRow("&Port", self.port)
        form.addRow("&Database", self.database)
        form.addRow("&User", self.user)
        form.addRow("&TLS", self.tls)
        form.addRow("Pass&word", self.password)
        form.addRow(self.remember)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.addButton("Co&nnect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setObjectName("connectServer")
        self.buttons.accepted.connect(self.connect_to_server)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def connection(self) -> ServerConnection:
        return ServerConnection(
            host=self.host.text().strip(),
            port=self.port.value(),
            database=self.database.text().strip(),
            user=self.user.text().strip(),
            tls_mode=self.tls.currentText(),
        )

    def connect_to_server(self) -> None:
        connection = self.connection()
        missing = [name for name, value in (("host", connection.host), ("database", connection.database),
                                            ("user", connection.user)) if not value]  # fmt: skip
        if missing:
            self.error.setText(f"Give the {', '.join(missing)}.")
            return
        typed = self.password.text()
        password = typed or stored_password(connection.account)
        remember = self.remember.isChecked() and bool(typed)
        url = connection.url(password)
        self.error.setText(f"Connecting to {connection.host}…")

        def opened(database: object) -> None:
            remember_connection(self.settings, connection)
            if remember:
                store_password(connection.account, typed)
            self.ctx = ServiceContext(database, site_code=self.site)  # type: ignore[arg-type]
            self.accept()

        def failed(error: BaseException) -> None:
            if isinstance(error, DatabaseTooNew):
                self.error.setText(str(error))
            elif is_authentication_failure(error):
                self.error.setText(
                    "The server refused the user name or password." if password else "The server wants a password."
                )
                self.password.setFocus()
            else:
                first_line = str(getattr(error, "orig", None) or error).strip().splitlines()
                self.error.setText(f"Could not connect: {first_line[0] if first_line else error}")

        runner_for(self).run(
            self, lambda _progress: open_database(url), opened, failed, busy=[self.buttons], title="Connecting"
        )
