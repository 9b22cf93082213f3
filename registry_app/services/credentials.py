"""Connection settings of a registry on a PostgreSQL server, kept without the password.

The desktop keeps a server's host, port, database, user and TLS mode in its settings; the password is never
there. It comes from the OS keyring (Windows Credential Manager, macOS Keychain, the Secret Service on Linux)
through the `keyring` library when that is installed (`pip install 'registry-app[keyring]'`) and the user
chose to remember it, else the user types it. The command line takes the URL without a password and leaves
the password to libpq: PGPASSWORD or the ~/.pgpass file (%APPDATA%\\postgresql\\pgpass.conf on Windows).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, make_url

KEYRING_SERVICE = "registry-app"
# libpq's sslmode values the desktop offers: no TLS, TLS when the server offers it, TLS required, and TLS with
# the server's certificate checked against its host name (the only one that stops a man in the middle).
TLS_MODES = ("disable", "prefer", "require", "verify-full")
CONNECT_TIMEOUT_S = 10

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConnection:
    """Where a registry on a server is: everything needed to connect but the password."""

    host: str
    database: str
    user: str
    port: int = 5432
    tls_mode: str = "prefer"

    FIELDS = ("host", "port", "database", "user", "tls_mode")

    def url(self, password: str | None = None) -> str:
        if self.tls_mode not in TLS_MODES:
            raise ValueError(f"TLS mode {self.tls_mode!r}: use one of {', '.join(TLS_MODES)}")
        query = {"sslmode": self.tls_mode, "connect_timeout": str(CONNECT_TIMEOUT_S)}
        url = URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=password or None,
            host=self.host,
            port=self.port,
            database=self.database,
            query=query,
        )
        return url.render_as_string(hide_password=False)

    def settings(self) -> dict[str, Any]:
        """What the desktop stores: no password, by construction."""
        return {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "tls_mode": self.tls_mode,
        }  # exactly FIELDS

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> ServerConnection:
        return cls(
            host=str(values.get("host") or ""),
            database=str(values.get("database") or ""),
            user=str(values.get("user") or ""),
            port=int(values.get("port") or 5432),
            tls_mode=str(values.get("tls_mode") or "prefer"),
        )

    @property
    def account(self) -> str:
        """The keyring's name for this login: one password per user, server and database."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


def without_password(url: str) -> str:
    """The URL with its password left out (not masked: a masked `***` would be sent as the password)."""
    # URL.set(password=None) means "leave it as it is"; the named tuple's _replace clears it.
    return make_url(url)._replace(password=None).render_as_string(hide_password=False)


def has_password(url: str) -> bool:
    return make_url(url).password is not None


def with_password(url: str, password: str) -> str:
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def account_for(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.username}@{parsed.host}:{parsed.port or 5432}/{parsed.database}"


def _keyring() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None  # installed, but this system has no keyring to keep secrets in
    except Exception:
        return None
    return keyring


def keyring_available() -> bool:
    return _keyring() is not None


def stored_password(account: str) -> str | None:
    keyring = _keyring()
    if keyring is None:
        return None
    try:
        found: str | None = keyring.get_password(KEYRING_SERVICE, account)
        return found
    except Exception as error:  # a locked or broken keyring: the user is asked instead
        log.warning("could not read the keyring: %s", error)
        return None


def store_password(account: str, password: str) -> bool:
    """Keep the password in the OS keyring. False when there is none (or it refused): then it is not kept."""
    keyring = _keyring()
    if keyring is None:
        return False
    try:
        keyring.set_password(KEYRING_SERVICE, account, password)
    except Exception as error:
        log.warning("could not write to the keyring: %s", error)
        return False
    return True


def forget_password(account: str) -> None:
    keyring = _keyring()
    if keyring is None:
        return
    with contextlib.suppress(Exception):  # nothing stored, or no keyring: nothing to forget
        keyring.delete_password(KEYRING_SERVICE, account)


def is_authentication_failure(error: BaseException) -> bool:
    """The server wants a password, or refused the one given (libpq's messages, SQLSTATE 28P01/28000)."""
    orig = getattr(error, "orig", error)
    if getattr(orig, "sqlstate", None) in {"28P01", "28000"}:
        return True
    text = str(orig).lower()
    return "password authentication failed" in text or "no password supplied" in text
