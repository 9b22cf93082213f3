"""The registries this user opened, newest first, kept in the desktop's QSettings: the app reopens the last
one instead of the first-run screen, and File > Open a recent registry lists the others.

URLs are kept without their password (a server's password is asked for again, never stored here).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QProcess, QSettings

from ..services.credentials import without_password

KEY = "registry/recent"
MAX_RECENT = 8


def safe_url(url: str) -> str:
    """The URL without its password: left out, not masked, so that reopening it asks the keyring or the user
    rather than sending `***` to the server."""
    return without_password(url)


class RecentRegistries:
    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def entries(self) -> list[str]:
        value = self.settings.value(KEY, [])
        if isinstance(value, str):  # QSettings gives a one-item list back as a string on some platforms
            value = [value]
        return [str(v) for v in value or [] if v]

    def last(self) -> str | None:
        entries = self.entries()
        return entries[0] if entries else None

    def remember(self, url: str) -> None:
        url = safe_url(url)
        entries = [url, *(e for e in self.entries() if e != url)][:MAX_RECENT]
        self.settings.setValue(KEY, entries)
        self.settings.sync()

    def forget(self, url: str) -> None:
        self.settings.setValue(KEY, [e for e in self.entries() if e != safe_url(url)])


def launch_with_registry(url: str) -> bool:
    """Start another copy of the app on `url` (the bundle's program, or this Python with the package)."""
    if getattr(sys, "frozen", False):
        return bool(QProcess.startDetached(sys.executable, ["--database", url]))
    return bool(QProcess.startDetached(sys.executable, ["-m", "registry_app", "--database", url]))
