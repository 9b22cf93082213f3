"""Sites, manufacturers, suppliers, products and their regulatory status per jurisdiction."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow, vocab_check
from .exact import Exact
from .vocab import (
    BiologicalSource,
    DonorUse,
    IsolationMethod,
    PnSpecies,
    Presentation,
    ProductType,
    RegulatoryStatus,
    Route,
    StorageForm,
    Unit,
)


class Site(Base):
    """A clinic. Its jurisdiction decides which regulatory status the flag rules read."""

    __tablename__ = "site"
    __table_args__ = (CheckConstraint("length(jurisdiction) = 2", name="jurisdiction_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Setting(Base):
    """Registry-wide key/value settings (current site, pseudonymisation key, ...)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Manufacturer(Base):
    __tablename__ = "manufacturer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Supplier(Base):
    __tablename__ = "supplier"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Product(Base):
    """A product as labelled: type, origin, presentation, labelled routes and its own specification.

    The spec_* columns override the default limits of rules.md when set.
    """

    __tablename__ = "product"
    __table_args__ = (
        vocab_check("product_type", ProductType),
        vocab_check("presentation", Presentation),
        vocab_check("storage_form", StorageForm),
        vocab_check("unit", Unit),
        vocab_check("source", BiologicalSource),
        vocab_check("donor_use", DonorUse),
        vocab_check("isolation_method", IsolationMethod),
        vocab_check("pn_species", PnSpecies),
        CheckConstraint("gtin IS NULL OR length(gtin) BETWEEN 8 AND 14", name="gtin_length"),
        CheckConstraint("spec_endotoxin_max IS NULL OR spec_endotoxin_max >= 0", name="spec_endotoxin"),
        CheckConstraint(
            "spec_size_min_nm IS NULL OR spec_size_max_nm IS NULL OR spec_size_min_nm <= spec_size_max_nm",
            name="spec_size_range",
        ),
        CheckConstraint(
            "spec_concentration_tolerance_pct IS NULL OR spec_concentration_tolerance_pct >= 0",
            name="spec_tolerance",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    product_type: Mapped[str] = mapped_column(String(20))
    manufacturer_id: Mapped[int | None] = mapped_column(ForeignKey("manufacturer.id"), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14), index=True)
    presentation: Mapped[str | None] = mapped_column(String(30))
    storage_form: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str | None] = mapped_column(String(30))
    source_description: Mapped[str | None] = mapped_column(Text)
    donor_use: Mapped[str | None] = mapped_column(String(20))
    isolation_method: Mapped[str | None] = mapped_column(String(40))
    pn_species: Mapped[str | None] = mapped_column(String(30))
    spec_endotoxin_max: Mapped[Decimal | None] = mapped_column(Exact)
    spec_size_min_nm: Mapped[Decimal | None] = mapped_column(Exact)
    spec_size_max_nm: Mapped[Decimal | None] = mapped_column(Exact)
    spec_concentration_tolerance_pct: Mapped[Decimal | None] = mapped_column(Exact)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    manufacturer: Mapped[Manufacturer | None] = relationship()
    labelled_routes: Mapped[list[ProductRoute]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductRoute.route"
    )
    regulatory_statuses: Mapped[list[ProductRegulatoryStatus]] = relationship(
        back_populates="product", order_by="ProductRegulatoryStatus.jurisdiction"
    )


class ProductRoute(Base):
    """A route the product's label permits."""

    __tablename__ = "product_route"
    __table_args__ = (vocab_check("route", Route),)

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    route: Mapped[str] = mapped_column(String(40), primary_key=True)

    product: Mapped[Product] = relationship(back_populates="labelled_routes")


class ProductRegulatoryStatus(Base):
    """The product's legal status in one jurisdiction, with the evidence that it was verified."""

    __tablename__ = "product_regulatory_status"
    __table_args__ = (
        UniqueConstraint("product_id", "jurisdiction"),
        vocab_check("status", RegulatoryStatus),
        CheckConstraint("length(jurisdiction) = 2", name="jurisdiction_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    jurisdiction: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str | None] = mapped_column(String(200))
    evidence_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    verified_on: Mapped[date | None] = mapped_column(Date)
    verified_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="regulatory_statuses")
