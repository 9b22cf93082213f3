"""Who is acting, on which registry: the context every service receives, and the decorator that makes a
function a changing service (role check first, whole-transaction retry when the database is busy)."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from registry_app.db import Database
from registry_app.db.network import (
    RECONNECT_DELAYS,
    CommitOutcomeUnknown,
    is_connection_lost,
    whole_transaction_retried,
)
from registry_app.domain import Setting, Site
from registry_app.domain.vocab import Role
from registry_app.rules import table as flag_table
from registry_app.services import audit
from registry_app.services.audit import AuditRecord  # by name: in the class body `audit` is the method below
from registry_app.services.errors import PermissionDenied, SaveOutcomeUnknown, ServerUnreachable, StorageError

P = ParamSpec("P")
R = TypeVar("R")

CURRENT_SITE_KEY = "current_site"


@dataclass(frozen=True)
class Actor:
    """The signed-in user a service acts as."""

    user_id: int | None
    username: str
    role: str
    full_name: str | None = None
    # The one site whose records this user may see and change (their role is that site's); None: every site
    # (a group role, or a user placed by no site at all: the system, tests).
    site_id: int | None = None

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


@dataclass
class ServiceContext:
    """The registry and the signed-in user. Widgets and the CLI hold one; services take it first."""

    db: Database
    actor: Actor | None = None
    site_code: str | None = None
    # Called with the service's name after each changing service committed (the desktop refreshes its views
    # from this one notification). Called on the thread that ran the service.
    change_listeners: list[Callable[[str], None]] = field(default_factory=list, compare=False, repr=False)

    def notify_changed(self, service_name: str) -> None:
        for listener in list(self.change_listeners):
            try:
                listener(service_name)
            except Exception:  # a view that failed to refresh must not turn a saved change into an error
                logging.getLogger(__name__).exception("a change listener failed after %s", service_name)

    def require(self, roles: tuple[str, ...], action: str) -> Actor:
        if self.actor is None:
            raise PermissionDenied(f"sign in to {action}")
        if self.actor.role not in roles:
            allowed = ", ".join(r.replace("_", " ") for r in roles)
            raise PermissionDenied(
                f"{self.actor.username} ({self.actor.role.replace('_', ' ')}) may not {action}; "
                f"this needs the role {allowed}"
            )
        return self.actor

    def audit(self, session: Session, record: AuditRecord) -> int:
        actor = self.actor
        return audit.append(session, actor.user_id if actor else None, actor.username if actor else "system", record)

    def audit_many(self, session: Session, records: list[AuditRecord]) -> int:
        actor = self.actor
        return audit.append_many(
            session, actor.user_id if actor else None, actor.username if actor else "system", records
        )


def current_site(session: Session, site_code: str | None = None) -> Site:
    """The site the registry works for: the one named, else the one set as current, else the first."""
    if site_code:
        site = session.execute(select(Site).where(Site.code == site_code)).scalar_one_or_none()
        if site is None:
            from registry_app.services.errors import NotFound

            raise NotFound(f"no site with code {site_code!r}")
        return site
    code = session.get(Setting, CURRENT_SITE_KEY)
    if code is not None:
        site = session.execute(select(Site).where(Site.code == code.value)).scalar_one_or_none()
        if site is not None:
            return site
    return session.execute(select(Site).order_by(Site.id).limit(1)).scalar_one()


def jurisdiction(session: Session, ctx: ServiceContext) -> str:
    return current_site(session, ctx.site_code).jurisdiction


# Every changing service, by name, with the roles that may call it: the permission matrix tests walk this.
CHANGING_SERVICES: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {}

STAFF: tuple[str, ...] = (Role.PHARMACIST, Role.MEDICAL_DIRECTOR)
DIRECTOR: tuple[str, ...] = (Role.MEDICAL_DIRECTOR,)
ADMIN: tuple[str, ...] = (Role.ADMIN,)
READERS: tuple[str, ...] = (Role.PHARMACIST, Role.MEDICAL_DIRECTOR, Role.INSPECTOR, Role.ADMIN)

MAX_ATTEMPTS = 8


def _is_transient(error: DBAPIError) -> bool:
    text = str(error.orig).lower() if error.orig is not None else str(error).lower()
    code = getattr(error.orig, "sqlstate", None)
    return "database is locked" in text or "database table is locked" in text or code in {"40001", "40P01"}


def storage_failure(error: DBAPIError) -> StorageError | None:
    """A clear message for a database that cannot be written, or None if the error is something else."""
    orig = error.orig
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    state = getattr(orig, "sqlstate", None)
    text = str(orig if orig is not None else error).lower()
    done = "nothing of this action was saved; what was saved before is intact"
    if name.startswith("SQLITE_READONLY") or state == "25006" or "readonly database" in text:
        return StorageError(
            f"the registry's database is read-only and cannot be written: {done}. "
            "Check the file's permissions, or whether the disk is mounted read-only."
        )
    if name == "SQLITE_FULL" or state in {"53100", "53200"} or "disk is full" in text:
        return StorageError(f"the disk holding the registry is full: {done}. Free some space and try again.")
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or "disk i/o error" in text:
        return StorageError(
            f"the registry's storage failed ({text.splitlines()[0] if text else name}): {done}. "
            "Check the disk, then verify the registry (registry-app audit verify)."
        )
    return None


def server_failure(error: BaseException) -> ServerUnreachable | None:
    """A clear message for a database server that cannot be reached, or None if the error is something else.
    Services raise it themselves; the desktop also turns a read's dropped connection into it (ui/ops.py)."""
    if isinstance(error, CommitOutcomeUnknown):
        return SaveOutcomeUnknown(
            "the connection to the database server was lost while saving and the server did not answer again: "
            "this action may or may not have been saved. When the server is back, look for it before entering "
            "it again."
        )
    if isinstance(error, ServerUnreachable):
        return error
    if isinstance(error, DBAPIError) and is_connection_lost(error):
        detail = str(error.orig if error.orig is not None else error).strip().splitlines()
        return ServerUnreachable(
            f"the database server could not be reached ({detail[0] if detail else 'connection lost'}). "
            "Nothing was saved; try again when the network or the server is back."
        )
    return None


