"""The file formats a user meets: the tables an import reads, the GS1 scans a receipt parses, the export
kinds and formats a report writes, and the neutralised CSV cells every CSV output uses.

Reading and parsing live in importers/, writing in reports/; the desktop and the CLI take them from here.
"""

from __future__ import annotations

from registry_app.importers.gs1 import ScanError, parse_scan
from registry_app.importers.tabular import Table, TableError, read_table
from registry_app.reports.data import EXPORT_KINDS
from registry_app.reports.exports import CSV_ENCODING, FORMATS, csv_cells

__all__ = [
    "CSV_ENCODING",
    "EXPORT_KINDS",
    "FORMATS",
    "ScanError",
    "Table",
    "TableError",
    "csv_cells",
    "parse_scan",
    "read_table",
]
