"""Characterization results record the laboratory that measured them and the date of the test.

A certificate of analysis names both, and the characterization grid asks for them: the date a result was typed
in (recorded_at) is not the date the sample was tested. Existing results keep both empty (not recorded).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('characterization_result', sa.Column('laboratory', sa.String(length=200), nullable=True))
    op.add_column('characterization_result', sa.Column('tested_on', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('characterization_result', 'tested_on')
    op.drop_column('characterization_result', 'laboratory')
