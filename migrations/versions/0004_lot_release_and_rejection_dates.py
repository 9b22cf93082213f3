"""Lots keep the site's local dates of their release and rejection.

The rules compare them with the dates of administrations, which are local: the date of released_at (a UTC
instant) differs from the local one near midnight. And a lot can be rejected after its release; the
administrations from that day on were made while it was rejected (USE-NOT-RELEASED), the earlier ones were
not. Existing lots get the local date of their released_at, and of their latest "reject lot" audit entry.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CHUNK = 10_000


def _local_date(instant: datetime) -> date:
    """The date, on this machine's clock (the site's), of a naive UTC datetime."""
    return instant.replace(tzinfo=UTC).astimezone().date()


def upgrade() -> None:
    op.add_column('lot', sa.Column('released_on', sa.Date(), nullable=True))
    op.add_column('lot', sa.Column('rejected_on', sa.Date(), nullable=True))
    connection = op.get_bind()
    lot = sa.table('lot', sa.column('id', sa.Integer), sa.column('released_at', sa.DateTime),
                   sa.column('released_on', sa.Date), sa.column('rejected_on', sa.Date))
    by_id = lot.c.id == sa.bindparam('lot_id')
    if connection.dialect.name == 'sqlite':
        # SQLite's 'localtime' converts with this process's time zone, as _local_date does, in one statement.
        connection.execute(sa.text("UPDATE lot SET released_on = date(released_at, 'localtime') "
                                   "WHERE released_at IS NOT NULL"))
    else:
        last = 0
        while True:
            rows = connection.execute(sa.select(lot.c.id, lot.c.released_at)
                                      .where(lot.c.released_at.is_not(None), lot.c.id > last)
                                      .order_by(lot.c.id).limit(CHUNK)).all()
            if not rows:
                break
            connection.execute(sa.update(lot).where(by_id).values(released_on=sa.bindparam('on')),
                               [{'lot_id': lot_id, 'on': _local_date(at)} for lot_id, at in rows])
            last = rows[-1][0]
    audit = sa.table('audit_entry', sa.column('action', sa.String), sa.column('entity_type', sa.String),
                     sa.column('entity_id', sa.String), sa.column('occurred_at', sa.DateTime))
    # Rejections are few: read them (entity ids are text in the audit trail) and write each lot's latest.
    latest = connection.execute(
        sa.select(audit.c.entity_id, sa.func.max(audit.c.occurred_at))
        .where(audit.c.action == 'reject lot', audit.c.entity_type == 'lot')
        .group_by(audit.c.entity_id)).all()
    rejected = [{'lot_id': int(entity_id), 'on': _local_date(at)}
                for entity_id, at in latest if entity_id and entity_id.isdigit()]
    if rejected:
        connection.execute(sa.update(lot).where(by_id).values(rejected_on=sa.bindparam('on')), rejected)


def downgrade() -> None:
    op.drop_column('lot', 'rejected_on')
    op.drop_column('lot', 'released_on')
