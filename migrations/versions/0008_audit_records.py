"""The audit trail covers the records (issue 17): each entry commits the content hash of every row it created
or changed.

- audit_entry.records: per audited table, the number of rows the entry recorded and the SHA-256 of their
  stored hashes; part of the entry's hash (entries before this revision have none and keep their hashes).
- audit_row_hashes: the row hashes themselves, packed (services/audit_records.py).
- A registry that already holds records gets one "record baseline" entry that records every audited row as it
  is now, so `audit verify` can reconcile them from here on (what happened before is covered only by the
  entries' before/after values, as it was).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_entry", sa.Column("records", sa.Text(), nullable=True))
    op.create_table(
        "audit_row_hashes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("record_ids", sa.LargeBinary(), nullable=False),
        sa.Column("row_hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_row_hashes")),
    )
    op.create_index("ix_audit_row_hashes_seq", "audit_row_hashes", ["seq"])
    op.create_index("ix_audit_row_hashes_table_seq", "audit_row_hashes", ["table_name", "seq"])
    _baseline(op.get_bind())


def _baseline(connection: sa.Connection) -> None:
    # The application's own hashing, so the baseline is exactly what `audit verify` recomputes; only the
    # columns this revision has are read (a later revision's columns are empty on these rows, and empty
    # columns are not part of a row's hash).
    from sqlalchemy.orm import Session

    from registry_app.domain import utcnow
    from registry_app.services import audit, audit_records

    head = connection.execute(sa.text("SELECT value FROM setting WHERE key = 'audit_head'")).scalar()
    if head is None:
        return
    inspector = sa.inspect(connection)
    found = {}
    for name in audit_records.AUDITED:
        if not inspector.has_table(name):
            continue  # a table a later revision creates (site_role, 0010), which records its own rows
        table = audit_records.audited_table(name)
        present = {c["name"] for c in inspector.get_columns(name)}
        ids: list[int] = []
        digests: list[bytes] = []  # per batch, end to end
        for batch_ids, batch_digests in audit_records.current_hashes(connection, table, present=present):
            ids.extend(batch_ids)
            digests.append(batch_digests)
        if ids:
            found[name] = (ids, b"".join(digests))
    if not found:
        return
    seq_text, prev = head.split(":")
    seq = int(seq_text) + 1
    session = Session(bind=connection)
    row = {
        "seq": seq,
        "occurred_at": utcnow(),
        "user_id": None,
        "username": "system",
        "action": "record baseline",
        "entity_type": "registry",
        "entity_id": None,
        "before": None,
        "after": audit.dump({name: len(ids) for name, (ids, _) in found.items()}),
        "reason": "upgrade 0008: the trail records the rows as they are from here on",
        "prev_hash": prev,
        "records": audit_records.store_records(session, seq, found),
    }
    row["entry_hash"] = audit.entry_hash(row)
    session.execute(sa.insert(audit.AuditEntry), [row])
    session.execute(
        sa.text("UPDATE setting SET value = :value WHERE key = 'audit_head'"), {"value": f"{seq}:{row['entry_hash']}"}
    )
    session.flush()


def downgrade() -> None:
    op.drop_index("ix_audit_row_hashes_table_seq", table_name="audit_row_hashes")
    op.drop_index("ix_audit_row_hashes_seq", table_name="audit_row_hashes")
    op.drop_table("audit_row_hashes")
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("records")
