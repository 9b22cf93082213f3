"""Use cases. Each changing service runs as the signed-in user, checks the role first, runs as one
transaction and writes its audit entry inside that transaction. No Qt here."""

from registry_app.services.context import CHANGING_SERVICES, Actor, ServiceContext
from registry_app.services.errors import (
    ConflictError,
    FieldError,
    NotFound,
    PermissionDenied,
    RegistryError,
    SaveOutcomeUnknown,
    ServerUnreachable,
    SignInFailed,
    StorageError,
    ValidationError,
)

__all__ = [
    "CHANGING_SERVICES",
    "Actor",
    "ConflictError",
    "FieldError",
    "NotFound",
    "PermissionDenied",
    "RegistryError",
    "SaveOutcomeUnknown",
    "ServerUnreachable",
    "ServiceContext",
    "SignInFailed",
    "StorageError",
    "ValidationError",
]
