"""Rejecting and destroying a lot are signed (../shared/cli.md: "lot lifecycle, signed").

The signature's meaning gains `rejected` and `destroyed`; existing signatures keep theirs. Only the CHECK
constraint changes. On SQLite a batch rebuild of `signature` is impossible with foreign keys on (lots
reference their release signature), so the table's stored definition is edited in place: the procedure
SQLite documents for schema changes that leave the stored rows valid (writable_schema, then the schema
version bumped so that every connection reloads it, then an integrity check).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

NAME = 'ck_signature_meaning_vocab'
BEFORE = ('released', 'waived', 'overridden', 'approved', 'recalled')
AFTER = (*BEFORE, 'rejected', 'destroyed')


def _check(values: tuple[str, ...]) -> str:
    return " OR ".join(f"meaning = '{v}'" for v in values)


def _replace_check(new: tuple[str, ...]) -> None:
    connection = op.get_bind()
    if connection.dialect.name != 'sqlite':
        op.drop_constraint(op.f(NAME), 'signature', type_='check')
        op.create_check_constraint(op.f(NAME), 'signature', _check(new))
        return
    table_sql = connection.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'signature'"))
    sql = table_sql.scalar_one()
    wanted = f"CONSTRAINT {NAME} CHECK ({_check(new)})"
    if wanted in sql:
        return  # a downgrade that kept the wider CHECK (see downgrade) and this upgrade again
    # Older registries store the CHECK as `meaning IN (...)`, newer ones as an OR chain (domain/base.py).
    current = re.search(rf"CONSTRAINT {NAME} CHECK \((?:[^()]|\([^()]*\))*\)", sql)
    if current is None:
        raise RuntimeError(f"signature's meaning CHECK was not found; the table reads: {sql}")
    version = connection.execute(sa.text("PRAGMA schema_version")).scalar_one()
    connection.execute(sa.text("PRAGMA writable_schema = ON"))
    connection.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'signature'"),
        {"sql": sql[: current.start()] + wanted + sql[current.end() :]},
    )
    connection.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    connection.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = connection.execute(sa.text("PRAGMA integrity_check")).scalars().all()
    if problems != ['ok']:
        raise RuntimeError(f"the signature table's new definition failed SQLite's integrity check: {problems}")


def upgrade() -> None:
    _replace_check(AFTER)


def downgrade() -> None:
    # Signatures are never deleted, and the old CHECK would refuse the rejections and destructions already
    # signed: a registry holding any keeps the wider CHECK (harmless to the older code, which never writes
    # these meanings).
    signed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM signature WHERE meaning IN ('rejected', 'destroyed')")
    ).scalar()
    if not signed:
        _replace_check(BEFORE)
