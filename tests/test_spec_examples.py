"""The example import files under tests/fixtures/formats are the spec's own (shared/formats)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import FORMAT_EXAMPLES

SHARED_FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "formats"


def test_fixture_examples_exist() -> None:
    names = {p.name for p in FORMAT_EXAMPLES.glob("*.csv")}
    assert names == {"lots-example.csv", "administrations-example.csv"}


@pytest.mark.skipif(not SHARED_FORMATS.is_dir(), reason="shared/ is not beside this checkout")
def test_fixture_examples_equal_the_spec() -> None:
    for spec_file in SHARED_FORMATS.glob("*.csv"):
        assert (FORMAT_EXAMPLES / spec_file.name).read_bytes() == spec_file.read_bytes(), spec_file.name
