"""The same lot at several sites (issue 23): a lot is unique by product, lot number and site, not by product and
lot number across the whole group. Two clinics of a group that buy the same manufacturer's lot each register it,
and a recall at group level finds both (services/group_recall.py).

The key is a unique index over (product_id, lot_number, coalesce(site_id, 0)): lots of no site (registries from
before sites) still clash with each other, which a plain UNIQUE would not do (NULLs are distinct in SQL). Product
and lot number come first, as before, so every lookup keeps its index.

PostgreSQL drops the old constraint. SQLite cannot drop a table constraint: the lot table is rebuilt without it
(SQLite's twelve-step ALTER: create, copy, drop, rename, recreate the indexes), with foreign keys off for the
migration, which the runner does (db/migrate.py: SQLite applies PRAGMA foreign_keys only outside a transaction)
and which ends with a foreign-key check. The rows, their ids and so their audit hashes are unchanged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

GROUP_KEY = "uq_lot_product_id_lot_number"
GROUP_CLAUSE = f", \n\tCONSTRAINT {GROUP_KEY} UNIQUE (product_id, lot_number)"
SITE_KEY = "ux_lot_product_lot_number_site"


def _rebuild_sqlite(change) -> None:  # type: ignore[no-untyped-def]
    """Rebuild the lot table with its CREATE statement passed through `change`; indexes and triggers kept."""
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding the lot table needs foreign keys off: run it with `registry-app db upgrade`")
    table_sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'lot'").scalar()
    # A table renamed by SQLite (as this revision does) has its name quoted in the stored statement.
    opening = next((o for o in ('CREATE TABLE lot (', 'CREATE TABLE "lot" (') if (table_sql or "").startswith(o)), None)
    if not table_sql or opening is None:
        raise RuntimeError("the lot table is not as expected: nothing was changed")
    rebuilt = change(table_sql).replace(opening, "CREATE TABLE lot_rebuilt (", 1)
    kept = (
        bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'lot' AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        )
        .scalars()
        .all()
    )
    bind.exec_driver_sql(rebuilt)
    bind.exec_driver_sql("INSERT INTO lot_rebuilt SELECT * FROM lot")
    bind.exec_driver_sql("DROP TABLE lot")
    bind.exec_driver_sql("ALTER TABLE lot_rebuilt RENAME TO lot")
    for statement in kept:
        bind.exec_driver_sql(statement)


def _without_group_key(table_sql: str) -> str:
    if GROUP_CLAUSE not in table_sql:
        raise RuntimeError(f"the lot table has no {GROUP_KEY} as expected: nothing was changed")
    return table_sql.replace(GROUP_CLAUSE, "")


def _with_group_key(table_sql: str) -> str:
    end = table_sql.rindex("\n)")
    return table_sql[:end] + GROUP_CLAUSE + table_sql[end:]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_without_group_key)
    else:
        op.drop_constraint(GROUP_KEY, "lot", type_="unique")
    op.create_index(
        SITE_KEY, "lot", ["product_id", "lot_number", sa.text("coalesce(site_id, 0)")], unique=True
    )


def downgrade() -> None:
    # Fails (and changes nothing) where two sites hold the same lot: the group key cannot hold them both.
    op.drop_index(SITE_KEY, "lot")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_with_group_key)
    else:
        op.create_unique_constraint(GROUP_KEY, "lot", ["product_id", "lot_number"])
