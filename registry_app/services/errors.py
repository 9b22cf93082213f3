"""Errors a service raises. Each carries a message a user can act on; none is a crash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry_app.rules.catalogue import Flag


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
    """The record changed or exists already (duplicate lot, lot not in a state that allows the action).
    `field`, when given, names the input the conflict belongs to (a duplicate name), for display beside it."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class GuardRailBlocked(RegistryError):
    """A blocking finding stops the save; nothing was written. A medical director may override it with a
    reason and a signature. `findings` lists every finding (highest first) with its message, for display;
    `blocking` the ones that block: every critical finding, and a use of a lot that is not released
    (quarantined or rejected), which the rule rates high but the clinic may not merely confirm."""

    def __init__(self, findings: Sequence[Flag], blocking: Sequence[Flag] | None = None) -> None:
        self.findings = list(findings)
        self.blocking = (
            list(blocking) if blocking is not None else [f for f in self.findings if f.severity == "critical"]
        )
        lines = "; ".join(f"{f.code}: {f.message}" for f in self.blocking)
        count = len(self.blocking)
        super().__init__(
            f"blocked by {count} finding{'' if count == 1 else 's'}: {lines}; "
            "a medical director may override with a reason and a signature"
        )


class ConfirmationRequired(RegistryError):
    """A high finding needs an explicit confirmation before the save; nothing was written. `findings` lists
    every finding (highest first) with its message, for display."""

    def __init__(self, findings: Sequence[Flag]) -> None:
        self.findings = list(findings)
        high = [f for f in self.findings if f.severity == "high"]
        lines = "; ".join(f"{f.code}: {f.message}" for f in high)
        super().__init__(f"confirm {len(high)} high finding(s) before saving: {lines}")


class AcknowledgementRequired(RegistryError):
    """A release was refused because open critical or high findings were not acknowledged in the signature;
    nothing was written. `findings` lists them (highest first), for the director to read and acknowledge."""

    def __init__(self, findings: Sequence[Flag]) -> None:
        self.findings = list(findings)
        count = len(self.findings)
        codes = ", ".join(sorted({f.code for f in self.findings}))
        super().__init__(
            f"acknowledge the {count} open critical or high finding{'' if count == 1 else 's'} "
            f"({codes}) before releasing: they stay open after the release"
        )


class StorageError(RegistryError):
    """The database could not be written (read-only file, full disk, failing storage). The transaction was
    rolled back: what was saved before is intact, this action saved nothing."""


def required_reason(reason: str | None, field: str = "reason") -> str:
    """The reason given, stripped; a reason is what an inspector reads in the trail, so blank is refused."""
    if not reason or not reason.strip():
        raise ValidationError([FieldError(field, "give the reason")])
    return reason.strip()


class ServerUnreachable(RegistryError):
    """The database server could not be reached (network down, server restarting) for longer than the
    retries wait. Every attempt was rolled back: nothing of this action was saved."""


class SaveOutcomeUnknown(ServerUnreachable):
    """The connection dropped while the server was committing and it could not be asked afterwards: the
    action may or may not be saved. The message says to look before entering it again."""
