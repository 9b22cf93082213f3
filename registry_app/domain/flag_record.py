"""The persisted flags: one row per flag the rules raised on a subject, open until the rule stops holding.

Derived data, kept by rules/table.py inside the transaction of every change (never edited by hand): a row is
raised with the values the rule compared (`facts`), and closed, never deleted, when the rule no longer holds
or holds on other values (then a new row is raised beside it). The closed rows are the flags' history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# The open rows only: what every reader asks for (counts, pages, a subject's flags). Partial on both SQLite and
# PostgreSQL, so the history does not grow the indexes readers walk.
_OPEN = text("closed_at IS NULL")


class FlagRecord(Base):
    __tablename__ = "flag_record"
    __table_args__ = (
        Index(
            "ix_flag_record_open_subject",
            "subject_type",
            "subject_id",
            "code",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        # Pages in evaluate_flags' order (severity highest first, code, subject), continued by key.
        Index(
            "ix_flag_record_open_order",
            "severity_order",
            "code",
            "subject_id",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        # Counts by code (a code fixes the severity and the subject type), waived or not: read from the index
        # alone, never from the rows and their messages.
        Index(
            "ix_flag_record_open_counts",
            "code",
            "waiver_id",
            "due_on",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_flag_record_open_lot", "lot_id", sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_flag_record_history_lot", "lot_id", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    # Minus vocab.SEVERITY_RANK of the severity: ascending is highest severity first, so a page's key is one
    # row-value comparison (severity_order, code, subject_id, id) that the index seeks to.
    severity_order: Mapped[int] = mapped_column(Integer)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(Integer)
    lot_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    facts: Mapped[str] = mapped_column(Text, default="")
    # A flag that holds only from a day on (AE-UNREPORTED: 15 days after the event was recorded): readers compare
    # it with the site's today, so no sweep is needed when the day changes. NULL: holds now.
    due_on: Mapped[date | None] = mapped_column(Date)
    waiver_id: Mapped[int | None] = mapped_column(ForeignKey("waiver.id"))
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What closed it: the action of the change ("amend administrations", "add results", "rebuild flags").
    closed_by: Mapped[str | None] = mapped_column(String(80))
