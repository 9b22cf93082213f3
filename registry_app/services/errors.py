"""Errors a service raises. Each carries a message a user can act on; none is a crash."""

from __future__ import annotations

from dataclasses import dataclass


class RegistryError(Exception):
    """Base of every expected failure: the message says what and where."""

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(RegistryError):
    """The input is wrong. `errors` lists each problem with the field it belongs to, for display beside it."""

    def __init__(self, errors: list[FieldError] | str, field: str = "") -> None:
        self.errors = [FieldError(field, errors)] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(str(e) if e.field else e.message for e in self.errors))

    def for_field(self, field: str) -> list[str]:
        return [e.message for e in self.errors if e.field == field]


class NotFound(RegistryError):
    pass


class PermissionDenied(RegistryError):
    pass


class SignInFailed(RegistryError):
    pass


class ConflictError(RegistryError):
    """The record changed or exists already (duplicate lot, lot not in a state that allows the action)."""
