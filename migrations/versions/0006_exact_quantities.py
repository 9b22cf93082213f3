"""Exact quantities, recall moments, date-only administrations and waivers bound to facts (issue 18).

- Quantities, volumes, numeric results and specification limits become NUMERIC on PostgreSQL (exact; the
  stored doubles convert to the decimals they print as). On SQLite the columns keep their REAL affinity (a
  NUMERIC column there stores the same doubles, and 20.0 as the integer 20): the application reads them as
  Decimals (domain/exact.py). Sums kept in the database (a lot's quantity administered and destroyed, stock
  arithmetic done in SQL) are rounded to 9 decimal places, so 0.30000000000000004 becomes the 0.3 it stands
  for, on both databases.
- lot.recall_at: the moment a recall starts (NULL: the recall was given as a date alone, from the start of
  recall_date, which is what every existing recall was).
- administration.time_recorded: FALSE when only the date was recorded. Existing rows imported with a date
  alone cannot be told from ones recorded at midnight, except that an import stored midnight exactly: rows of
  an import batch at 00:00:00 are marked date-only.
- waiver.flag_facts: the facts the rule compared when the flag was waived (NULL for existing waivers, which
  keep matching by their message until revoked).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SCALE = 9
EXACT_COLUMNS = {
    'lot': ('quantity_received', 'quantity_administered', 'quantity_destroyed', 'labelled_particles_per_ml'),
    'administration': ('quantity', 'volume_ml'),
    'characterization_result': ('value',),
    'lot_result_facts': ('endotoxin_max', 'size_min', 'size_max', 'particles_min', 'particles_max'),
    'product': ('spec_endotoxin_max', 'spec_size_min_nm', 'spec_size_max_nm', 'spec_concentration_tolerance_pct'),
}
# Sums the registry keeps: the only stored values that came from arithmetic rather than from a person.
SUMS = {'lot': ('quantity_administered', 'quantity_destroyed')}


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    op.add_column('lot', sa.Column('recall_at', sa.DateTime(), nullable=True))
    op.add_column('administration', sa.Column('time_recorded', sa.Boolean(), nullable=False, server_default='1'))
    op.add_column('waiver', sa.Column('flag_facts', sa.Text(), nullable=True))
    connection = op.get_bind()
    if _is_postgresql():
        # The expression index on stock reads the quantity columns: dropped while their type changes.
        op.drop_index('ix_lot_on_hand', table_name='lot')
        for table, columns in EXACT_COLUMNS.items():
            for column in columns:
                # float8 -> numeric prints the double with 15 significant digits: 0.1 stays 0.1.
                op.alter_column(table, column, type_=sa.Numeric(), existing_type=sa.Float(),
                                postgresql_using=f'{column}::numeric')
        op.create_index('ix_lot_on_hand', 'lot',
                        [sa.text('(quantity_received - quantity_administered - quantity_destroyed)')])
    for table, columns in SUMS.items():
        for column in columns:
            connection.execute(sa.text(f'UPDATE {table} SET {column} = round({column}, {SCALE}) '
                                       f'WHERE {column} <> round({column}, {SCALE})'))
    # Imported rows at midnight exactly: the import wrote a date alone as 00:00 (formats/lot-import.md).
    midnight = ("administered_at = date_trunc('day', administered_at)" if _is_postgresql()
                else "administered_at = date(administered_at) || ' 00:00:00.000000'")
    connection.execute(sa.text(f'UPDATE administration SET time_recorded = false WHERE import_batch IS NOT NULL '
                               f'AND {midnight}'))


def downgrade() -> None:
    if _is_postgresql():
        op.drop_index('ix_lot_on_hand', table_name='lot')
        for table, columns in EXACT_COLUMNS.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.Float(), existing_type=sa.Numeric(),
                                postgresql_using=f'{column}::double precision')
        op.create_index('ix_lot_on_hand', 'lot',
                        [sa.text('(quantity_received - quantity_administered - quantity_destroyed)')])
    # Plain DROP COLUMN (SQLite 3.35+), as 0004 does: a batch copy of lot would lose the expression index on
    # stock, which SQLite's reflection cannot read.
    op.drop_column('waiver', 'flag_facts')
    op.drop_column('administration', 'time_recorded')
    op.drop_column('lot', 'recall_at')
