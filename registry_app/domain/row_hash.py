"""A record's row hash for the audit trail (issue 17): the canonical text of a row, from its stored values.

The canonical text of a row is `json.dumps(values, ensure_ascii=False, separators=(",", ":"))` of the list of
its values in the order of HASHED_COLUMNS (a fixed, documented list per table: the columns in name order, and
any column a later revision adds appended at the end), with trailing nulls left out (so a column added later,
empty on old rows, does not change their hashes), each value as:

- text as it is; integers as JSON integers; booleans as 0 or 1; null as null;
- numbers of REAL or NUMERIC columns (quantities, results, temperatures) as a JSON string holding the exact
  decimal without exponent or trailing zeros: "0.1", "20", "15000000000", "0" (a double as the shortest
  decimal that names it, as Python's repr prints it);
- times as the string "YYYY-MM-DD HH:MM:SS.ffffff", dates as "YYYY-MM-DD";
- bytes (none hashed so far) as the hex SHA-256 of the bytes.

The row's hash is the SHA-256 of the UTF-8 of that text. A JSON array rather than an object, and values that
are already text on SQLite (which stores times and dates as that text), keep the per-row work to one C-level
encoding: hashing a million rows takes seconds, and a standard-library script can reproduce every hash.

Used on both sides: the writers of bulk rows (the demo, imports) hash the values they are about to store, and
`audit verify` hashes the rows as read back with the database driver's own values (no ORM conversion).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, LargeBinary, Numeric, String, Table

from .exact import to_decimal

# The hashed columns of each audited table, in the order their values are hashed. Append a column a later
# revision adds at the end of its table's tuple (never insert or reorder: every stored hash would change);
# tests/security/test_audit_records.py checks that every column is here or in SKIPPED.
HASHED_COLUMNS: dict[str, tuple[str, ...]] = {
    "site": ("code", "created_at", "id", "jurisdiction", "name"),
    "manufacturer": ("country", "created_at", "id", "name", "name_key"),
    "supplier": ("created_at", "id", "name", "name_key"),
    "product": (
        "created_at",
        "donor_use",
        "gtin",
        "id",
        "isolation_method",
        "manufacturer_id",
        "name",
        "name_key",
        "pn_species",
        "presentation",
        "product_type",
        "source",
        "source_description",
        "spec_concentration_tolerance_pct",
        "spec_endotoxin_max",
        "spec_size_max_nm",
        "spec_size_min_nm",
        "storage_form",
        "unit",
    ),
    "product_regulatory_status": (
        "evidence_document_id",
        "id",
        "jurisdiction",
        "product_id",
        "reference",
        "status",
        "updated_at",
        "verified_by",
        "verified_on",
    ),
    "lot": (
        "coa_ref",
        "created_at",
        "destroyed_reason",
        "donor_eligibility_ref",
        "expiry_date",
        "id",
        "import_batch",
        "labelled_particles_per_ml",
        "lot_number",
        "manufacture_date",
        "package_intact",
        "product_id",
        "quantity_administered",
        "quantity_destroyed",
        "quantity_received",
        "recall_at",
        "recall_date",
        "recall_reason",
        "receipt_temperature_c",
        "received_by",
        "received_date",
        "rejected_on",
        "release_signature_id",
        "released_at",
        "released_on",
        "serial",
        "site_id",
        "status",
        "status_note",
        "supplier_id",
    ),
    "characterization_result": (
        "document_id",
        "id",
        "laboratory",
        "lot_id",
        "marker",
        "measured_by",
        "method",
        "parameter",
        "recorded_at",
        "result",
        "source_ref",
        "tested_on",
        "unit",
        "value",
        "void_reason",
        "voided_at",
    ),
    "document": (
        "file_name",
        "id",
        "kind",
        "lot_id",
        "media_type",
        "product_id",
        "reference",
        "sha256",
        "size_bytes",
        "supersedes_id",
        "uploaded_at",
        "uploaded_by_id",
    ),
    "temperature_excursion": (
        "duration_minutes",
        "ended_at",
        "id",
        "lot_id",
        "max_c",
        "min_c",
        "notes",
        "occurred_at",
        "reading_c",
        "recorded_at",
        "resolution",
        "resolution_note",
        "resolved_at",
        "resolved_by_id",
    ),
    "app_user": (
        "active",
        "created_at",
        "failed_attempts",
        "full_name",
        "id",
        "is_demo",
        "locked",
        "password_hash",
        "role",
        "username",
    ),
    "site_role": (
        "granted_at",
        "granted_by_id",
        "id",
        "revoked_at",
        "revoked_by_id",
        "role",
        "site_id",
        "user_id",
    ),
    "signature": ("content_hash", "id", "meaning", "signed_at", "signer_name", "subject_id", "subject_type", "user_id"),
    "waiver": (
        "code",
        "flag_facts",
        "flag_message",
        "id",
        "reason",
        "revoked_at",
        "signature_id",
        "subject_id",
        "subject_type",
        "waived_at",
        "waived_by_id",
    ),
    "administration": (
        "administered_at",
        "amendment_reason",
        "amends_id",
        "body_areas",
        "contraindications",
        "device_procedure",
        "id",
        "import_batch",
        "ind_reference",
        "lot_id",
        "notes",
        "notified_how",
        "override_reason",
        "override_signature_id",
        "patient_notified_on",
        "patient_ref",
        "practitioner",
        "quantity",
        "recorded_at",
        "recorded_by_id",
        "route",
        "screening_done",
        "superseded",
        "time_recorded",
        "void_reason",
        "voided_at",
        "volume_ml",
    ),
    "adverse_event": (
        "administration_id",
        "description",
        "event_type",
        "id",
        "not_reportable_reason",
        "onset_date",
        "recorded_at",
        "recorded_by_id",
        "report_reference",
        "report_status",
        "reported_on",
        "severity",
    ),
}
# Left out of the hash, and why: the file's bytes are covered by its sha256 column, which is hashed.
SKIPPED: dict[str, frozenset[str]] = {"document": frozenset({"content"})}

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_encode: Callable[[Any], str] = _encoder.encode
# CPython's C encoder, which encode() builds anew on every call (a third of a row's hashing time): built once.
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
if _make_c_encoder is not None:
    _iterencode = _make_c_encoder(
        None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )

    def _encode(values: Any) -> str:
        return "".join(_iterencode(values, 0))


_sha256 = hashlib.sha256


def number_text(value: Any) -> str:
    """A number as hashed: the exact decimal, no exponent, no trailing zeros; "0" for any zero."""
    if type(value) is float and value:
        text = repr(value)
        if "e" not in text and "n" not in text:  # plain notation (not 1e-05, inf, nan): already the decimal
            return text[:-2] if text.endswith(".0") else text
    number = to_decimal(value)
    if number is None or number == 0:
        return "0"
    return format(number.normalize(), "f")


def time_text(value: Any) -> str:
    return value if type(value) is str else value.isoformat(" ", "microseconds")


def day_text(value: Any) -> str:
    return value if type(value) is str else value.isoformat()


def _flag(value: Any) -> int:
    return int(value)


def _text(value: Any) -> str:
    return value if type(value) is str else str(value)


def _bytes_text(value: Any) -> Any:
    return hashlib.sha256(value).hexdigest() if isinstance(value, bytes | bytearray | memoryview) else value


def _converter(column_type: Any, stored_as_text: bool) -> Callable[[Any], Any] | None:
    """How a value of this column type becomes its hashed form; None when the driver's value already is it.
    `stored_as_text`: the values come from SQLite's driver, which gives times, dates and booleans as
    stored (text, 0/1) already."""
    if isinstance(column_type, Boolean):
        return None if stored_as_text else _flag
    if isinstance(column_type, DateTime):
        return None if stored_as_text else time_text
    if isinstance(column_type, Date):
        return None if stored_as_text else day_text
    if isinstance(column_type, Float | Numeric) or isinstance(getattr(column_type, "impl_instance", None), Numeric):
        return number_text
    if isinstance(column_type, LargeBinary):
        return _bytes_text
    return None


def _convert_any(column_type: Any, value: Any) -> Any:
    """A value of any type the driver accepts, in hashed form (as the database would return and hash it)."""
    if value is None:
        return None
    converter = _converter(column_type, stored_as_text=False)
    if converter is not None:
        return converter(value)
    if isinstance(column_type, String):
        return _text(value)  # SQLite stores a number given for a text column as its text
    if isinstance(column_type, Integer):
        return int(value)
    return value


def trim(values: list[Any]) -> list[Any]:
    while values and values[-1] is None:
        values.pop()
    return values


def canonical_text(values: list[Any]) -> str:
    """The text hashed for a row whose values are already in hashed form, in HASHED_COLUMNS order."""
    return _encode(trim(values))


class RowHasher:
    """Hashes rows of one table, their values as the driver of `dialect` stores and returns them. Either rows
    read back (values in HASHED_COLUMNS order), or, with `source`, rows about to be written: tuples in the
    order of `source`, the other columns taking `constants` (values every row shares, of any type the driver
    accepts), the database's defaults, or null."""

    def __init__(
        self,
        table: Table,
        dialect: str,
        source: Sequence[str] | None = None,
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        names = HASHED_COLUMNS[table.name]
        self.getter: Callable[[Any], Any] | None = None
        self.tail: tuple[Any, ...] = ()
        # Values come in the form the database's driver stores and returns them (on SQLite: times, dates and
        # booleans already as their text and 0/1), so only numbers (and bytes) are converted row by row.
        converters = [_converter(table.c[name].type, dialect == "sqlite") for name in names]
        if source is not None:
            given = dict(constants or {})
            for column in table.columns:
                default = column.server_default
                if column.name not in given and column.name not in source and default is not None:
                    arg = getattr(default, "arg", None)
                    given[column.name] = getattr(arg, "text", arg)
            extra = [name for name in names if name not in source]
            # The shared values and defaults may be any Python value the driver accepts: converted once here.
            self.tail = tuple(_convert_any(table.c[name].type, given.get(name)) for name in extra)
            positions = [source.index(name) if name in source else len(source) + extra.index(name) for name in names]
            self.getter = itemgetter(*positions)
            converters = [
                convert if positions[index] < len(source) else None for index, convert in enumerate(converters)
            ]
        self.converters = [(index, convert) for index, convert in enumerate(converters) if convert is not None]

    def digests(self, rows: Iterable[tuple[Any, ...]]) -> bytes:
        """The 32-byte SHA-256 of each row's canonical text, in order, end to end."""
        getter, tail, converters = self.getter, self.tail, self.converters
        out: list[bytes] = []
        append = out.append
        for row in rows:
            values = list(row) if getter is None else list(getter(row + tail))
            for index, convert in converters:
                value = values[index]
                if value is not None:
                    values[index] = convert(value)
            while values and values[-1] is None:
                values.pop()
            append(_sha256(_encode(values).encode()).digest())
        return b"".join(out)


def row_digest(values: list[Any]) -> bytes:
    return _sha256(canonical_text(values).encode()).digest()


__all__ = ["HASHED_COLUMNS", "SKIPPED", "RowHasher", "canonical_text", "day_text", "number_text", "row_digest"]
