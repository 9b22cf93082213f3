"""One running window per registry: a second launch on the same registry raises the first window instead.

Two windows on one file would each keep their own view of it and fight over the write lock. The first
instance listens on a local socket (a named pipe on Windows) whose name is derived from the registry's URL
and the OS user; a later launch connects, says "raise", and exits.
"""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 500
RAISE = b"raise\n"


def instance_key(database_url: str) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        user = "user"
    digest = hashlib.sha256(f"{user}\0{database_url}".encode()).hexdigest()[:24]
    return f"registry-app-{digest}"


def ask_running_instance_to_raise(key: str) -> bool:
    """True when another instance holds `key` and was asked to show its window."""
    socket = QLocalSocket()
    socket.connectToServer(key)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(RAISE)
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    socket.disconnectFromServer()
    return True


class InstanceGuard(QObject):
    """Holds the registry's instance key while the app runs; `activated` fires when a later launch asks."""

    activated = Signal()

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.server = QLocalServer(self)
        self.server.newConnection.connect(self._on_connection)

    def claim(self) -> bool:
        """Start listening; False when another running instance already has this registry."""
        if ask_running_instance_to_raise(self.key):
            return False
        # A server left behind by a crashed instance (its socket file) would make listen() fail.
        QLocalServer.removeServer(self.key)
        return self.server.listen(self.key)

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            # The socket is the server's child and goes with it; no per-socket lambda or deleteLater, which
            # could run while the server is being destroyed.
            self.server.nextPendingConnection().readyRead.connect(self._read)

    def _read(self) -> None:
        for socket in self.server.findChildren(QLocalSocket):
            if socket.bytesAvailable() and bytes(socket.readAll().data()).startswith(RAISE.strip()):
                socket.disconnectFromServer()
                self.activated.emit()

    def release(self) -> None:
        for socket in self.server.findChildren(QLocalSocket):
            socket.abort()
        self.server.close()
