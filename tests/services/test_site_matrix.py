"""Every changing service, called by a user of another site on this site's records (issue 23): a user whose role
is at site B is refused on the records of the main site (as "not found" or "not allowed"), and nothing in the
registry changes. The records are the permission matrix's own (tests/services/matrix), made at the main site by
users of the whole group; the caller holds the first role the service allows, at site B only.

A few services act on what the group shares (the catalogue of products, manufacturers and suppliers) or create
records at the caller's own site; they are listed in GROUP_WIDE with the reason, and must succeed."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from sqlalchemy import select

from registry_app import services as _services
from registry_app.db import Database
from registry_app.domain import AuditEntry, Lot
from registry_app.services import CHANGING_SERVICES, RegistryError, ServiceContext, auth, sites

from ..conftest import PASSWORDS, ROLES
from ..helpers import row_counts
from .matrix import MatrixSetup, all_calls

for _module in pkgutil.walk_packages(_services.__path__, f"{_services.__name__}."):
    importlib.import_module(_module.name)

CALLS = all_calls()
ROLE_KEY = {role: key for key, role in ROLES.items()}
# Tried in this order: a site's pharmacist first, as the most common caller.
PREFERRED = ("pharmacist", "medical_director", "admin", "inspector")

GROUP_WIDE = {
    # The group's shared catalogue: one product record serves every clinic that buys it.
    "parties.create_manufacturer": "the catalogue is the group's",
    "parties.create_supplier": "the catalogue is the group's",
    "parties.update_manufacturer": "the catalogue is the group's",
    "parties.update_supplier": "the catalogue is the group's",
    "products.create_product": "the catalogue is the group's",
    "products.save_product": "the catalogue is the group's",
    "products.set_labelled_routes": "the catalogue is the group's",
    "products.set_regulatory_status": "the catalogue is the group's",
    "products.set_specification": "the catalogue is the group's",
    "products.update_product": "the catalogue is the group's",
    # New records at the caller's own site.
    "receiving.receive_lot": "the new lot is site B's",
    "receiving.receive_from_scan": "the new lot is site B's",
    "imports.import_lots": "the imported lots are site B's",
    # Outputs of the caller's own site (the site scope filters what they hold: test_site_scope.py).
    "reports.export": "site B's records only",
    "reports.compliance_report": "site B's records only",
    "reports.bundle": "site B's records only",
    "signoff.sign_off_report": "site B's report",
    "backup.backup_registry": "a copy of the file, audited",
    "flag_table.rebuild_flags": "brings the stored flags to the rules, which changes no record",
    "sites.set_site": "the caller's own site (the call names no other)",
}


def _caller_role(allowed: frozenset[str]) -> str:
    return next(role for role in PREFERRED if role in allowed)


@pytest.mark.parametrize(
    "service_name",
    [
        pytest.param(name, marks=[pytest.mark.qt] if name.startswith(("reports.", "signoff.")) else [])
        for name in sorted(CHANGING_SERVICES)
    ],
)
def test_a_user_of_another_site_changes_nothing_here(service_name: str, db: Database, template_users: dict) -> None:  # type: ignore[type-arg]
    _service, allowed = CHANGING_SERVICES[service_name]
    contexts = {key: ServiceContext(db, template_users[key]) for key in ROLES}
    passwords = {ROLES[key]: PASSWORDS[key] for key in ROLES}
    setup = MatrixSetup(
        db, contexts["admin"], contexts["pharmacist"], contexts["director"], contexts["inspector"], passwords
    )
    call = CALLS[service_name](setup)
    sites.add_site(setup.admin, "B", "Busan clinic", "US")
    role = _caller_role(frozenset(allowed))
    auth.create_user(setup.admin, f"b-{ROLE_KEY[role]}", role, PASSWORDS[ROLE_KEY[role]], site_code="B")
    caller = ServiceContext(db)
    caller.site_code = "B"
    auth.sign_in(caller, f"b-{ROLE_KEY[role]}", PASSWORDS[ROLE_KEY[role]])
    assert caller.actor is not None and caller.actor.site_id is not None
    with db.read() as session:
        main_lots = session.execute(select(Lot).order_by(Lot.id)).scalars().all()
        lots_before = [(lot.id, lot.site_id, lot.status, lot.quantity_administered) for lot in main_lots]
        last_seq = session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).scalar() or 0
    counts = row_counts(db)
    if service_name in GROUP_WIDE:
        call(caller)
        with db.read() as session:
            for lot_id, site_id, status, used in lots_before:
                lot = session.get(Lot, lot_id)
                assert lot is not None and (lot.site_id, lot.status, lot.quantity_administered) == (
                    site_id,
                    status,
                    used,
                ), f"{service_name} changed lot {lot_id} of another site"
        return
    try:
        outcome = call(caller)
    except RegistryError:
        pass
    else:  # the imports answer with a report of every refused row rather than an error
        assert getattr(outcome, "ok", True) is False, f"{service_name} did what a user of another site asked"
    assert row_counts(db) == counts, f"{service_name} wrote for a user of another site"
    with db.read() as session:
        assert (session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).scalar() or 0) == (
            last_seq
        )