def retry_transient(fn: Callable[[], R]) -> R:
    """Run a whole transaction again when the database was busy (lock, serialization failure, deadlock) or
    the connection to the server dropped (db/network.py: a retry never saves twice). A database that cannot
    be written, or a server out of reach for longer than RECONNECT_DELAYS, becomes an error a user can act on.
    """
    attempt = reconnects = 0
    while True:
        attempt += 1
        try:
            with whole_transaction_retried():
                return fn()
        except CommitOutcomeUnknown as error:
            raise server_failure(error) from error  # type: ignore[misc]
        except (OperationalError, DBAPIError) as error:
            failure = storage_failure(error)
            if failure is not None:
                raise failure from error
            if is_connection_lost(error):
                if reconnects == len(RECONNECT_DELAYS):
                    raise server_failure(error) from error  # type: ignore[misc]
                logging.getLogger(__name__).warning("connection to the database lost; retrying the transaction")
                time.sleep(RECONNECT_DELAYS[reconnects])
                reconnects += 1
                continue
            if attempt >= MAX_ATTEMPTS or not _is_transient(error):
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))


def changing(action: str, roles: tuple[str, ...]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a function a changing service: it checks the actor's role before anything else, and is retried
    whole if the database was busy. `action` completes "X may not ..." in the refusal."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def service(*args: P.args, **kwargs: P.kwargs) -> R:
            ctx = args[0] if args else kwargs["ctx"]
            assert isinstance(ctx, ServiceContext), f"{fn.__name__} takes the ServiceContext first"
            ctx.require(roles, action)
            with flag_table.acting(action):
                result = retry_transient(lambda: fn(*args, **kwargs))
            ctx.notify_changed(name)
            return result

        name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
        service.allowed_roles = roles  # type: ignore[attr-defined]  # a tag on the function object
        CHANGING_SERVICES[name] = (service, roles)
        return service

    return wrap
