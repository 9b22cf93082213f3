"""The registry's records as SQLAlchemy 2 typed models, and its controlled vocabularies. No Qt here."""

from .base import Base, name_key, utcnow
from .catalog import Manufacturer, Product, ProductRegulatoryStatus, ProductRoute, Setting, Site, Supplier
from .flag_record import FlagRecord
from .lots import CharacterizationResult, Document, Lot, TemperatureExcursion
from .result_facts import LotResultFacts, refresh_lot_result_facts
from .trust import AuditEntry, AuditRowHashes, Signature, SiteRole, User, Waiver
from .use import Administration, AdverseEvent

__all__ = [
    "Administration",
    "AdverseEvent",
    "AuditEntry",
    "AuditRowHashes",
    "Base",
    "CharacterizationResult",
    "Document",
    "FlagRecord",
    "Lot",
    "LotResultFacts",
    "Manufacturer",
    "Product",
    "ProductRegulatoryStatus",
    "ProductRoute",
    "Setting",
    "Signature",
    "Site",
    "SiteRole",
    "Supplier",
    "TemperatureExcursion",
    "User",
    "Waiver",
    "name_key",
    "refresh_lot_result_facts",
    "utcnow",
]
