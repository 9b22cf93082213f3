"""Write the blank import templates (resources/templates/) from ../shared/formats' example files.

Each template holds the format's header row and its first example row, as CSV (UTF-8 with BOM, so Excel
opens Korean product names correctly) and as XLSX (the header bold and frozen). Run by a developer when
the import format changes (`python3 resources/packaging/make_templates.py [SHARED_FORMATS_DIR]`); the
results are committed and shipped as package data.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

RESOURCES = Path(__file__).resolve().parents[1]
EXAMPLES = {"lots": "lots-example.csv", "administrations": "administrations-example.csv"}


def main() -> int:
    formats = Path(sys.argv[1]) if len(sys.argv) > 1 else RESOURCES.parent.parent / "shared" / "formats"
    for kind, example in EXAMPLES.items():
        with open(formats / example, encoding="utf-8-sig", newline="") as handle:
            header, first, *_ = list(csv.reader(handle))
        target = RESOURCES / "templates" / f"{kind}-template"
        with open(target.with_suffix(".csv"), "w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle, lineterminator="\r\n").writerows([header, first])
        book = Workbook()
        sheet = book.active
        sheet.title = kind
        sheet.append(header)
        sheet.append(first)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        book.save(target.with_suffix(".xlsx"))
        print(f"{target}.csv/.xlsx: {len(header)} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
