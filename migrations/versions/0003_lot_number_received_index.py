"""The lot-number index carries the received date too, so a lot-number search in the default order (newest
received first) is answered from the index alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_lot_lot_number_received', 'lot', ['lot_number', 'received_date'], unique=False)
    op.drop_index('ix_lot_lot_number', table_name='lot')


def downgrade() -> None:
    op.create_index('ix_lot_lot_number', 'lot', ['lot_number'], unique=False)
    op.drop_index('ix_lot_lot_number_received', table_name='lot')
