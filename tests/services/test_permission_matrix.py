"""Every changing service against every role: allowed roles succeed with exactly one audit entry carrying
before/after values; every other role is refused and nothing in the registry changes."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest
from sqlalchemy import select

# Importing every service module registers every changing service.
from registry_app import services as _services
from registry_app.db import Database
from registry_app.domain import AuditEntry
from registry_app.services import CHANGING_SERVICES, PermissionDenied, ServiceContext

from ..conftest import PASSWORDS, ROLES
from ..helpers import row_counts
from .matrix import MatrixSetup, all_calls

for _module in pkgutil.iter_modules(_services.__path__):
    importlib.import_module(f"registry_app.services.{_module.name}")

CALLS = all_calls()
ROLE_KEYS = list(ROLES)


def test_every_changing_service_has_a_matrix_call() -> None:
    missing = sorted(set(CHANGING_SERVICES) - set(CALLS))
    assert not missing, f"add a permission-matrix call in tests/services/matrix/ for: {missing}"
    assert len(CHANGING_SERVICES) >= 6


def _setup(db: Database, users: dict) -> MatrixSetup:  # type: ignore[type-arg]
    contexts = {key: ServiceContext(db, users[key]) for key in ROLE_KEYS}
    passwords = {ROLES[key]: PASSWORDS[key] for key in ROLE_KEYS}
    return MatrixSetup(
        db, contexts["admin"], contexts["pharmacist"], contexts["director"], contexts["inspector"], passwords
    )


def _last_seq(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).scalar() or 0


# The reports and the bundle write a PDF with Qt: those cases are left out of the Qt-free core run.
@pytest.mark.parametrize(
    "service_name",
    [
        pytest.param(name, marks=[pytest.mark.qt] if name.startswith("reports.") else [])
        for name in sorted(CHANGING_SERVICES)
    ],
)
@pytest.mark.parametrize("role_key", ROLE_KEYS)
def test_role_against_service(service_name: str, role_key: str, db: Database, template_users: dict) -> None:  # type: ignore[type-arg]
    _service, allowed = CHANGING_SERVICES[service_name]
    if service_name not in CALLS:
        pytest.fail(f"no matrix call for {service_name}")
    setup = _setup(db, template_users)
    call = CALLS[service_name](setup)
    ctx = ServiceContext(db, template_users[role_key])
    before_counts, before_seq = row_counts(db), _last_seq(db)
    if ROLES[role_key] in allowed:
        call(ctx)
        with db.read() as session:
            entries = session.execute(select(AuditEntry).where(AuditEntry.seq > before_seq)).scalars().all()
        assert len(entries) == 1, [e.action for e in entries]
        entry = entries[0]
        assert entry.username == role_key
        assert entry.after is not None and json.loads(entry.after), "the entry records the values after"
        assert entry.before is not None, "the entry records the values before (an empty object for a creation)"
    else:
        with pytest.raises(PermissionDenied):
            call(ctx)
        assert row_counts(db) == before_counts
        assert _last_seq(db) == before_seq
