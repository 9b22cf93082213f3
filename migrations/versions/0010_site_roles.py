"""Per-site roles (issue 23): `site_role` holds a user's role at one site, or at every site of the group
(site_id NULL), granted and revoked (revoked_at), never deleted.

Every existing user gets a group-wide membership with the role they have, so an existing registry works as it
did: each user signs in with the same role at any site. The new rows are recorded in the audit trail by one
entry (like 0008's baseline), so `audit verify` covers them from the start.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

ROLE_CHECK = "role = 'pharmacist' OR role = 'medical_director' OR role = 'inspector' OR role = 'admin'"


def upgrade() -> None:
    op.create_table(
        'site_role',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('granted_at', sa.DateTime(), nullable=False),
        sa.Column('granted_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(ROLE_CHECK, name=op.f('ck_site_role_role_vocab')),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_site_role_user_id_app_user')),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_site_role_site_id_site')),
        sa.ForeignKeyConstraint(['granted_by_id'], ['app_user.id'], name=op.f('fk_site_role_granted_by_id_app_user')),
        sa.ForeignKeyConstraint(['revoked_by_id'], ['app_user.id'], name=op.f('fk_site_role_revoked_by_id_app_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_site_role')),
    )
    op.create_index('ix_site_role_user_site', 'site_role', ['user_id', 'site_id'])
    _group_roles_for_existing_users(op.get_bind())


def _group_roles_for_existing_users(connection: sa.Connection) -> None:
    # The application's own table and hashing, so the entry records exactly what `audit verify` recomputes.
    from sqlalchemy.orm import Session

    from registry_app.domain import SiteRole, utcnow
    from registry_app.domain.base import table_of
    from registry_app.services import audit, audit_records

    users = connection.execute(sa.text("SELECT id, role FROM app_user ORDER BY id")).all()
    if not users:
        return
    now = utcnow()
    table = table_of(SiteRole)
    connection.execute(
        sa.insert(table), [{"user_id": uid, "site_id": None, "role": role, "granted_at": now} for uid, role in users]
    )
    head = connection.execute(sa.text("SELECT value FROM setting WHERE key = 'audit_head'")).scalar()
    if head is None:
        return
    ids: list[int] = []
    digests: list[bytes] = []
    for batch_ids, batch_digests in audit_records.current_hashes(connection, table):
        ids.extend(batch_ids)
        digests.append(batch_digests)
    seq_text, prev = head.split(":")
    seq = int(seq_text) + 1
    session = Session(bind=connection)
    row = {
        "seq": seq,
        "occurred_at": now,
        "user_id": None,
        "username": "system",
        "action": "grant roles",
        "entity_type": "registry",
        "entity_id": None,
        "before": None,
        "after": audit.dump({"site_role": len(ids), "site": "all"}),
        "reason": "upgrade 0010: each user keeps their role, at every site of the group",
        "prev_hash": prev,
        "records": audit_records.store_records(session, seq, {"site_role": (ids, b"".join(digests))}),
    }
    row["entry_hash"] = audit.entry_hash(row)
    session.execute(sa.insert(audit.AuditEntry), [row])
    session.execute(
        sa.text("UPDATE setting SET value = :value WHERE key = 'audit_head'"), {"value": f"{seq}:{row['entry_hash']}"}
    )
    session.flush()


def downgrade() -> None:
    # The memberships' audit entry stays in the trail (entries are never removed); its rows go with the table,
    # and `audit verify` at 0009 does not look for a table it does not know.
    op.drop_index('ix_site_role_user_site', table_name='site_role')
    op.drop_table('site_role')
