"""Administrations to patients and the adverse events that follow them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow, vocab_check
from .exact import Exact
from .lots import Lot
from .vocab import AdverseEventSeverity, AdverseEventType, ReportStatus, Route


class Administration(Base):
    """One use of a lot on a patient, identified only by the clinic's pseudonymous patient reference.

    `administered_at` is the clinic's local wall-clock time, as the practitioner records it. List cells
    (body_areas, contraindications) are stored `;`-joined in vocabulary order. A correction never edits the
    row: it adds a new row (`amends_id`) and marks this one superseded; a void marks it voided. Rules and stock
    read only the current rows (neither superseded nor voided).
    """

    __tablename__ = "administration"
    __table_args__ = (
        vocab_check("route", Route),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
        CheckConstraint("volume_ml IS NULL OR volume_ml > 0", name="volume_positive"),
        Index("ix_administration_lot_id_administered_at", "lot_id", "administered_at"),
        Index("ix_administration_patient_ref", "patient_ref"),
        Index("ix_administration_administered_at", "administered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    administered_at: Mapped[datetime] = mapped_column(DateTime)
    # False when only the date was recorded (an imported log with dates alone): administered_at then holds
    # midnight, which is not a time anyone recorded, and is shown as the date alone.
    time_recorded: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    patient_ref: Mapped[str | None] = mapped_column(String(80))
    route: Mapped[str] = mapped_column(String(40))
    body_areas: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[Decimal | None] = mapped_column(Exact)
    volume_ml: Mapped[Decimal | None] = mapped_column(Exact)
    practitioner: Mapped[str | None] = mapped_column(String(200))
    device_procedure: Mapped[str | None] = mapped_column(String(200))
    ind_reference: Mapped[str | None] = mapped_column(String(100))
    screening_done: Mapped[bool | None] = mapped_column(Boolean)
    contraindications: Mapped[str | None] = mapped_column(String(300))
    notes: Mapped[str | None] = mapped_column(Text)
    override_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    override_reason: Mapped[str | None] = mapped_column(Text)
    patient_notified_on: Mapped[date | None] = mapped_column(Date)
    notified_how: Mapped[str | None] = mapped_column(String(200))
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("administration.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    import_batch: Mapped[str | None] = mapped_column(String(64))

    lot: Mapped[Lot] = relationship()


class AdverseEvent(Base):
    """An adverse event after an administration, and where it was reported."""

    __tablename__ = "adverse_event"
    __table_args__ = (
        vocab_check("event_type", AdverseEventType),
        vocab_check("severity", AdverseEventSeverity),
        vocab_check("report_status", ReportStatus),
        CheckConstraint(
            "report_status <> 'not_reportable' OR not_reportable_reason IS NOT NULL", name="not_reportable_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administration.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(30))
    onset_date: Mapped[date | None] = mapped_column(Date)
    severity: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    report_status: Mapped[str] = mapped_column(String(30), default=ReportStatus.NOT_REPORTED.value)
    report_reference: Mapped[str | None] = mapped_column(String(200))
    not_reportable_reason: Mapped[str | None] = mapped_column(Text)
    reported_on: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    administration: Mapped[Administration] = relationship()
