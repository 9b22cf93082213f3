"""Lots as received, their characterization results, documents and temperature excursions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow, vocab_check
from .catalog import Product, Supplier
from .exact import Exact, to_decimal
from .vocab import (
    MARKERS,
    METHODS,
    QUALITATIVE_RESULTS,
    DestroyReason,
    DocumentKind,
    ExcursionResolution,
    LotStatus,
    MeasuredBy,
    Parameter,
)


class Lot(Base):
    """One lot of one product as the clinic received it.

    `quantity_administered` is kept by the services in the same transaction as each administration, so stock
    on hand (received - administered - destroyed) reads without an aggregate; it may exceed what was received
    for imported history, which the USE-OVERDRAWN rule reports.
    """

    __tablename__ = "lot"
    __table_args__ = (
        # A lot is one site's: two clinics of a group may hold the same manufacturer's lot (migration 0011). Lots of
        # no site (registries from before sites) count as one site, which a plain UNIQUE would not (NULLs differ).
        Index("ux_lot_product_lot_number_site", "product_id", "lot_number", text("coalesce(site_id, 0)"), unique=True),
        vocab_check("status", LotStatus),
        vocab_check("destroyed_reason", DestroyReason),
        CheckConstraint("quantity_received > 0", name="quantity_received_positive"),
        CheckConstraint("quantity_administered >= 0", name="quantity_administered_nonneg"),
        CheckConstraint("quantity_destroyed >= 0", name="quantity_destroyed_nonneg"),
        CheckConstraint("labelled_particles_per_ml IS NULL OR labelled_particles_per_ml > 0", name="labelled_claim"),
        CheckConstraint("length(lot_number) > 0", name="lot_number_present"),
        CheckConstraint("status <> 'recalled' OR recall_date IS NOT NULL", name="recall_has_date"),
        CheckConstraint("status <> 'destroyed' OR destroyed_reason IS NOT NULL", name="destroy_has_reason"),
        Index("ix_lot_expiry_date", "expiry_date"),
        Index("ix_lot_status", "status"),
        # The lot number with the received date: a search by lot number sorted the default way (newest received
        # first) reads the index alone (35,000 matches: 76 -> 16 ms on 1M lots).
        Index("ix_lot_lot_number_received", "lot_number", "received_date"),
        # The lots list's default order (newest received first) and its sort, at a million lots.
        Index("ix_lot_received_date", "received_date"),
        # Sorting the lots list by stock on hand: without it a million-lot sort scanned and sorted every lot.
        Index("ix_lot_on_hand", text("(quantity_received - quantity_administered - quantity_destroyed)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("supplier.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(80))
    serial: Mapped[str | None] = mapped_column(String(80))
    expiry_date: Mapped[date | None] = mapped_column(Date)
    manufacture_date: Mapped[date | None] = mapped_column(Date)
    received_date: Mapped[date] = mapped_column(Date)
    received_by: Mapped[str | None] = mapped_column(String(200))
    quantity_received: Mapped[Decimal] = mapped_column(Exact)
    quantity_administered: Mapped[Decimal] = mapped_column(Exact, default=Decimal(0), server_default="0")
    quantity_destroyed: Mapped[Decimal] = mapped_column(Exact, default=Decimal(0), server_default="0")
    status: Mapped[str] = mapped_column(String(20), default=LotStatus.QUARANTINE.value)
    receipt_temperature_c: Mapped[float | None] = mapped_column(Float)
    package_intact: Mapped[bool | None] = mapped_column(Boolean)
    donor_eligibility_ref: Mapped[str | None] = mapped_column(String(200))
    coa_ref: Mapped[str | None] = mapped_column(String(200))
    labelled_particles_per_ml: Mapped[Decimal | None] = mapped_column(Exact)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The site's local dates of release and rejection, which the rules compare with the (local) dates of
    # administrations: released_at is a UTC instant, whose date differs from the local one near midnight. A
    # lot rejected after its release was usable until the day it was rejected.
    released_on: Mapped[date | None] = mapped_column(Date)
    rejected_on: Mapped[date | None] = mapped_column(Date)
    release_signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))
    recall_date: Mapped[date | None] = mapped_column(Date)
    # The moment (local wall-clock, as administered_at) the recall starts; None when it was given as a date
    # alone, which starts at the beginning of recall_date (rules.md, USE-RECALLED).
    recall_at: Mapped[datetime | None] = mapped_column(DateTime)
    recall_reason: Mapped[str | None] = mapped_column(Text)
    destroyed_reason: Mapped[str | None] = mapped_column(String(30))
    status_note: Mapped[str | None] = mapped_column(Text)
    import_batch: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    product: Mapped[Product] = relationship()
    supplier: Mapped[Supplier | None] = relationship()

    @property
    def quantity_on_hand(self) -> Decimal:
        # Exact: 0.3 - 0.1 - 0.2 is 0, never -5.55e-17 (values may still be floats before a flush).
        return (
            to_decimal(self.quantity_received)
            - to_decimal(self.quantity_administered)
            - to_decimal(self.quantity_destroyed)
        )


class CharacterizationResult(Base):
    """One measured parameter of one lot: a number with its unit, or a qualitative result.

    Results are never edited: a correction voids the old row (voided_at, void_reason) and adds a new one.
    """

    __tablename__ = "characterization_result"
    __table_args__ = (
        vocab_check("parameter", Parameter),
        vocab_check("method", tuple(sorted(METHODS))),
        vocab_check("result", tuple(sorted(QUALITATIVE_RESULTS))),
        vocab_check("marker", MARKERS),
        vocab_check("measured_by", MeasuredBy),
        CheckConstraint("value IS NOT NULL OR result IS NOT NULL", name="value_or_result"),
        CheckConstraint("parameter <> 'marker' OR marker IS NOT NULL", name="marker_named"),
        CheckConstraint("value IS NULL OR value >= 0", name="value_nonneg"),
        Index("ix_characterization_result_lot_parameter", "lot_id", "parameter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    parameter: Mapped[str] = mapped_column(String(30))
    method: Mapped[str | None] = mapped_column(String(20))
    marker: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[Decimal | None] = mapped_column(Exact)
    unit: Mapped[str | None] = mapped_column(String(20))
    result: Mapped[str | None] = mapped_column(String(20))
    measured_by: Mapped[str | None] = mapped_column(String(20))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    # Who tested and when, as the certificate states it (recorded_at is when it was typed in).
    laboratory: Mapped[str | None] = mapped_column(String(200))
    tested_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)


class Document(Base):
    """A file (stored with its SHA-256) or a reference to one, attached to a product or a lot.

    Never overwritten: a new version is a new row pointing at the one it supersedes.
    """

    __tablename__ = "document"
    __table_args__ = (
        vocab_check("kind", DocumentKind),
        CheckConstraint("product_id IS NOT NULL OR lot_id IS NOT NULL", name="has_subject"),
        CheckConstraint("content IS NULL OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL)", name="content_hashed"),
        CheckConstraint("content IS NOT NULL OR reference IS NOT NULL", name="content_or_reference"),
        CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name="size_nonneg"),
        Index("ix_document_lot_id", "lot_id"),
        Index("ix_document_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    file_name: Mapped[str | None] = mapped_column(String(260))
    media_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    reference: Mapped[str | None] = mapped_column(String(200))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TemperatureExcursion(Base):
    """Storage out of range. Open until resolved (use, quarantine or destroy) by someone who judged it."""

    __tablename__ = "temperature_excursion"
    __table_args__ = (
        vocab_check("resolution", ExcursionResolution),
        CheckConstraint("duration_minutes IS NULL OR duration_minutes >= 0", name="duration_nonneg"),
        CheckConstraint("resolution IS NULL OR resolved_at IS NOT NULL", name="resolution_dated"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    reading_c: Mapped[float] = mapped_column(Float)  # the reading that decides (furthest outside the range)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    # A data logger's view, when recorded as one: the end of the span and its extremes.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    min_c: Mapped[float | None] = mapped_column(Float)
    max_c: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
