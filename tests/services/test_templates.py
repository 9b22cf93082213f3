"""The blank import templates: their example row imports as a user's file would, in both formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_app.services import ServiceContext, ValidationError
from registry_app.services.imports import import_administrations, import_lots
from registry_app.services.templates import TEMPLATE_FORMATS, import_template, save_import_template


@pytest.mark.parametrize("fmt", TEMPLATE_FORMATS)
def test_a_saved_template_imports_cleanly(pharmacist: ServiceContext, tmp_path: Path, fmt: str) -> None:
    lots = save_import_template("lots", fmt, tmp_path / f"lots.{fmt}")
    result = import_lots(pharmacist, lots)
    assert result.ok and result.created == 1, result.errors
    administrations = save_import_template("administrations", fmt, tmp_path / f"administrations.{fmt}")
    result = import_administrations(pharmacist, administrations)
    assert result.ok and result.accepted == 1, result.errors


def test_the_csv_template_opens_in_excel_with_korean(tmp_path: Path) -> None:
    assert import_template("lots", "csv").startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark


def test_refusals_name_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no import template for 'recalls'"):
        import_template("recalls", "csv")
    with pytest.raises(ValidationError, match="not 'ods'"):
        import_template("lots", "ods")
    with pytest.raises(ValidationError, match="not a regular file"):
        save_import_template("lots", "csv", tmp_path)  # a folder
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind
