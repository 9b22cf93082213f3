"""An index on each lot's stock on hand, for sorting the lots list by it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

ON_HAND = "(quantity_received - quantity_administered - quantity_destroyed)"


def upgrade() -> None:
    op.create_index('ix_lot_on_hand', 'lot', [sa.text(ON_HAND)], unique=False)


def downgrade() -> None:
    op.drop_index('ix_lot_on_hand', table_name='lot')
