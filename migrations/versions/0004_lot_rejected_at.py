"""Lots record when they were rejected. A lot can be rejected after its release; the administrations from that
day on were made while it was rejected (USE-NOT-RELEASED), the earlier ones were not. Lots rejected before
this revision get the time of their latest "reject lot" audit entry.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('lot', sa.Column('rejected_at', sa.DateTime(), nullable=True))
    audit = sa.table('audit_entry', sa.column('action', sa.String), sa.column('entity_type', sa.String),
                     sa.column('entity_id', sa.String), sa.column('occurred_at', sa.DateTime))
    lot = sa.table('lot', sa.column('id', sa.Integer), sa.column('rejected_at', sa.DateTime))
    connection = op.get_bind()
    # Rejections are few: read them (entity ids are text in the audit trail) and write each lot's latest.
    latest = connection.execute(
        sa.select(audit.c.entity_id, sa.func.max(audit.c.occurred_at))
        .where(audit.c.action == 'reject lot', audit.c.entity_type == 'lot')
        .group_by(audit.c.entity_id)).all()
    rows = [{'lot_id': int(entity_id), 'at': at} for entity_id, at in latest if entity_id and entity_id.isdigit()]
    if rows:
        connection.execute(sa.update(lot).where(lot.c.id == sa.bindparam('lot_id'))
                           .values(rejected_at=sa.bindparam('at')), rows)


def downgrade() -> None:
    op.drop_column('lot', 'rejected_at')
