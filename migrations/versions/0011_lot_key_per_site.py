"""The same lot at several sites (issue 23): a lot is unique by site, product and lot number, not by product and
lot number across the whole group. Two clinics of a group that buy the same manufacturer's lot each register it,
and a recall at group level finds both (services/group_recall.py).

PostgreSQL swaps the unique constraint. SQLite cannot drop a table constraint: the lot table is rebuilt with the
new one (SQLite's twelve-step ALTER: create, copy, drop, rename, recreate the indexes), with foreign keys off
for the migration, which the runner does (db/migrate.py: SQLite applies PRAGMA foreign_keys only outside a
transaction) and which ends with a foreign-key check. The rows, their ids and so their audit hashes are
unchanged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

GROUP_KEY = ("uq_lot_product_id_lot_number", "UNIQUE (product_id, lot_number)", ["product_id", "lot_number"])
# Product and lot number first, as before: every lookup and the lots list's product order keep their index.
SITE_KEY = (
    "uq_lot_product_id_lot_number_site_id",
    "UNIQUE (product_id, lot_number, site_id)",
    ["product_id", "lot_number", "site_id"],
)


def _swap(old: tuple[str, str, list[str]], new: tuple[str, str, list[str]]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(old[0], "lot", type_="unique")
        op.create_unique_constraint(new[0], "lot", new[2])
        return
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding the lot table needs foreign keys off: run it with `registry-app db upgrade`")
    table_sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'lot'").scalar()
    old_clause, new_clause = f"CONSTRAINT {old[0]} {old[1]}", f"CONSTRAINT {new[0]} {new[1]}"
    # A table renamed by SQLite (as this revision does) has its name quoted in the stored statement.
    opening = next((o for o in ('CREATE TABLE lot (', 'CREATE TABLE "lot" (') if (table_sql or "").startswith(o)), None)
    if not table_sql or old_clause not in table_sql or opening is None:
        raise RuntimeError(f"the lot table is not as expected ({old[0]} missing): nothing was changed")
    rebuilt = table_sql.replace(old_clause, new_clause).replace(opening, "CREATE TABLE lot_rebuilt (", 1)
    # Indexes and triggers on the table go with it: their SQL is kept and run again on the new one.
    kept = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'lot' AND type IN ('index', 'trigger') AND sql IS NOT NULL"
    ).scalars().all()
    bind.exec_driver_sql(rebuilt)
    bind.exec_driver_sql("INSERT INTO lot_rebuilt SELECT * FROM lot")
    bind.exec_driver_sql("DROP TABLE lot")
    bind.exec_driver_sql("ALTER TABLE lot_rebuilt RENAME TO lot")
    for statement in kept:
        bind.exec_driver_sql(statement)
    problems = bind.execute(text("PRAGMA foreign_key_check")).all()
    if problems:
        raise RuntimeError(f"the rebuilt lot table breaks {len(problems)} foreign keys, e.g. {problems[0]}")


def upgrade() -> None:
    _swap(GROUP_KEY, SITE_KEY)


def downgrade() -> None:
    # Fails (and changes nothing) where two sites hold the same lot: the group key cannot hold them both.
    _swap(SITE_KEY, GROUP_KEY)
