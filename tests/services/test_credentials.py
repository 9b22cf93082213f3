"""Connection settings of a registry on a server: kept without the password; the password in the OS keyring
when there is one (a fake keyring here), never in the settings."""

from __future__ import annotations

import types

import pytest
from sqlalchemy.engine import make_url

from registry_app.services import credentials
from registry_app.services.credentials import ServerConnection

CLINIC = ServerConnection(host="db.clinics.example", database="registry", user="registry_app", tls_mode="verify-full")


class FakeKeyring:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, account: str) -> str | None:
        return self.secrets.get((service, account))

    def set_password(self, service: str, account: str, password: str) -> None:
        self.secrets[(service, account)] = password

    def delete_password(self, service: str, account: str) -> None:
        del self.secrets[(service, account)]


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch) -> FakeKeyring:
    keyring = FakeKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: keyring)
    return keyring


def test_the_url_carries_the_tls_mode_and_the_password_only_when_given() -> None:
    url = make_url(CLINIC.url("s3cret"))
    assert (url.drivername, url.host, url.port, url.database, url.username) == (
        "postgresql+psycopg",
        "db.clinics.example",
        5432,
        "registry",
        "registry_app",
    )
    assert url.password == "s3cret"
    assert url.query["sslmode"] == "verify-full"
    assert make_url(CLINIC.url()).password is None
    with pytest.raises(ValueError, match="TLS mode"):
        ServerConnection(host="h", database="d", user="u", tls_mode="allow").url()


def test_the_settings_never_hold_the_password() -> None:
    settings = CLINIC.settings()
    assert "s3cret" not in repr(settings)
    assert set(settings) == {"host", "port", "database", "user", "tls_mode"}
    assert ServerConnection.from_settings(settings) == CLINIC


def test_a_url_without_its_password_is_left_out_not_masked() -> None:
    url = "postgresql+psycopg://app:s3cret@db.example:5433/registry?sslmode=require"
    bare = credentials.without_password(url)
    assert "s3cret" not in bare and "***" not in bare
    assert not credentials.has_password(bare)
    assert make_url(credentials.with_password(bare, "s3cret")).password == "s3cret"
    assert credentials.account_for(url) == "app@db.example:5433/registry"


def test_the_password_goes_to_the_keyring_and_comes_back(fake_keyring: FakeKeyring) -> None:
    assert credentials.keyring_available()
    assert credentials.stored_password(CLINIC.account) is None
    assert credentials.store_password(CLINIC.account, "s3cret")
    assert fake_keyring.secrets == {("registry-app", "registry_app@db.clinics.example:5432/registry"): "s3cret"}
    assert credentials.stored_password(CLINIC.account) == "s3cret"
    credentials.forget_password(CLINIC.account)
    credentials.forget_password(CLINIC.account)  # twice: nothing to forget is no error
    assert credentials.stored_password(CLINIC.account) is None


def test_without_a_keyring_nothing_is_kept_and_nothing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "_keyring", lambda: None)
    assert not credentials.keyring_available()
    assert credentials.store_password(CLINIC.account, "s3cret") is False
    assert credentials.stored_password(CLINIC.account) is None


def test_a_broken_keyring_means_asking_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise RuntimeError("the keyring is locked")

    broken = types.SimpleNamespace(get_password=refuse, set_password=refuse, delete_password=refuse)
    monkeypatch.setattr(credentials, "_keyring", lambda: broken)
    assert credentials.stored_password(CLINIC.account) is None
    assert credentials.store_password(CLINIC.account, "s3cret") is False


def test_authentication_failures_are_told_apart() -> None:
    assert credentials.is_authentication_failure(Exception('password authentication failed for user "app"'))
    assert credentials.is_authentication_failure(Exception("fe_sendauth: no password supplied"))
    assert not credentials.is_authentication_failure(Exception("connection refused"))
