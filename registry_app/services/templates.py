"""Blank import templates: the lot and administration formats' header row and one example row, as CSV or XLSX.

Shipped as package data (resources/templates); a user saves one, fills it in the spreadsheet they know and
imports it. Nothing in the registry changes, so no role is needed and nothing is audited.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from registry_app.packaged import resource_files
from registry_app.services.errors import ValidationError

TEMPLATE_KINDS = ("lots", "administrations")
TEMPLATE_FORMATS = ("csv", "xlsx")


def template_name(kind: str, fmt: str) -> str:
    if kind not in TEMPLATE_KINDS:
        raise ValidationError(f"no import template for {kind!r}: choose {' or '.join(TEMPLATE_KINDS)}", "kind")
    if fmt not in TEMPLATE_FORMATS:
        raise ValidationError(f"templates come as {' or '.join(TEMPLATE_FORMATS)}, not {fmt!r}", "format")
    return f"{kind}-template.{fmt}"


def import_template(kind: str, fmt: str) -> bytes:
    name = template_name(kind, fmt)
    return resource_files().joinpath("templates", name).read_bytes()


def save_import_template(kind: str, fmt: str, path: str | Path) -> Path:
    """Write the template to `path` whole or not at all (a temporary file renamed into place)."""
    content = import_template(kind, fmt)
    target = Path(path)
    if target.exists() and not target.is_file():
        raise ValidationError(f"{target} is not a regular file; choose a file name", "path")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
