"""Characterization results record the laboratory that measured them and the date of the test; temperature
excursions record when they ended and the lowest and highest reading.

A certificate of analysis names the laboratory and the test date, and the characterization grid asks for them:
the date a result was typed in (recorded_at) is not the date the sample was tested. A data logger shows an
excursion as a span with its extremes; the reading kept (reading_c) is the one that decides the disposition.
Existing rows keep the new columns empty (not recorded).

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
    op.add_column('temperature_excursion', sa.Column('ended_at', sa.DateTime(), nullable=True))
    op.add_column('temperature_excursion', sa.Column('min_c', sa.Float(), nullable=True))
    op.add_column('temperature_excursion', sa.Column('max_c', sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column('temperature_excursion', 'max_c')
    op.drop_column('temperature_excursion', 'min_c')
    op.drop_column('temperature_excursion', 'ended_at')
    op.drop_column('characterization_result', 'tested_on')
    op.drop_column('characterization_result', 'laboratory')
