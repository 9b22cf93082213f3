"""The README's least-privilege database user (Running on a PostgreSQL server): the app works with only
SELECT, INSERT and UPDATE on the tables and USAGE on the sequences, and that user cannot delete or alter."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from registry_app.db import open_database
from registry_app.services import Actor, ServiceContext
from registry_app.services.administrations import record_administration

from ..conftest import PG_URL
from ..services.use_data import entry, make_lot, make_product

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set REGISTRY_TEST_DATABASE_URL (.ci/run)")

# The grants of README.md, run by the owner after `registry-app db upgrade`.
GRANTS = """
GRANT CONNECT ON DATABASE "{database}" TO {app};
GRANT USAGE ON SCHEMA public TO {app};
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {app};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app};
"""


def test_the_app_works_with_the_least_privilege_user(database_url: str, template_users: dict[str, Actor]) -> None:
    app = f"registry_app_{uuid.uuid4().hex[:8]}"
    owner = create_engine(database_url, isolation_level="AUTOCOMMIT")
    database = make_url(database_url).database
    with owner.connect() as connection:
        connection.execute(text(f"CREATE ROLE {app} LOGIN"))
        for statement in GRANTS.format(database=database, app=app).strip().splitlines():
            connection.execute(text(statement))
    app_url = make_url(database_url).set(username=app).render_as_string(hide_password=False)
    try:
        db = open_database(app_url)  # at head already: opening needs no DDL
        ctx = ServiceContext(db, template_users["pharmacist"])
        lot_id = make_lot(db, make_product(db), quantity=10)
        result = record_administration(ctx, entry(lot_id))
        assert result.administration_id > 0
        with db.engine.connect() as connection:
            for forbidden in ("DELETE FROM administration", "TRUNCATE audit_entry", "DROP TABLE lot"):
                with pytest.raises(ProgrammingError, match=r"permission denied|must be owner"):
                    connection.execute(text(forbidden))
                connection.rollback()
        db.dispose()
    finally:
        with owner.connect() as connection:
            connection.execute(text(f"DROP OWNED BY {app}"))
            connection.execute(text(f"DROP ROLE {app}"))
        owner.dispose()
