"""The persisted flags (issue 22): one row per flag raised on a subject, with when it was raised and closed.

The migration creates the table empty, and stays self-contained (it runs none of the application's rules,
which a later schema may not fit). The registry fills it itself: the first change committed on a registry whose
table was not built for its site's jurisdiction (the `flag_table` setting) rebuilds it in that change's
transaction, as does `registry-app flags --rebuild`; until then the readers evaluate the rules as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN = sa.text('closed_at IS NULL')


def upgrade() -> None:
    op.create_table(
        'flag_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('severity', sa.String(length=10), nullable=False),
        sa.Column('severity_order', sa.Integer(), nullable=False),
        sa.Column('subject_type', sa.String(length=20), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('lot_id', sa.Integer(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('waiver_id', sa.Integer(), nullable=True),
        sa.Column('raised_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closed_by', sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(['waiver_id'], ['waiver.id'], name=op.f('fk_flag_record_waiver_id_waiver')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_record')),
    )
    op.create_index('ix_flag_record_open_subject', 'flag_record', ['subject_type', 'subject_id', 'code'],
                    unique=True, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index('ix_flag_record_open_order', 'flag_record', ['severity_order', 'code', 'subject_id', 'id'],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index('ix_flag_record_open_counts', 'flag_record', ['code', 'waiver_id', 'due_on'],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index('ix_flag_record_open_lot', 'flag_record', ['lot_id'], sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index('ix_flag_record_history_lot', 'flag_record', ['lot_id', 'raised_at'])


def downgrade() -> None:
    op.drop_index('ix_flag_record_history_lot', table_name='flag_record')
    op.drop_index('ix_flag_record_open_lot', table_name='flag_record')
    op.drop_index('ix_flag_record_open_counts', table_name='flag_record')
    op.drop_index('ix_flag_record_open_order', table_name='flag_record')
    op.drop_index('ix_flag_record_open_subject', table_name='flag_record')
    op.drop_table('flag_record')
    op.execute("DELETE FROM setting WHERE key = 'flag_table'")
